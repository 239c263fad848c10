package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ipCommand runs ip(8) with args and returns its error with its stderr.
func ipCommand(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Veth is a network namespace holding one veth pair with both ends up and
// an address on the first: a link an address agent can manage without
// touching the host's network.
type Veth struct {
	Netns  string // name under /run/netns
	Link   string // the end the agents put their addresses on
	Peer   string
	Prefix string // address given to Link, e.g. "192.0.2.1/24"
}

// Create makes the namespace, the pair and the address. On error it
// removes what it made.
func (v Veth) Create(ctx context.Context) error {
	if err := ipCommand(ctx, "netns", "add", v.Netns); err != nil {
		return fmt.Errorf("create network namespace: %w", err)
	}
	steps := [][]string{
		{"-n", v.Netns, "link", "set", "lo", "up"},
		{"-n", v.Netns, "link", "add", v.Link, "type", "veth", "peer", "name", v.Peer},
		{"-n", v.Netns, "link", "set", v.Link, "up"},
		{"-n", v.Netns, "link", "set", v.Peer, "up"},
		{"-n", v.Netns, "addr", "add", v.Prefix, "dev", v.Link},
	}
	for _, args := range steps {
		if err := ipCommand(ctx, args...); err != nil {
			v.Delete(context.WithoutCancel(ctx))
			return fmt.Errorf("set up %s: %w", v.Netns, err)
		}
	}
	return nil
}

// Delete removes the namespace and with it the pair and every address.
func (v Veth) Delete(ctx context.Context) error {
	if err := ipCommand(ctx, "netns", "delete", v.Netns); err != nil {
		return fmt.Errorf("delete network namespace: %w", err)
	}
	return nil
}

// ProcessesIn lists the processes whose network namespace is the named one.
func ProcessesIn(netns string) ([]int, error) {
	var st, pst = new(statIno), new(statIno)
	if err := st.of(NetnsPath(netns)); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if pst.of(filepath.Join("/proc", e.Name(), "ns", "net")) == nil && *pst == *st {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// WaitIdle waits until no process runs in the namespace (for example an
// agent's background ARP announcements after start), so that measuring
// starts on a quiet namespace.
func WaitIdle(ctx context.Context, netns string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		pids, err := ProcessesIn(netns)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processes %v still run in %s after %v", pids, netns, limit)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// statIno identifies a namespace: the device and inode its file stats to.
type statIno struct{ dev, ino uint64 }

func (s *statIno) of(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	*s = statIno{dev: st.Dev, ino: st.Ino}
	return nil
}
