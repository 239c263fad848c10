package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Invocation is one way of calling an agent: its program, the environment
// Pacemaker would give it, and the network namespace it runs in.
type Invocation struct {
	Agent  string   // as in the report, e.g. "ocf:heartbeat:IPaddr2"
	Argv   []string // program and any leading arguments; the action is appended
	Env    []string // KEY=VALUE, on top of BaseEnv
	Netns  string   // a namespace under /run/netns; "" runs in the harness's own
	Expect int      // the exit status a measured call must return (0, OCF_SUCCESS)
}

// BaseEnv is the environment every call gets before its own: what
// pacemaker-execd passes an agent, less the logging variables (both sides
// would then pay for syslog in their own way).
func BaseEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf"}
}

// MonitorEnv is the OCF environment of a recurring monitor of resource with
// the given parameters, as Pacemaker sets it, sorted for stable output.
func MonitorEnv(resource string, interval, timeout time.Duration, params map[string]string) []string {
	env := []string{
		"OCF_RESOURCE_INSTANCE=" + resource,
		fmt.Sprintf("OCF_RESKEY_CRM_meta_interval=%d", interval.Milliseconds()),
		fmt.Sprintf("OCF_RESKEY_CRM_meta_timeout=%d", timeout.Milliseconds()),
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, "OCF_RESKEY_"+k+"="+params[k])
	}
	return env
}

// With returns a copy of inv with env added; a later KEY= overrides an earlier one.
func (inv Invocation) With(env ...string) Invocation {
	inv.Env = append(slices.Clone(inv.Env), env...)
	inv.Argv = slices.Clone(inv.Argv)
	return inv
}

// environ is the complete environment of a call of inv.
func (inv Invocation) environ() []string {
	return dedupEnv(append(BaseEnv(), inv.Env...))
}

// dedupEnv keeps the last value of each key, in order of first appearance.
func dedupEnv(env []string) []string {
	idx := map[string]int{}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// Outcome is what one call returned besides its cost.
type Outcome struct {
	Status int    // exit status, -1 when killed by a signal
	Stderr string // the first few KiB the agent wrote to stderr
	// Orphans counts descendants that outlived the agent; their cost is in
	// the sample all the same (see reapOrphans).
	Orphans int
}

// Runner makes agent calls and measures them. Calls in a network namespace
// are forked from an OS thread that has entered it, so the measured process
// tree is the agent's alone (no ip-netns-exec or nsenter in between). The
// harness becomes the child subreaper, so the orphans of an agent are
// reaped and counted too; for that, a Runner's calls must be the only
// children the process has while they run (Setup's commands run before).
// The zero Runner is ready; Close releases its threads and files.
type Runner struct {
	threads map[string]*nsThread
	stderr  *os.File
	exits   *ExitWatcher
}

// CallTimeout bounds one call, so that a hung agent fails the run instead
// of hanging it.
const CallTimeout = 60 * time.Second

// Call runs action of inv once and returns its cost and outcome.
func (r *Runner) Call(ctx context.Context, inv Invocation, action string) (Sample, Outcome, error) {
	if len(inv.Argv) == 0 {
		return Sample{}, Outcome{}, fmt.Errorf("%s: empty argv", inv.Agent)
	}
	if err := becomeSubreaper(); err != nil {
		return Sample{}, Outcome{}, err
	}
	if r.exits == nil {
		w, err := NewExitWatcher()
		if err != nil {
			return Sample{}, Outcome{}, fmt.Errorf("per-process accounting: %w", err)
		}
		r.exits = w
	}
	if _, err := r.exits.Drain(); err != nil { // records of other processes; a loss there does not matter
		if _, err := r.exits.Drain(); err != nil {
			return Sample{}, Outcome{}, err
		}
	}
	if r.stderr == nil {
		f, err := os.CreateTemp("", "goha-bench-stderr-*")
		if err != nil {
			return Sample{}, Outcome{}, fmt.Errorf("create stderr file: %w", err)
		}
		os.Remove(f.Name()) // kept open, gone from the directory
		r.stderr = f
	}
	if err := r.stderr.Truncate(0); err != nil {
		return Sample{}, Outcome{}, fmt.Errorf("truncate stderr file: %w", err)
	}
	if _, err := r.stderr.Seek(0, 0); err != nil {
		return Sample{}, Outcome{}, fmt.Errorf("rewind stderr file: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, inv.Argv[0], append(inv.Argv[1:], action)...)
	cmd.Env = inv.environ()
	cmd.Dir = "/"
	cmd.Stderr = r.stderr // an *os.File: no copying goroutine, no pipe
	var sample Sample
	var runErr error
	err := r.inNetns(inv.Netns, func() {
		start := time.Now()
		runErr = cmd.Run()
		sample.Wall = time.Since(start)
	})
	if err != nil {
		return Sample{}, Outcome{}, fmt.Errorf("%s %s: %w", inv.Agent, action, err)
	}
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		return Sample{}, Outcome{}, fmt.Errorf("run %s %s: %w", inv.Agent, action, runErr)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		sample.add(ru)
	}
	orphans, err := reapOrphans(ctx, &sample)
	if err != nil {
		return Sample{}, Outcome{}, fmt.Errorf("%s %s: %w", inv.Agent, action, err)
	}
	// Every task of the tree has exited by now, and the kernel queues its
	// record before it wakes the waiting parent.
	exits, err := r.exits.Drain()
	if err != nil {
		return Sample{}, Outcome{}, fmt.Errorf("%s %s: %w", inv.Agent, action, err)
	}
	tree := UsageOf(cmd.Process.Pid, exits)
	if tree.Processes == 0 {
		return Sample{}, Outcome{}, fmt.Errorf("%s %s: no taskstats record of the agent's exit", inv.Agent, action)
	}
	// ru_maxrss would report at least the harness's own RSS: a child
	// inherits the maximum of the memory it was forked with until it execs.
	sample.MaxRSS = tree.MaxRSS
	sample.Forks = tree.Processes - 1
	sample.Threads = tree.Threads
	out := Outcome{Status: cmd.ProcessState.ExitCode(), Stderr: r.readStderr(), Orphans: orphans}
	if ctx.Err() != nil {
		return sample, out, fmt.Errorf("%s %s: %w", inv.Agent, action, ctx.Err())
	}
	return sample, out, nil
}

// Measure runs action of inv once and fails unless it exits with inv.Expect.
func (r *Runner) Measure(ctx context.Context, inv Invocation, action string) (Sample, error) {
	s, out, err := r.Call(ctx, inv, action)
	if err != nil {
		return s, err
	}
	if out.Status != inv.Expect {
		return s, fmt.Errorf("%s %s exited %d, want %d: %s", inv.Agent, action, out.Status, inv.Expect, strings.TrimSpace(out.Stderr))
	}
	return s, nil
}

// Trace runs action of inv once under strace and counts what the call
// forked and executed. It fails unless the call exits with inv.Expect.
func (r *Runner) Trace(ctx context.Context, inv Invocation, action string) (Count, error) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return Count{}, fmt.Errorf("counting forks needs strace (apt-get install strace): %w", err)
	}
	dir, err := os.MkdirTemp("", "goha-bench-trace-")
	if err != nil {
		return Count{}, fmt.Errorf("create trace dir: %w", err)
	}
	defer os.RemoveAll(dir)
	log := filepath.Join(dir, "trace")
	traced := inv.With()
	traced.Argv = append([]string{strace, "-f", "-qq", "-e", "trace=process", "-o", log, "--"}, inv.Argv...)
	if _, err := r.Measure(ctx, traced, action); err != nil {
		return Count{}, fmt.Errorf("traced call: %w", err)
	}
	f, err := os.Open(log)
	if err != nil {
		return Count{}, fmt.Errorf("open strace log: %w", err)
	}
	defer f.Close()
	c, err := ParseTrace(f)
	if err != nil {
		return Count{}, fmt.Errorf("%s %s: %w", inv.Agent, action, err)
	}
	return c, nil
}

func (r *Runner) readStderr() string {
	buf := make([]byte, 4096)
	n, _ := r.stderr.ReadAt(buf, 0)
	return string(buf[:n])
}

// inNetns runs fn on a thread inside the named network namespace, or on the
// calling goroutine when name is "".
func (r *Runner) inNetns(name string, fn func()) error {
	if name == "" {
		fn()
		return nil
	}
	t, ok := r.threads[name]
	if !ok {
		var err error
		if t, err = enterNetns(name); err != nil {
			return err
		}
		if r.threads == nil {
			r.threads = map[string]*nsThread{}
		}
		r.threads[name] = t
	}
	t.do(fn)
	return nil
}

// Close ends the namespace threads and closes the stderr file.
func (r *Runner) Close() {
	for name, t := range r.threads {
		close(t.reqs)
		delete(r.threads, name)
	}
	if r.stderr != nil {
		r.stderr.Close()
		r.stderr = nil
	}
	r.exits.Close()
	r.exits = nil
}

// nsThread is a goroutine locked to an OS thread that has joined a network
// namespace; children forked from it start in that namespace.
type nsThread struct{ reqs chan func() }

// NetnsPath is where `ip netns add NAME` keeps a namespace.
func NetnsPath(name string) string { return filepath.Join("/run/netns", name) }

func enterNetns(name string) (*nsThread, error) {
	t := &nsThread{reqs: make(chan func())}
	ready := make(chan error)
	go func() {
		// Never unlocked: when the goroutine ends, the runtime ends the
		// thread, so no other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		f, err := os.Open(NetnsPath(name))
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
			f.Close()
		}
		if err != nil {
			ready <- fmt.Errorf("enter network namespace %s: %w", name, err)
			return
		}
		ready <- nil
		for fn := range t.reqs {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return t, nil
}

func (t *nsThread) do(fn func()) {
	done := make(chan struct{})
	t.reqs <- func() { fn(); close(done) }
	<-done
}

// add folds the CPU time of one reaped process (and of everything it
// reaped) into s.
func (s *Sample) add(ru *syscall.Rusage) {
	s.CPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var subreaper struct {
	once sync.Once
	err  error
}

// becomeSubreaper makes the harness the reaper of the agents' orphans: a
// process an agent leaves behind (a daemonised helper, a background
// announcement) is reparented to the harness instead of init, so its CPU
// time can still be counted.
func becomeSubreaper() error {
	subreaper.once.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			subreaper.err = fmt.Errorf("become child subreaper: %w", err)
		}
	})
	return subreaper.err
}

// reapOrphans waits for every remaining child of the harness (only the
// agent's orphans can be left once the agent is reaped, since calls are
// made one at a time) and adds their rusage to s. It returns how many
// there were; it gives up when ctx ends.
func reapOrphans(ctx context.Context, s *Sample) (int, error) {
	n := 0
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		switch {
		case errors.Is(err, unix.ECHILD):
			return n, nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return n, fmt.Errorf("reap orphans: %w", err)
		case pid > 0:
			n++
			s.add(&ru)
			continue
		}
		// Children remain and none has exited yet.
		select {
		case <-ctx.Done():
			return n, fmt.Errorf("orphaned processes still run: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}
