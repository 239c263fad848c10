package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// turn is this process's hold on the machine's lab turn.
var turn struct {
	sync.Mutex
	f *os.File
}

// TakeTurn waits until no other process on this machine holds the lab turn
// and keeps it until this process exits (flock ties it to the open file).
// Tests take it before their labs: two test processes running labs at once
// share the machine's cores and their failover timings stop meaning
// anything. It is taken once per process, so one process's labs never wait
// on each other; waited says how long this call waited for another process.
func TakeTurn() (waited time.Duration, err error) {
	turn.Lock()
	defer turn.Unlock()
	if turn.f != nil {
		return 0, nil
	}
	if err := os.MkdirAll(DefaultRunRoot, 0o755); err != nil {
		return 0, fmt.Errorf("lab turn: %w", err)
	}
	path := filepath.Join(DefaultRunRoot, ".turn")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("lab turn: %w", err)
	}
	start := time.Now()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return 0, fmt.Errorf("lab turn %s: %w", path, err)
	}
	turn.f = f
	return time.Since(start), nil
}
