package sync

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// fakeRsync records each sync's destination and fails while down is set.
type fakeRsync struct {
	calls chan string
	down  atomic.Bool
	pulls atomic.Int32 // merges from a peer that succeeded
}

func (f *fakeRsync) run(ctx context.Context, argv []string) error {
	if slices.Contains(argv, "--update") {
		// The merge a daemon runs before its first push to a peer.
		if f.down.Load() {
			return errors.New("rsync exited with status 10: Connection refused")
		}
		f.pulls.Add(1)
		return nil
	}
	f.calls <- argv[len(argv)-1]
	if f.down.Load() {
		return errors.New("rsync exited with status 10: Connection refused")
	}
	return nil
}

// expectSync waits for one sync to dest.
func (f *fakeRsync) expectSync(t *testing.T, what, dest string) {
	t.Helper()
	select {
	case got := <-f.calls:
		if got != dest {
			t.Fatalf("%s: sync to %s, want %s", what, got, dest)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no sync within 5 s", what)
	}
}

// expectQuiet checks that no sync starts for a while.
func (f *fakeRsync) expectQuiet(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case got := <-f.calls:
		t.Fatalf("%s: unexpected sync to %s", what, got)
	case <-time.After(d):
	}
}

// TestDaemonLoop runs the daemon's loop on a real directory with real
// inotify and a fake rsync: the full sync at start, debounced batches,
// watches on new directories, excluded names, and a peer's outage and
// return, as the report shows them.
func TestDaemonLoop(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "data")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	c := Config{
		Resource: "t", Directory: root, Peers: []Peer{{"sm2", "sm2:/data/"}}, Transport: "ssh", Rsync: "/usr/bin/rsync",
		Excludes: []string{"*.tmp"}, Debounce: 200 * time.Millisecond, IOTimeout: time.Second, RetryMax: time.Second,
		StateDir: dir,
	}
	f := &fakeRsync{calls: make(chan string, 100)}
	log := ocf.NewLogger(ocf.LogConfig{Stderr: io.Discard})
	d := &daemon{c: c, log: log, rsync: f.run}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	write := func(rel string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	f.expectSync(t, "full sync at start", "sm2:/data/")
	if n := f.pulls.Load(); n != 1 {
		t.Fatalf("%d merges from the peer before the first push, want 1", n)
	}
	f.expectQuiet(t, "no changes", 300*time.Millisecond)
	report := func() PeerStatus {
		t.Helper()
		rep, err := readReport(c)
		if err != nil || rep.Pid != os.Getpid() || len(rep.Peers) != 1 {
			t.Fatalf("report %+v: %v", rep, err)
		}
		return rep.Peers[0]
	}
	waitFor(t, "the report after the full sync", report, func(p PeerStatus) bool {
		return p.State == PeerOK && p.Attempts == 1
	})

	for _, name := range []string{"a", "b", "c", "a"} {
		write(name)
	}
	f.expectSync(t, "four writes", "sm2:/data/")
	f.expectQuiet(t, "four writes are one batch", 300*time.Millisecond)

	write("x.tmp")
	f.expectQuiet(t, "excluded name", 300*time.Millisecond)

	if err := os.MkdirAll(filepath.Join(root, "new", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.expectSync(t, "new directories", "sm2:/data/")
	f.expectQuiet(t, "settled", 200*time.Millisecond)
	write("new/deeper/file")
	f.expectSync(t, "a file in a directory made after start", "sm2:/data/")

	f.down.Store(true)
	write("while-down")
	f.expectSync(t, "sync that fails", "sm2:/data/")
	f.expectQuiet(t, "no retry before the backoff", 800*time.Millisecond)
	f.expectSync(t, "retry after 1 s", "sm2:/data/")
	waitFor(t, "the report during the outage", report, func(p PeerStatus) bool {
		return p.State == PeerFailing && p.Failures == 2 && p.Pending() == 1 && p.LastError != ""
	})
	f.down.Store(false)
	f.expectSync(t, "retry once the peer is back", "sm2:/data/")
	waitFor(t, "the report after the outage", report, func(p PeerStatus) bool {
		return p.State == PeerOK && p.Failures == 0 && p.Pending() == 0
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon after cancel: %v", err)
		}
		done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop")
	}
}

// waitFor polls the report until ok holds for its peer.
func waitFor(t *testing.T, what string, report func() PeerStatus, ok func(PeerStatus) bool) {
	t.Helper()
	var p PeerStatus
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if p = report(); ok(p) {
			return
		}
	}
	t.Fatalf("%s: %+v", what, p)
}

// TestDaemonRootRemoved checks that the daemon gives up when its
// directory disappears, rather than syncing an empty tree over the peers.
func TestDaemonRootRemoved(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "data")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	c := Config{Resource: "t", Directory: root, Peers: []Peer{{"sm2", "sm2:/d/"}}, Debounce: time.Millisecond,
		RetryMax: time.Second, StateDir: dir}
	f := &fakeRsync{calls: make(chan string, 100)}
	d := &daemon{c: c, log: ocf.NewLogger(ocf.LogConfig{Stderr: io.Discard}), rsync: f.run}
	done := make(chan error, 1)
	go func() { done <- d.run(context.Background(), context.Background()) }()
	f.expectSync(t, "full sync", "sm2:/d/")
	if err := os.Rename(root, root+".old"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, errRootGone) {
			t.Fatalf("daemon ended with %v, want %v", err, errRootGone)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon goes on without its directory")
	}
}

func TestRsyncMessage(t *testing.T) {
	for _, tc := range []struct{ stderr, want string }{
		{"rsync: [sender] failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111)\n" +
			"rsync error: error in socket IO (code 10) at clientserver.c(139) [sender=3.2.7]\n",
			"rsync: [sender] failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111); " +
				"rsync error: error in socket IO (code 10) at clientserver.c(139) [sender=3.2.7]"},
		{"\n@ERROR: Unknown module 'nope'\nrsync error: error starting client-server protocol (code 5)\n",
			"@ERROR: Unknown module 'nope'; rsync error: error starting client-server protocol (code 5)"},
		{"rsync error: some error (code 1)\n", "rsync error: some error (code 1)"},
		{"", ""},
	} {
		if got := rsyncMessage(tc.stderr); got != tc.want {
			t.Errorf("rsyncMessage(%q) = %q, want %q", tc.stderr, got, tc.want)
		}
	}
}

// peerFake is an rsync per destination: down ones fail, hanging ones
// block until their context ends.
type peerFake struct {
	calls         chan string
	down, hanging map[string]bool
}

func (f *peerFake) run(ctx context.Context, argv []string) error {
	dest := argv[len(argv)-1]
	if slices.Contains(argv, "--update") {
		// The merge from the peer before the first push: the peer is the
		// source.
		dest = argv[len(argv)-2]
	}
	select {
	case f.calls <- dest:
	default: // the test has seen enough
	}
	switch {
	case f.hanging[dest]:
		<-ctx.Done()
		return ctx.Err()
	case f.down[dest]:
		return errors.New("Connection refused")
	}
	return nil
}

// TestDaemonDrain checks the stop path: on the first signal the daemon
// ships pending changes at once to reachable peers, does not wait for a
// down one, and exits; a sync that hangs is cut short by the second.
func TestDaemonDrain(t *testing.T) {
	dir := t.TempDir()
	c := Config{Resource: "t", Directory: dir, Debounce: time.Hour, RetryMax: time.Hour, StateDir: t.TempDir(),
		Peers: []Peer{{"sm2", "sm2:/d/"}, {"sm3", "sm3:/d/"}}}
	f := &peerFake{calls: make(chan string, 100), down: map[string]bool{"sm3:/d/": true}}
	d := &daemon{c: c, log: ocf.NewLogger(ocf.LogConfig{Stderr: io.Discard}), rsync: f.run}
	drain, stopDrain := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(drain, context.Background()) }()
	// sm2: the merge, then the push; sm3 (down): the merge fails.
	got := map[string]int{}
	for range 3 {
		got[<-f.calls]++
	}
	if got["sm2:/d/"] != 2 || got["sm3:/d/"] != 1 {
		t.Fatalf("syncs at start went to %v, want a merge and a push for sm2 and a failed merge for sm3", got)
	}
	time.Sleep(100 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(dir, "last"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the event arrives; the hour-long debounce holds it
	stopDrain()
	select {
	case dest := <-f.calls:
		if dest != "sm2:/d/" {
			t.Fatalf("last sync went to %s, want only the reachable sm2", dest)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no last sync of the pending change")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon waits for a down peer instead of exiting")
	}
	rep, err := readReport(c)
	if err != nil || rep.Peers[0].Pending() != 0 || rep.Peers[1].Pending() != 1 {
		t.Fatalf("last report: %+v, %v; want sm2 with nothing pending and sm3 missing 1 change", rep, err)
	}

	// A sync that hangs holds the drain until the second signal, and
	// the daemon waits for it without spinning over the down peer, whose
	// retries fall due at once.
	f.hanging = map[string]bool{"sm2:/d/": true}
	c.RetryMax = time.Millisecond
	d = &daemon{c: c, log: ocf.NewLogger(ocf.LogConfig{Stderr: io.Discard}), rsync: f.run}
	drain, stopDrain = context.WithCancel(context.Background())
	now, stopNow := context.WithCancel(context.Background())
	go func() { done <- d.run(drain, now) }()
	for range 3 { // sm2 hangs, sm3 fails and is retried
		<-f.calls
	}
	stopDrain()
	time.Sleep(200 * time.Millisecond) // the drain begins
	before := cpuTime(t)
	select {
	case err := <-done:
		t.Fatalf("daemon exited (%v) while its sync ran", err)
	case <-time.After(500 * time.Millisecond):
	}
	if used := cpuTime(t) - before; used > 100*time.Millisecond {
		t.Fatalf("a draining daemon used %s of CPU in 500 ms of waiting", used)
	}
	stopNow()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon does not exit on the second signal")
	}
}

// cpuTime is the CPU time this process has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
