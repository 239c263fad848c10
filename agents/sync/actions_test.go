package sync

import (
	"context"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/ocf"
)

// fakeSystem is a process table: pid -> argv and session.
type fakeSystem struct {
	argv       map[int][]string
	session    map[int]int
	terminated []int
}

func (f *fakeSystem) Cmdline(pid int) ([]string, error) {
	argv, ok := f.argv[pid]
	if !ok {
		return nil, proc.ErrGone
	}
	return argv, nil
}

func (f *fakeSystem) Find(match func([]string) bool) ([]int, error) {
	var pids []int
	for pid, argv := range f.argv {
		if match(argv) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

func (f *fakeSystem) Session(sid int) ([]int, error) {
	var pids []int
	for pid, s := range f.session {
		if s == sid {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

func (f *fakeSystem) Launch(Config) (*launched, error) { panic("not in these tests") }

func (f *fakeSystem) Terminate(_ context.Context, pids []int, _ time.Time) error {
	f.terminated = append(f.terminated, pids...)
	for _, pid := range pids {
		delete(f.argv, pid)
		delete(f.session, pid)
	}
	return nil
}

// request builds an action's request for a resource in stateDir.
func request(t *testing.T, action string, interval time.Duration, stateDir string) *ocf.Request {
	t.Helper()
	raw := map[string]string{pDirectory: t.TempDir(), pPeers: "sm2", pStateDir: stateDir}
	return &ocf.Request{
		Env:    ocf.Env{Resource: "data", Meta: ocf.Meta{Interval: interval}},
		Action: action,
		Params: ocf.NewValues(params(), raw),
		Log:    ocf.NewLogger(ocf.LogConfig{Stderr: io.Discard}),
	}
}

// The tests use the test process's own pid for "alive" processes, since
// terminate keeps only pids that proc.Alive sees.
func TestStopEndsTheSession(t *testing.T) {
	self := os.Getpid()
	for _, tc := range []struct {
		name     string
		pidFile  int
		procs    map[int][]string
		sessions map[int]int
		want     []int
	}{
		{"nothing runs", 0, nil, nil, nil},
		{"daemon and its rsync", 999999, map[int][]string{self: {"/usr/sbin/goha", DaemonCommand, "CONF"}},
			map[int]int{self: self}, []int{self}},
		{"killed daemon leaves its rsync", 999999, map[int][]string{self: {"/usr/bin/rsync", "-a"}},
			map[int]int{self: 999999}, []int{self}},
		{"pid file names another program", self, map[int][]string{self: {"/usr/sbin/sshd"}},
			map[int]int{self: self}, nil},
		{"daemon of another resource", 0, map[int][]string{self: {"/usr/sbin/goha", DaemonCommand, "/run/x/sync-other.conf"}},
			map[int]int{self: self}, nil},
		{"same resource name, other state directory", 0, map[int][]string{self: {"/usr/sbin/goha", DaemonCommand, "/other/sync-data.conf"}},
			map[int]int{self: self}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := request(t, "stop", 0, dir)
			f := &fakeSystem{argv: map[int][]string{}, session: tc.sessions}
			a := &actions{sys: f}
			c, err := a.config(r)
			if err != nil {
				t.Fatal(err)
			}
			for pid, argv := range tc.procs {
				if len(argv) == 3 && argv[2] == "CONF" {
					argv = []string{argv[0], argv[1], c.confFile()}
				}
				f.argv[pid] = argv
			}
			if tc.pidFile != 0 {
				proc.WritePidFile(c.pidFile(), tc.pidFile)
			}
			writeJSON(c.stateFile(), Report{})
			if err := a.stop(context.Background(), r); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if !reflect.DeepEqual(f.terminated, tc.want) {
				t.Fatalf("terminated %v, want %v", f.terminated, tc.want)
			}
			for _, p := range []string{c.pidFile(), c.stateFile(), c.confFile()} {
				if _, err := os.Stat(p); err == nil {
					t.Fatalf("stop left %s", p)
				}
			}
		})
	}
}

func TestMonitorWithoutDaemon(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		pidFile  bool
		want     ocf.Status
	}{
		{"probe, never started", 0, false, ocf.NotRunning},
		{"monitor, stopped cleanly", 10 * time.Second, false, ocf.NotRunning},
		{"monitor, daemon died", 10 * time.Second, true, ocf.ErrGeneric},
		{"probe, daemon died", 0, true, ocf.NotRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := request(t, "monitor", tc.interval, dir)
			a := &actions{sys: &fakeSystem{}}
			c, _ := a.config(r)
			if tc.pidFile {
				proc.WritePidFile(c.pidFile(), 999999)
			}
			if got := ocf.StatusOf(a.monitor(context.Background(), r)); got != tc.want {
				t.Fatalf("monitor = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMonitorReadsTheReport(t *testing.T) {
	self := os.Getpid()
	dir := t.TempDir()
	r := request(t, "monitor", 10*time.Second, dir)
	f := &fakeSystem{argv: map[int][]string{}}
	a := &actions{sys: f}
	c, _ := a.config(r)
	f.argv[self] = c.daemonArgv("/usr/sbin/goha")
	proc.WritePidFile(c.pidFile(), 0) // lost: found in /proc
	if got := ocf.StatusOf(a.monitor(context.Background(), r)); got != ocf.ErrGeneric {
		t.Fatalf("monitor without a report = %v, want %v", got, ocf.ErrGeneric)
	}
	now := time.Now()
	writeJSON(c.stateFile(), Report{Pid: self, Updated: now, Peers: []PeerStatus{{Peer: "sm2", State: PeerOK}}})
	if err := a.monitor(context.Background(), r); err != nil {
		t.Fatalf("monitor of a healthy daemon: %v", err)
	}
	writeJSON(c.stateFile(), Report{Pid: self, Updated: now.Add(-time.Minute), Peers: []PeerStatus{{Peer: "sm2", State: PeerOK}}})
	if err := a.monitor(context.Background(), r); ocf.StatusOf(err) != ocf.ErrGeneric {
		t.Fatalf("monitor of a hung daemon: %v", err)
	}
	writeJSON(c.stateFile(), Report{Pid: self + 1, Updated: now})
	if err := a.monitor(context.Background(), r); ocf.StatusOf(err) != ocf.ErrGeneric {
		t.Fatalf("monitor with another process's report: %v", err)
	}
}

func TestDaemonEnv(t *testing.T) {
	got := daemonEnv([]string{"HA_LOGFACILITY=daemon", "HA_LOGTAG=sync(x)[1]", "HOME=/var/lib/pacemaker",
		"OCF_RESKEY_peers=sm2", "LD_PRELOAD=/x.so", "PATH=/tmp"})
	want := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "HA_LOGFACILITY=daemon", "HOME=/var/lib/pacemaker"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("daemonEnv = %q, want %q", got, want)
	}
}

// fakeAttrs records node attribute writes.
type fakeAttrs struct {
	calls []string
	fail  bool
}

func (f *fakeAttrs) Get(context.Context, string, string, ocf.Lifetime) (string, bool, error) {
	return "", false, nil
}

func (f *fakeAttrs) Set(_ context.Context, node, name, value string, _ ocf.Lifetime) error {
	f.calls = append(f.calls, "set "+node+" "+name+"="+value)
	if f.fail {
		return errors.New("no cluster")
	}
	return nil
}

func (f *fakeAttrs) Delete(_ context.Context, node, name string, _ ocf.Lifetime) error {
	f.calls = append(f.calls, "delete "+node+" "+name)
	if f.fail {
		return errors.New("no cluster")
	}
	return nil
}

// TestPeersDownAttribute checks that monitors publish the unreachable
// peers as a node attribute only when the set changes, retry a failed
// write, and that stop removes it.
func TestPeersDownAttribute(t *testing.T) {
	self := os.Getpid()
	dir := t.TempDir()
	f := &fakeSystem{argv: map[int][]string{}}
	a := &actions{sys: f}
	attrs := &fakeAttrs{}
	monitor := func(peers ...PeerStatus) {
		t.Helper()
		r := request(t, "monitor", 10*time.Second, dir)
		r.Attrs, r.Meta.OnNode = attrs, "sm1"
		c, _ := a.config(r)
		f.argv[self] = c.daemonArgv("/usr/sbin/goha")
		writeJSON(c.stateFile(), Report{Pid: self, Updated: time.Now(), Peers: peers})
		if err := a.monitor(context.Background(), r); err != nil {
			t.Fatalf("monitor: %v", err)
		}
	}
	ok2 := PeerStatus{Peer: "sm2", State: PeerOK}
	down2 := PeerStatus{Peer: "sm2", State: PeerFailing, FailingSince: time.Now()}
	down3 := PeerStatus{Peer: "sm3", State: PeerFailing, FailingSince: time.Now()}
	steps := []struct {
		peers []PeerStatus
		fail  bool
		calls []string
	}{
		{[]PeerStatus{ok2}, false, nil},
		{[]PeerStatus{down2}, true, []string{"set sm1 data-peers-down=sm2"}},
		{[]PeerStatus{down2}, false, []string{"set sm1 data-peers-down=sm2"}},
		{[]PeerStatus{down2}, false, nil},
		{[]PeerStatus{down2, down3}, false, []string{"set sm1 data-peers-down=sm2 sm3"}},
		{[]PeerStatus{ok2}, false, []string{"delete sm1 data-peers-down"}},
		{[]PeerStatus{ok2}, false, nil},
		{[]PeerStatus{down3}, false, []string{"set sm1 data-peers-down=sm3"}},
	}
	for i, s := range steps {
		attrs.calls, attrs.fail = nil, s.fail
		monitor(s.peers...)
		if !reflect.DeepEqual(attrs.calls, s.calls) {
			t.Fatalf("step %d: crm_attribute calls %q, want %q", i, attrs.calls, s.calls)
		}
	}
	attrs.calls = nil
	r := request(t, "stop", 0, dir)
	r.Attrs, r.Meta.OnNode = attrs, "sm1"
	if err := a.stop(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"delete sm1 data-peers-down"}; !reflect.DeepEqual(attrs.calls, want) {
		t.Fatalf("stop: crm_attribute calls %q, want %q", attrs.calls, want)
	}
}
