package haproxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/internal/atomicfile"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/internal/proc"
)

// errGone is returned for a process that does not exist or is a zombie.
var errGone = proc.ErrGone

// system is what the actions need from the operating system: processes,
// haproxy's master socket, the kernel's listening sockets and programs.
type system interface {
	// Cmdline returns a live process's argv, errGone when it is not alive.
	Cmdline(pid int) ([]string, error)
	// Find returns the live processes whose argv satisfies match.
	Find(match func(argv []string) bool) ([]Process, error)
	// Query sends one command to a haproxy CLI socket and returns the answer.
	Query(ctx context.Context, socket, command string) (string, error)
	// Listening lists the TCP sockets in LISTEN state, IPv4 and IPv6.
	Listening() ([]netip.AddrPort, error)
	// Run runs argv to its end and returns its output; the error is an
	// *exec.ExitError when it exited non-zero.
	Run(ctx context.Context, argv []string) (string, error)
}

// Process is a live process and its parent.
type Process struct {
	Pid, Parent int
}

// host is the system the agent runs on.
type host struct{}

// Cmdline reads /proc/<pid>/cmdline of a live, non-zombie process.
func (host) Cmdline(pid int) ([]string, error) {
	if !proc.Alive(pid) {
		return nil, errGone
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("read cmdline of %d: %w", pid, err)
	}
	raw = bytes.TrimRight(raw, "\x00")
	if len(raw) == 0 {
		return nil, nil
	}
	return strings.Split(string(raw), "\x00"), nil
}

// Find scans /proc.
func (h host) Find(match func([]string) bool) ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan /proc: %w", err)
	}
	self := os.Getpid()
	var found []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		argv, err := h.Cmdline(pid)
		if err != nil || !match(argv) {
			continue // gone meanwhile, a kernel thread, or not ours
		}
		parent, err := parentOf(pid)
		if err != nil {
			continue
		}
		found = append(found, Process{Pid: pid, Parent: parent})
	}
	return found, nil
}

// parentOf reads the ppid field of /proc/<pid>/stat.
func parentOf(pid int) (int, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat of %d", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("malformed stat of %d", pid)
	}
	return strconv.Atoi(f[1])
}

// maxAnswer bounds what one CLI answer may hold (show stat of thousands
// of servers stays well below it).
const maxAnswer = 32 << 20

// queryTimeout bounds one CLI exchange when the action's deadline is later.
const queryTimeout = 5 * time.Second

// Query connects, sends command, half-closes the connection so that the
// CLI answers and closes (the master CLI of HAProxy 2.6 keeps a connection
// open otherwise), and reads everything.
func (host) Query(ctx context.Context, socket, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := io.WriteString(conn, command+"\n"); err != nil {
		return "", fmt.Errorf("send %q: %w", command, err)
	}
	if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
		return "", fmt.Errorf("send %q: %w", command, err)
	}
	raw, err := io.ReadAll(io.LimitReader(conn, maxAnswer))
	if err != nil {
		return string(raw), fmt.Errorf("read answer to %q: %w", command, err)
	}
	return string(raw), nil
}

// Run runs argv with its output in a temporary file rather than a pipe:
// haproxy -D leaves a daemon behind that may hold the output open.
func (host) Run(ctx context.Context, argv []string) (string, error) {
	out, err := os.CreateTemp("", "goha-haproxy-*.out")
	if err != nil {
		return "", fmt.Errorf("create output file: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return "", err
	}
	defer devNull.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, out, out
	cmd.Dir = "/"
	// A session of its own: the daemon must outlive the agent and never
	// get the signals of the agent's process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	runErr := cmd.Run()
	raw, err := os.ReadFile(out.Name())
	if err != nil {
		return "", fmt.Errorf("read output of %s: %w", argv[0], err)
	}
	return string(raw), runErr
}

// tcpListen is the kernel's TCP_LISTEN state, as a sock_diag state bit.
const tcpListen = 10

// Listening asks the kernel for its listening TCP sockets over sock_diag,
// filtered in the kernel to the LISTEN state, so the answer stays small on
// a proxy with many connections.
func (host) Listening() ([]netip.AddrPort, error) {
	var all []netip.AddrPort
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		got, err := listening(family)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	return all, nil
}

func listening(family uint8) ([]netip.AddrPort, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 5}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("sock_diag timeout: %w", err)
	}
	// struct nlmsghdr, then struct inet_diag_req_v2 with an empty sockid.
	req := make([]byte, 16+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	req[16] = family
	req[17] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[20:], 1<<tcpListen)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag request: %w", err)
	}
	var out []netip.AddrPort
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag answer: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("sock_diag answer: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
					}
				}
				return out, nil
			}
			ap, ok := parseDiagMsg(m.Data)
			if ok {
				out = append(out, ap)
			}
		}
	}
}

// parseDiagMsg reads the family, source port and address of a struct
// inet_diag_msg.
func parseDiagMsg(b []byte) (netip.AddrPort, bool) {
	if len(b) < 72 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(b[4:6])
	var addr netip.Addr
	switch b[0] {
	case unix.AF_INET:
		addr = netip.AddrFrom4([4]byte(b[8:12]))
	case unix.AF_INET6:
		addr = netip.AddrFrom16([16]byte(b[8:24]))
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, port), true
}

// listenersPath holds the listeners of the configuration haproxy last
// started or reloaded with, which a monitor checks; it also marks a
// haproxy the agent started and has not stopped.
func listenersPath(c Config) string { return c.Pidfile + ".listeners" }

func saveListeners(c Config, ls []Listener) error {
	raw, err := json.Marshal(ls)
	if err != nil {
		return err
	}
	return atomicfile.Write(listenersPath(c), append(raw, '\n'), 0o644)
}

// loadListeners returns the saved listeners; ok is false without a file.
func loadListeners(c Config) (ls []Listener, ok bool, err error) {
	raw, err := os.ReadFile(listenersPath(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", listenersPath(c), err)
	}
	if err := json.Unmarshal(raw, &ls); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", listenersPath(c), err)
	}
	return ls, true, nil
}

// removeRunFiles deletes the pid file, the listeners file and the master
// socket of a stopped haproxy.
func removeRunFiles(c Config) error {
	for _, p := range []string{c.Pidfile, listenersPath(c), c.Socket} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}
