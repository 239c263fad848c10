package ocf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is an exclusive lock on one resource instance, held for the duration
// of an action so that a manual crm_resource --force-* and Pacemaker's own
// operation on the same instance never interleave.
type Lock struct{ f *os.File }

// LockDir is where instance locks live: HA_RSCTMP, as for the shell agents.
func LockDir(getenv func(string) string) string {
	if d := getenv("HA_RSCTMP"); d != "" {
		return d
	}
	return "/run/resource-agents"
}

// lockName keeps a resource id safe as a file name.
func lockName(agent, resource string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, resource)
	return "goha-" + agent + "-" + clean + ".lock"
}

// AcquireLock waits for the instance lock until ctx is done.
func AcquireLock(ctx context.Context, dir, agent, resource string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create lock dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockName(agent, resource))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// Release drops the lock.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
	}
}
