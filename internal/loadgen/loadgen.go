// Package loadgen runs clients that make requests back to back against a
// server while something else happens to it (a reload, a restart, a
// failover), and counts the requests that succeed and those that fail. A
// reload is seamless exactly when such a load sees no failure; the
// component tests and make bench both ask that of their services.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Request makes one request and returns nil when the whole answer came
// back as expected.
type Request func(ctx context.Context) error

// maxErrors is how many failures a Load keeps the text of.
const maxErrors = 10

// Load is a set of clients making requests until Stop.
type Load struct {
	OK, Failed atomic.Int64 // requests answered in full, and the others

	lastOK  atomic.Int64 // unix nanoseconds of the latest success
	longest atomic.Int64 // the longest time between two successes

	mu     sync.Mutex
	errors []string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start starts clients goroutines, each making req back to back until Stop.
func Start(clients int, req Request) *Load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{cancel: cancel}
	l.lastOK.Store(time.Now().UnixNano())
	for i := 0; i < clients; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				l.record(ctx, req(ctx))
			}
		}()
	}
	return l
}

// record counts the outcome of one request. A request cut short by Stop
// counts as neither.
func (l *Load) record(ctx context.Context, err error) {
	if err == nil {
		l.OK.Add(1)
		now := time.Now().UnixNano()
		gap := now - l.lastOK.Swap(now)
		for {
			cur := l.longest.Load()
			if gap <= cur || l.longest.CompareAndSwap(cur, gap) {
				return
			}
		}
	}
	if ctx.Err() != nil {
		return
	}
	l.Failed.Add(1)
	l.mu.Lock()
	if len(l.errors) < maxErrors {
		l.errors = append(l.errors, err.Error())
	}
	l.mu.Unlock()
}

// Stop ends the clients and waits for them.
func (l *Load) Stop() {
	l.cancel()
	l.wg.Wait()
}

// Errors returns the text of the first few failures.
func (l *Load) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// LongestGap is the longest time the clients went without a success, from
// Start to the latest success: how long the service was lost to them.
func (l *Load) LongestGap() time.Duration {
	return time.Duration(l.longest.Load())
}

// TCPEcho returns a Request that connects to addr, sends a line and expects
// it echoed, each on a new connection, within timeout.
func TCPEcho(addr string, timeout time.Duration) Request {
	msg := []byte("ping\n")
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		deadline, _ := ctx.Deadline()
		c.SetDeadline(deadline)
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("write to %s: %w", addr, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("read echo from %s: %w", addr, err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo from %s: %q, want %q", addr, got, msg)
		}
		return nil
	}
}

// HTTPGet returns a Request that fetches url on a new connection each time
// (no keep-alive, so every request goes through the server's listening
// socket) and expects status 200 with body want, within timeout.
func HTTPGet(url, want string, timeout time.Duration) Request {
	client := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(want))+512))
		if err != nil {
			return fmt.Errorf("GET %s: read body: %w", url, err)
		}
		if resp.StatusCode != http.StatusOK || string(body) != want {
			return fmt.Errorf("GET %s: %s %q, want 200 %q", url, resp.Status, body, want)
		}
		return nil
	}
}
