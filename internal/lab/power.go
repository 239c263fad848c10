package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// boot starts the init of node n: link up, a new process tree in fresh
// PID, mount, UTS and IPC namespaces joined to the node's network
// namespace and placed in the node's cgroups. The caller owns the returned
// command and must Wait for it (it is the reaper of that init).
//
// A delay makes the init wait before starting the stack, the time a real
// machine takes to boot: a node fenced with reboot must not rejoin before
// the fencer has told the cluster the reboot is done, or Pacemaker on the
// node stops itself ("We were allegedly just fenced").
func boot(s *State, n *NodeState, delay time.Duration) (*exec.Cmd, *Proc, error) {
	v2 := nodeCgroup(s.Cgroup2, n.Name)
	if v2 != "" && cgroupFrozen(v2) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cgroupFreeze(ctx, v2, false)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("thaw %s: %w", n.Name, err)
		}
	}
	if err := setLink(n.Veth, true); err != nil {
		return nil, nil, err
	}
	_ = os.Remove(s.statusPath(n.Name))
	logf, err := os.OpenFile(filepath.Join(n.Dir, "init.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer pw.Close()
	cmd := &exec.Cmd{
		Path:       s.Binary,
		Args:       []string{"goha", "lab", "_init", "--dir", s.RunDir, "--node", n.Name, "--boot-delay", delay.String()},
		Env:        nodeEnv,
		Dir:        "/",
		Stdout:     logf,
		Stderr:     logf,
		ExtraFiles: []*os.File{pr},
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:     true,
			Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		},
	}
	err = startInNetNS(netnsPath(n.NetNS), cmd)
	pr.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("start init of %s: %w", n.Name, err)
	}
	abort := func(err error) (*exec.Cmd, *Proc, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = setLink(n.Veth, false)
		return nil, nil, err
	}
	// The init waits on the pipe until it is in its cgroups, so all of
	// the node's processes are born there. (Not clone3 CLONE_INTO_CGROUP:
	// on this kernel a child cloned into a cgroup that once got
	// cgroup.kill is killed at birth.)
	pid := []byte(strconv.Itoa(cmd.Process.Pid))
	for _, dir := range []string{v2, nodeCgroup(s.CgroupMem, n.Name)} {
		if dir == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), pid, 0); err != nil {
			return abort(fmt.Errorf("cgroup %s of %s: %w", dir, n.Name, err))
		}
	}
	p, err := procOf(cmd.Process.Pid)
	if err != nil {
		return abort(fmt.Errorf("identify init of %s: %w", n.Name, err))
	}
	if _, err := pw.Write([]byte("1")); err != nil {
		return abort(fmt.Errorf("release init of %s: %w", n.Name, err))
	}
	return cmd, p, nil
}

// startInNetNS starts cmd from a thread that joined the network namespace
// at path; the thread is discarded afterwards, so no other goroutine ever
// runs in that namespace. The child inherits the thread's namespace.
func startInNetNS(path string, cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine.
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open %s: %w", path, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("join %s: %w", path, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// crash cuts the power of node n: its link goes down, every process of its
// PID namespace is killed at once, and the kernel state a reboot loses is
// cleared from its network namespace. It returns when the processes are
// all gone.
func crash(ctx context.Context, s *State, n *NodeState) error {
	var errs []error
	if err := setLink(n.Veth, false); err != nil {
		errs = append(errs, err)
	}
	v2 := nodeCgroup(s.Cgroup2, n.Name)
	if err := cgroupKill(v2); err != nil {
		errs = append(errs, fmt.Errorf("kill cgroup of %s: %w", n.Name, err))
	}
	if n.Init != nil {
		_ = n.Init.signal(syscall.SIGKILL)
		if err := waitGone(ctx, n.Init); err != nil {
			errs = append(errs, fmt.Errorf("crash %s: %w", n.Name, err))
		}
	}
	if v2 != "" && cgroupFrozen(v2) {
		_ = os.WriteFile(filepath.Join(v2, "cgroup.freeze"), []byte("0"), 0)
	}
	if err := forgetKernelState(n.NetNS, n.Addr); err != nil {
		errs = append(errs, fmt.Errorf("power loss of %s: %w", n.Name, err))
	}
	n.Init = nil
	writeStatus(s.statusPath(n.Name), StackStatus{State: "off", Time: time.Now()})
	return errors.Join(errs...)
}

// waitGone waits until the init and every process of its PID namespace
// have exited.
func waitGone(ctx context.Context, p *Proc) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		ps, _ := procsInNS(p.PidNS)
		if len(ps) == 0 && !p.alive() {
			return nil
		}
		for _, q := range ps {
			_ = syscall.Kill(q.PID, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processes still running in %s: %w", p.PidNS, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func nodeCgroup(labDir, node string) string {
	if labDir == "" {
		return ""
	}
	return filepath.Join(labDir, node)
}

// writeStatus replaces a node's status file atomically.
func writeStatus(path string, st StackStatus) {
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		_ = os.Rename(tmp, path)
	}
}

// readStatus reads a node's status file.
func readStatus(path string) (StackStatus, error) {
	var st StackStatus
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}
