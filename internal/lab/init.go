package lab

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Signals the host sends to a node's init.
const (
	sigStopStack  = syscall.SIGUSR1 // stop pacemakerd then corosync, stay up
	sigStartStack = syscall.SIGUSR2 // start corosync then pacemakerd
	sigPowerOff   = syscall.SIGTERM // stop the stack cleanly, then exit
)

// Stack states a node's init reports in its status file.
const (
	StackBooting  = "booting"
	StackStarting = "starting"
	StackRunning  = "running"
	StackStopping = "stopping"
	StackStopped  = "stopped"
	StackFailed   = "failed"
)

// nodeEnv is the environment of the cluster daemons in a node.
var nodeEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	"HOME=/root",
	"PCMK_logfile=/var/log/pacemaker/pacemaker.log",
	"PCMK_logfacility=none",
}

// StackStatus is what a node's init writes to <run dir>/nodes/<node>.status.
type StackStatus struct {
	State      string    `json:"state"`
	Detail     string    `json:"detail,omitempty"`
	Corosync   int       `json:"corosync,omitempty"`   // PID inside the node
	Pacemakerd int       `json:"pacemakerd,omitempty"` // PID inside the node
	Time       time.Time `json:"time"`
}

// InitMain is PID 1 of a node (`goha lab _init`). It waits for the host to
// finish wiring the node (fd 3 closes after one byte), builds the node's
// mounts, starts corosync and pacemakerd, reaps every orphan of the node,
// and stops the stack on SIGUSR1 (stay up) or SIGTERM (then exit).
func InitMain(runDir, node string, bootDelay time.Duration) error {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix(node + " init: ")
	if os.Getpid() != 1 {
		return errors.New("lab init must be PID 1 of a new PID namespace")
	}
	if err := awaitHost(os.NewFile(3, "sync")); err != nil {
		return err
	}
	s, err := readState(runDir)
	if err != nil {
		return fmt.Errorf("read lab state: %w", err)
	}
	n, err := s.node(node)
	if err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(n.Name)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	if err := setupNodeMounts(s, n); err != nil {
		return fmt.Errorf("node mounts: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}

	r := newReaper()
	st := &stack{r: r, statusPath: s.statusPath(node), exits: make(chan daemonExit, 4)}
	ctl := make(chan os.Signal, 4)
	signal.Notify(ctl, sigStopStack, sigStartStack, sigPowerOff, syscall.SIGINT)
	if bootDelay > 0 {
		st.report(StackBooting, fmt.Sprintf("stack starts in %s", bootDelay))
		time.Sleep(bootDelay)
	}
	log.Printf("node %s up, starting cluster stack", n.Name)
	st.start()
	for {
		select {
		case sig := <-ctl:
			switch sig {
			case sigStartStack:
				st.start()
			case sigStopStack:
				st.stop()
			default:
				st.stop()
				log.Printf("power off")
				return nil
			}
		case ex := <-st.exits:
			st.exited(ex)
		}
	}
}

// awaitHost blocks until the host has put the node in its cgroups and
// plugged its network: it writes one byte and closes the pipe.
func awaitHost(f *os.File) error {
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("wait for host: %w", err)
	}
	if string(b) != "1" {
		return errors.New("host aborted node start")
	}
	return nil
}

// setupNodeMounts gives the node its private view of the file system.
func setupNodeMounts(s *State, n *NodeState) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	dropNsfsMounts()
	// Keep the lab run directory (control socket, status files) reachable
	// once /run is replaced by the node's own tmpfs.
	labFD, err := unix.OpenTree(unix.AT_FDCWD, s.RunDir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("clone %s: %w", s.RunDir, err)
	}
	defer unix.Close(labFD)

	// The lab's fence agent and OCF agents, layered over the host's.
	for _, o := range []struct{ upper, target string }{
		{filepath.Join(s.RunDir, "sbin"), "/usr/sbin"},
		{filepath.Join(s.RunDir, "ocf"), "/usr/lib/ocf/resource.d"},
	} {
		if !exists(o.upper) || !exists(o.target) {
			continue
		}
		opts := "lowerdir=" + o.upper + ":" + o.target
		if err := unix.Mount("overlay", o.target, "overlay", unix.MS_RDONLY, opts); err != nil {
			return fmt.Errorf("overlay %s: %w", o.target, err)
		}
	}
	for _, b := range nodeBinds(s, n) {
		if err := bindMount(b.Source, b.Target, b.ReadOnly); err != nil {
			return err
		}
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	// A sysfs mounted here shows the node's own network devices.
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, ""); err != nil {
		log.Printf("mount /sys: %v (keeping the host's)", err)
	}
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=256m"); err != nil {
		return fmt.Errorf("mount /run: %w", err)
	}
	if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=256m"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	uid, gid := haclusterIDs()
	for _, d := range []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{"/run/crm", 0o750, uid, gid},
		{"/run/pacemaker", 0o750, uid, gid},
		{"/run/lock", 0o1777, 0, 0},
		{"/run/lock/subsys", 0o755, 0, 0},
		{"/run/resource-agents", 0o755, 0, 0},
	} {
		if err := mkdirOwned(d.path, d.mode, d.uid, d.gid); err != nil {
			return err
		}
	}
	_ = os.Symlink("/dev/shm", "/run/shm")
	if err := os.MkdirAll(s.RunDir, 0o755); err != nil {
		return err
	}
	if err := unix.MoveMount(labFD, "", unix.AT_FDCWD, s.RunDir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach %s: %w", s.RunDir, err)
	}
	for _, m := range n.Mounts {
		if err := applyMount(m); err != nil {
			return err
		}
	}
	return nil
}

// nodeBinds are the per-node directories and files bound over the host's.
func nodeBinds(s *State, n *NodeState) []Mount {
	d := func(sub string) string { return filepath.Join(n.Dir, sub) }
	return []Mount{
		{Source: d("etc-corosync"), Target: "/etc/corosync", Dir: true},
		{Source: d("var-lib-pacemaker"), Target: "/var/lib/pacemaker", Dir: true},
		{Source: d("var-log-pacemaker"), Target: "/var/log/pacemaker", Dir: true},
		{Source: d("var-log-cluster"), Target: "/var/log/cluster", Dir: true},
		{Source: d("var-lib-corosync"), Target: "/var/lib/corosync", Dir: true},
		{Source: d("var-lib-goha"), Target: "/var/lib/goha", Dir: true},
		{Source: filepath.Join(s.RunDir, "hosts"), Target: "/etc/hosts"},
		{Source: d("hostname"), Target: "/etc/hostname"},
	}
}

// applyMount performs one hook mount inside the node.
func applyMount(m Mount) error {
	mode := os.FileMode(m.Mode)
	if mode == 0 {
		mode = 0o755
	}
	if !exists(m.Target) {
		if !under(m.Target, "/run") && !under(m.Target, "/dev/shm") {
			return fmt.Errorf("mount target %s does not exist", m.Target)
		}
		if m.Dir || m.Tmpfs {
			if err := mkdirOwned(m.Target, mode, m.UID, m.GID); err != nil {
				return err
			}
		} else if err := os.WriteFile(m.Target, nil, 0o644); err != nil {
			return err
		}
	}
	if m.Tmpfs {
		opts := fmt.Sprintf("mode=%o,uid=%d,gid=%d", mode.Perm()|mode&os.ModeSticky, m.UID, m.GID)
		if err := unix.Mount("tmpfs", m.Target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", m.Target, err)
		}
		return nil
	}
	return bindMount(m.Source, m.Target, m.ReadOnly)
}

func bindMount(src, dst string, ro bool) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, dst, err)
	}
	if ro {
		if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", dst, err)
		}
	}
	return nil
}

// dropNsfsMounts detaches the copies of the host's /run/netns pins: they
// would keep other nodes' network namespaces alive as long as this node.
func dropNsfsMounts() {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		// ... mountpoint(4) ... " - " fstype
		for i, x := range f {
			if x == "-" && i+1 < len(f) && f[i+1] == "nsfs" && len(f) > 4 {
				_ = unix.Unmount(f[4], unix.MNT_DETACH)
			}
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func mkdirOwned(p string, mode os.FileMode, uid, gid int) error {
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	if err := os.Chown(p, uid, gid); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

// reaper is PID 1's child handling: it reaps every exited process of the
// node and hands the status to whoever started it.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan unix.WaitStatus{}}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		tick := time.NewTicker(time.Second)
		for {
			select {
			case <-sig:
			case <-tick.C:
			}
			r.reap()
		}
	}()
	return r
}

func (r *reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		ch := r.waiters[pid]
		delete(r.waiters, pid)
		r.mu.Unlock()
		if ch != nil {
			ch <- ws
		}
	}
}

// start runs argv with out as stdout and stderr and returns its PID and a
// channel that receives its exit status.
func (r *reaper) start(argv []string, out *os.File) (int, <-chan unix.WaitStatus, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, nil, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, err
	}
	defer devnull.Close()
	if out == nil {
		out = devnull
	}
	// Hold the lock across the fork so the reaper cannot miss the PID.
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   nodeEnv,
		Files: []*os.File{devnull, out, out},
	})
	if err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiters[p.Pid] = ch
	pid := p.Pid
	p.Release()
	return pid, ch, nil
}

// run starts argv and waits for it.
func (r *reaper) run(argv ...string) error {
	_, ch, err := r.start(argv, nil)
	if err != nil {
		return err
	}
	if ws := <-ch; ws.ExitStatus() != 0 || ws.Signaled() {
		return fmt.Errorf("%s: %s", strings.Join(argv, " "), describeExit(ws))
	}
	return nil
}

func describeExit(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// daemonExit reports that a cluster daemon exited.
type daemonExit struct {
	name string
	pid  int
	ws   unix.WaitStatus
}

// stack runs corosync and pacemakerd inside a node.
type stack struct {
	r          *reaper
	statusPath string
	corosync   int
	pacemakerd int
	exits      chan daemonExit
}

func (s *stack) report(state, detail string) {
	if detail != "" {
		log.Printf("stack %s: %s", state, detail)
	} else {
		log.Printf("stack %s", state)
	}
	writeStatus(s.statusPath, StackStatus{State: state, Detail: detail, Corosync: s.corosync, Pacemakerd: s.pacemakerd, Time: time.Now()})
}

// launch starts a daemon and forwards its exit to s.exits.
func (s *stack) launch(name string, argv []string, logPath string) (int, error) {
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	pid, ch, err := s.r.start(argv, out)
	if err != nil {
		return 0, err
	}
	go func() { s.exits <- daemonExit{name: name, pid: pid, ws: <-ch} }()
	return pid, nil
}

func (s *stack) start() {
	if s.corosync != 0 || s.pacemakerd != 0 {
		return
	}
	s.report(StackStarting, "")
	pid, err := s.launch("corosync", []string{"corosync", "-f"}, "/var/log/cluster/corosync.out")
	if err != nil {
		s.report(StackFailed, err.Error())
		return
	}
	s.corosync = pid
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := s.r.run("corosync-cfgtool", "-s"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			s.report(StackFailed, "corosync not ready after 30s")
			return
		}
		// corosync may have died: its exit is pending on s.exits.
		select {
		case ex := <-s.exits:
			s.exited(ex)
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
	pid, err = s.launch("pacemakerd", []string{"pacemakerd"}, "/var/log/pacemaker/pacemakerd.out")
	if err != nil {
		s.report(StackFailed, err.Error())
		return
	}
	s.pacemakerd = pid
	s.report(StackRunning, "")
}

// exited records a daemon's exit outside a requested stop.
func (s *stack) exited(ex daemonExit) {
	switch ex.pid {
	case s.corosync:
		s.corosync = 0
	case s.pacemakerd:
		s.pacemakerd = 0
	default:
		return
	}
	s.report(StackFailed, fmt.Sprintf("%s (pid %d) %s", ex.name, ex.pid, describeExit(ex.ws)))
}

// stop terminates pacemakerd, waits, then corosync: the order of a clean
// cluster stop.
func (s *stack) stop() {
	if s.corosync == 0 && s.pacemakerd == 0 {
		s.report(StackStopped, "")
		return
	}
	s.report(StackStopping, "")
	s.terminate(&s.pacemakerd, 15*time.Minute)
	s.terminate(&s.corosync, time.Minute)
	s.report(StackStopped, "")
}

// terminate sends SIGTERM to *pid and waits for its exit (SIGKILL after
// limit); exits of other daemons seen meanwhile are recorded.
func (s *stack) terminate(pid *int, limit time.Duration) {
	if *pid == 0 {
		return
	}
	_ = unix.Kill(*pid, unix.SIGTERM)
	kill := time.After(limit)
	for *pid != 0 {
		select {
		case ex := <-s.exits:
			switch ex.pid {
			case s.corosync:
				s.corosync = 0
			case s.pacemakerd:
				s.pacemakerd = 0
			}
		case <-kill:
			_ = unix.Kill(*pid, unix.SIGKILL)
		}
	}
}

// haclusterIDs returns the uid and gid Pacemaker's daemons run as.
func haclusterIDs() (int, int) {
	uid, gid := lookupIDs("hacluster", "haclient")
	if uid < 0 {
		uid = 0
	}
	if gid < 0 {
		gid = 0
	}
	return uid, gid
}

// lookupIDs resolves a user and a group name; -1 where unknown.
func lookupIDs(userName, groupName string) (int, int) {
	uid, gid := -1, -1
	if u, err := user.Lookup(userName); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
	}
	if g, err := user.LookupGroup(groupName); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid
}
