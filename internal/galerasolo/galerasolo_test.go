package galerasolo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestWriteConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my.cnf")
	if err := writeConfig(path, 14567, 14568); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"wsrep_provider=" + Provider,
		"wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:14567;ist.recv_addr=127.0.0.1:14568",
		"skip-networking",
	} {
		if !strings.Contains(string(b), "\n"+line+"\n") {
			t.Errorf("my.cnf lacks %q:\n%s", line, b)
		}
	}
}

// TestServerLifecycle seeds a template, runs a copy of it by hand as a new
// cluster and checks that Close ends it by PID and removes its files.
func TestServerLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if why := Missing(); why != "" {
		t.Skip("component test: " + why)
	}
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl, err := Init(filepath.Join(base, "seed"))
	if err != nil {
		t.Fatal(err)
	}
	seeded, err := ReadGrastate(tmpl.Datadir)
	if err != nil || seeded.Seqno < 0 {
		t.Fatalf("template grastate %+v %v, want a clean position", seeded, err)
	}
	a, err := tmpl.New(filepath.Join(base, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tmpl.New(filepath.Join(base, "b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	if a.GaleraPort == b.GaleraPort || a.Datadir == b.Datadir {
		t.Fatalf("two servers share port %d or datadir %s", a.GaleraPort, a.Datadir)
	}
	host, _ := os.Hostname()
	params := a.Params()
	if want := "gcomm://" + host + ":" + strconv.Itoa(a.GaleraPort); params["wsrep_cluster_address"] != want {
		t.Errorf("wsrep_cluster_address %q, want %q", params["wsrep_cluster_address"], want)
	}
	for _, name := range []string{"config", "datadir", "socket", "pid", "log"} {
		if !strings.HasPrefix(params[name], a.Dir+"/") {
			t.Errorf("%s=%q lies outside %s", name, params[name], a.Dir)
		}
	}

	cmd := exec.Command(Mariadbd, "--defaults-file="+a.Config, "--datadir="+a.Datadir, "--socket="+a.Socket,
		"--pid-file="+a.PidFile, "--user="+ServerUser, "--log-error="+a.Log,
		"--wsrep-cluster-address="+a.Address(), "--wsrep-new-cluster")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), UpLimit)
	defer cancel()
	if _, err := WaitSynced(ctx, a.Socket); err != nil {
		log, _ := os.ReadFile(a.Log)
		t.Fatalf("%v\n%s", err, lastBytes(log, 1500))
	}
	if pids := a.Pids(); len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("Pids %v, want the server's pid %d", pids, cmd.Process.Pid)
	}
	if pids := b.Pids(); len(pids) != 0 {
		t.Fatalf("b, never started, has servers %v", pids)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	<-exited // Close killed it; Wait returned
	if pids := a.Pids(); len(pids) != 0 {
		t.Fatalf("after Close servers %v still run", pids)
	}
	if _, err := os.Stat(a.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Close %s is still there (%v)", a.Dir, err)
	}
	if _, err := os.Stat(b.Datadir); err != nil {
		t.Fatalf("b's datadir gone after closing a: %v", err)
	}
}
