package garbd

import (
	"github.com/goha-ha/goha/internal/proc"

	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	lineConnected = "2026-11-23 12:00:01.000  INFO: gcomm: connected\n"
	linePrimary   = "2026-11-23 12:00:01.100  INFO: New COMPONENT: primary = yes, bootstrap = no, my_idx = 1, memb_num = 2\n"
	lineSynced    = "2026-11-23 12:00:01.200  INFO: Shifting JOINED -> SYNCED (TO: 2)\n"
	lineNonPrim   = "2026-11-23 12:05:00.000  INFO: New COMPONENT: primary = no, bootstrap = no, my_idx = 0, memb_num = 1\n"
)

// TestFollow reads a growing log in steps, as successive monitors do.
func TestFollow(t *testing.T) {
	old := "2026-11-22 10:00:00.000  INFO: New COMPONENT: primary = no, bootstrap = no, my_idx = 0, memb_num = 1\n"
	log := bytes.NewReader(nil)
	var p Progress
	step := func(content string, offset int64) int64 {
		t.Helper()
		log.Reset([]byte(content))
		off, err := follow(log, offset, &p)
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	// A previous run's lines before the start offset are not read.
	content := old
	off := step(content, int64(len(old)))
	if off != int64(len(old)) || p != (Progress{}) {
		t.Fatalf("empty run: offset %d, %+v", off, p)
	}
	// A line still being written is left for the next read.
	content += lineConnected + linePrimary[:30]
	off = step(content, off)
	if want := int64(len(old) + len(lineConnected)); off != want || !p.Connected || p.Component != ComponentUnknown {
		t.Fatalf("partial line: offset %d (want %d), %+v", off, want, p)
	}
	content = old + lineConnected + linePrimary + lineSynced
	off = step(content, off)
	if off != int64(len(content)) || !p.Joined() {
		t.Fatalf("joined: offset %d of %d, %+v", off, len(content), p)
	}
	// copytruncate: the file is shorter than the offset, read from 0.
	off = step(lineNonPrim, off)
	if off != int64(len(lineNonPrim)) || p.Component != NonPrimary {
		t.Fatalf("after truncation: offset %d, %+v", off, p)
	}
}

// TestFollowBounded reads at most maxLogRead bytes and drops the line cut
// in half at the start of that window.
func TestFollowBounded(t *testing.T) {
	filler := "2026-11-23 12:05:01.000  INFO: connection to peer 00000000-0000 timed out\n"
	var b strings.Builder
	b.WriteString(lineConnected + linePrimary + lineSynced)
	for b.Len() < maxLogRead+len(filler)*3 {
		b.WriteString(filler)
	}
	b.WriteString(lineNonPrim)
	var p Progress
	off, err := follow(strings.NewReader(b.String()), 0, &p)
	if err != nil {
		t.Fatal(err)
	}
	if off != int64(b.Len()) || p.Component != NonPrimary || p.Connected {
		t.Fatalf("offset %d of %d, %+v: want only the window read", off, b.Len(), p)
	}
}

func TestSplitCmdline(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{"/usr/bin/garbd\x00--group\x00prod\x00", []string{"/usr/bin/garbd", "--group", "prod"}},
		{"/usr/bin/garbd\x00--options\x00a=b; c=d\x00", []string{"/usr/bin/garbd", "--options", "a=b; c=d"}},
		{"\x00", nil},
		{"", nil},
	} {
		if got := splitCmdline([]byte(tc.raw)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitCmdline(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestPidFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "g.pid")
	if pid, err := proc.ReadPidFile(path); pid != 0 || err != nil {
		t.Fatalf("missing pid file: %d, %v", pid, err)
	}
	if err := proc.WritePidFile(path, 4321); err != nil {
		t.Fatal(err)
	}
	if pid, err := proc.ReadPidFile(path); pid != 4321 || err != nil {
		t.Fatalf("read back: %d, %v", pid, err)
	}
	for _, junk := range []string{"", "garbage\n", "-5\n"} {
		os.WriteFile(path, []byte(junk), 0o644)
		if pid, err := proc.ReadPidFile(path); pid != 0 || err != nil {
			t.Errorf("pid file %q: %d, %v; want 0, nil", junk, pid, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestRunState(t *testing.T) {
	c := Config{Pid: filepath.Join(t.TempDir(), "g.pid")}
	s := runState{Pid: 77, Offset: 1234, Progress: Progress{Component: Primary, State: "SYNCED", Members: 3}}
	if err := saveState(c, s); err != nil {
		t.Fatal(err)
	}
	if got := loadState(c, 77); got != s {
		t.Errorf("loadState = %+v, want %+v", got, s)
	}
	// Another process's state is not this one's: read its log from 0.
	if got := loadState(c, 78); got != (runState{Pid: 78}) {
		t.Errorf("loadState for another pid = %+v", got)
	}
	proc.WritePidFile(c.Pid, 77)
	if err := removeRunFiles(c); err != nil {
		t.Fatal(err)
	}
	if err := removeRunFiles(c); err != nil {
		t.Fatalf("second removal: %v", err)
	}
	if _, err := os.Stat(statePath(c)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file still there: %v", err)
	}
}

// TestHostProcesses exercises the /proc adapter on a process the test
// starts and kills by its pid.
func TestHostProcesses(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep(1)")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "child.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// An extra, unique, zero-length duration names this child for Find.
	marker := "0.000" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(sleep, "300", marker)
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logFile.Close()
	pid := cmd.Process.Pid
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	h := host{}
	// Start returns once exec is past its point of no return, a moment
	// before the kernel shows the new command line.
	var argv []string
	for end := time.Now().Add(5 * time.Second); len(argv) == 0 && err == nil && time.Now().Before(end); {
		argv, err = h.Cmdline(pid)
		time.Sleep(time.Millisecond)
	}
	if err != nil || !reflect.DeepEqual(argv, []string{sleep, "300", marker}) {
		t.Fatalf("Cmdline(%d) = %q, %v", pid, argv, err)
	}
	found, err := h.Find(func(a []string) bool { return len(a) == 3 && a[2] == marker })
	if err != nil || !slices.Equal(found, []int{pid}) {
		t.Fatalf("Find = %v, %v; want [%d]", found, err, pid)
	}

	// The log is found through the process's stderr after a rename.
	os.WriteFile(logPath, []byte(lineConnected), 0o644)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	f, err := h.OpenLog(pid, logPath)
	if err != nil {
		t.Fatalf("OpenLog after rotation: %v", err)
	}
	raw, _ := io.ReadAll(f)
	f.Close()
	if string(raw) != lineConnected {
		t.Errorf("OpenLog read %q", raw)
	}

	if err := h.Signal(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Until reaped the child is a zombie, which counts as gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := h.Cmdline(pid)
		if errors.Is(err, errGone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Cmdline of a killed process: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Wait()
	if err := h.Signal(pid, syscall.SIGTERM); !errors.Is(err, errGone) {
		t.Errorf("Signal to a reaped process = %v, want errGone", err)
	}
	if _, err := h.OpenLog(0, logPath); err == nil {
		t.Error("OpenLog of a missing file without a process succeeded")
	}
}
