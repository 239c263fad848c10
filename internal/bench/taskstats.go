package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Exit is the kernel's account of one task (process or thread) at its exit,
// as taskstats reports it.
type Exit struct {
	PID, TGID, PPID int   // TGID is the process; PID the thread
	HiwaterRSS      int64 // KiB: the peak resident set of the task's memory after its last exec
}

// TreeUsage is what the process tree under one root did, from exit records.
type TreeUsage struct {
	Processes int   // the root and every process descended from it
	Threads   int   // tasks other than a process's first thread
	MaxRSS    int64 // KiB, the largest HiwaterRSS of any process in the tree
}

// UsageOf finds the tree rooted at process root among exits (which may hold
// any task on the machine) and sums it up. A task belongs to the tree when
// its parent process does; records may come in any order, since children
// usually exit before their parents.
func UsageOf(root int, exits []Exit) TreeUsage {
	in := map[int]bool{root: true}
	for grown := true; grown; {
		grown = false
		for _, e := range exits {
			if !in[e.TGID] && in[e.PPID] {
				in[e.TGID] = true
				grown = true
			}
		}
	}
	var u TreeUsage
	procs := map[int]bool{}
	for _, e := range exits {
		if !in[e.TGID] {
			continue
		}
		procs[e.TGID] = true
		if e.PID != e.TGID {
			u.Threads++
		}
		u.MaxRSS = max(u.MaxRSS, e.HiwaterRSS)
	}
	u.Processes = len(procs)
	return u
}

// ExitWatcher receives a taskstats record for every task that exits on the
// machine (Linux taskstats over generic netlink, CONFIG_TASKSTATS with
// CONFIG_TASK_XACCT). Unlike ru_maxrss, which a child inherits from the
// memory of the process that forked it until it execs, the record holds
// the peak RSS of the task's own program; and it comes for every call
// without slowing it down the way ptrace does.
type ExitWatcher struct {
	fd     int
	family uint16
	buf    []byte
}

// NewExitWatcher registers for exit records of every possible CPU. It must
// be called from a thread in the initial network namespace: the kernel
// sends taskstats only to sockets there.
func NewExitWatcher() (*ExitWatcher, error) {
	fam, err := netlink.GenlFamilyGet("TASKSTATS")
	if err != nil {
		return nil, fmt.Errorf("taskstats: find the generic netlink family: %w", err)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("taskstats: socket: %w", err)
	}
	w := &ExitWatcher{fd: fd, family: fam.ID, buf: make([]byte, 1<<16)}
	// Records of the rest of the machine arrive too: make room for bursts.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		w.Close()
		return nil, fmt.Errorf("taskstats: bind: %w", err)
	}
	cpus, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("taskstats: %w", err)
	}
	mask := append([]byte(strings.TrimSpace(string(cpus))), 0)
	if err := w.request(unix.TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, mask); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// request sends one TASKSTATS_CMD_GET with a single attribute and reads
// the kernel's acknowledgement.
func (w *ExitWatcher) request(attr uint16, data []byte) error {
	alen := unix.NLA_HDRLEN + len(data)
	msg := make([]byte, unix.NLMSG_HDRLEN+unix.GENL_HDRLEN+nlaAlign(alen))
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], w.family)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(msg[8:], 1) // sequence
	msg[unix.NLMSG_HDRLEN] = unix.TASKSTATS_CMD_GET
	msg[unix.NLMSG_HDRLEN+1] = 1 // TASKSTATS_GENL_VERSION
	a := msg[unix.NLMSG_HDRLEN+unix.GENL_HDRLEN:]
	ne.PutUint16(a[0:], uint16(alen))
	ne.PutUint16(a[2:], attr)
	copy(a[unix.NLA_HDRLEN:], data)
	if err := unix.Sendto(w.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("taskstats: register: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(w.fd, w.buf, 0)
		if err != nil {
			return fmt.Errorf("taskstats: register: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(w.buf[:n])
		if err != nil {
			return fmt.Errorf("taskstats: register: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
				if errno := int32(ne.Uint32(m.Data)); errno != 0 {
					return fmt.Errorf("taskstats: register: %w", unix.Errno(-errno))
				}
				return nil
			}
		}
	}
}

// Drain returns every record received since the last Drain, without
// waiting. An error means records were lost (the socket overflowed), so
// the call they cover is not fully accounted.
func (w *ExitWatcher) Drain() ([]Exit, error) {
	var out []Exit
	for {
		n, _, err := unix.Recvfrom(w.fd, w.buf, unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return out, nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return out, fmt.Errorf("taskstats: receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(w.buf[:n])
		if err != nil {
			return out, fmt.Errorf("taskstats: parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != w.family || len(m.Data) < unix.GENL_HDRLEN {
				continue
			}
			out = append(out, parseExit(m.Data[unix.GENL_HDRLEN:])...)
		}
	}
}

// Close stops the records.
func (w *ExitWatcher) Close() {
	if w != nil && w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

func nlaAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

// attrs splits a run of netlink attributes into (type, payload) pairs.
func attrs(b []byte, fn func(typ uint16, data []byte)) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLA_HDRLEN {
		l := int(ne.Uint16(b[0:]))
		if l < unix.NLA_HDRLEN || l > len(b) {
			return
		}
		fn(ne.Uint16(b[2:])&^unix.NLA_F_NESTED, b[unix.NLA_HDRLEN:l])
		if nlaAlign(l) >= len(b) {
			return
		}
		b = b[nlaAlign(l):]
	}
}

// parseExit reads the per-task records (TASKSTATS_TYPE_AGGR_PID) of one
// message; the per-process sums (AGGR_TGID) are not needed.
func parseExit(b []byte) []Exit {
	var out []Exit
	attrs(b, func(typ uint16, data []byte) {
		if typ != unix.TASKSTATS_TYPE_AGGR_PID {
			return
		}
		attrs(data, func(typ uint16, data []byte) {
			if typ != unix.TASKSTATS_TYPE_STATS {
				return
			}
			var ts unix.Taskstats
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts)), data)
			e := Exit{PID: int(ts.Ac_pid), TGID: int(ts.Ac_tgid), PPID: int(ts.Ac_ppid), HiwaterRSS: int64(ts.Hiwater_rss)}
			if ts.Version < 13 || e.TGID == 0 { // no ac_tgid before version 13
				e.TGID = e.PID
			}
			out = append(out, e)
		})
	})
	return out
}
