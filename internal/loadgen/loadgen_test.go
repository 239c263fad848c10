package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer echoes on a loopback port until the test ends.
func echoServer(t *testing.T) (net.Listener, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return l, l.Addr().String()
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestTCPEchoCountsSuccessesThenFailures(t *testing.T) {
	l, addr := echoServer(t)
	load := Start(3, TCPEcho(addr, time.Second))
	waitFor(t, "successes", func() bool { return load.OK.Load() >= 50 })
	if n := load.Failed.Load(); n != 0 {
		load.Stop()
		t.Fatalf("%d failures against a live server: %q", n, load.Errors())
	}
	// Nobody listens any more: every connection is refused.
	l.Close()
	waitFor(t, "failures", func() bool { return load.Failed.Load() >= 10 })
	load.Stop()
	errs := load.Errors()
	if len(errs) != maxErrors {
		t.Errorf("kept %d error texts, want %d", len(errs), maxErrors)
	}
	// Connections queued when the listener closed are reset; the later
	// ones are refused.
	if !strings.Contains(errs[len(errs)-1], "refused") {
		t.Errorf("failures %q, want refused connections last", errs)
	}
	ok := load.OK.Load()
	time.Sleep(20 * time.Millisecond)
	if load.OK.Load() != ok {
		t.Error("clients still run after Stop")
	}
}

func TestLongestGapSpansAnOutage(t *testing.T) {
	var up atomic.Bool
	up.Store(true)
	load := Start(2, func(ctx context.Context) error {
		time.Sleep(time.Millisecond)
		if !up.Load() {
			return errors.New("down")
		}
		return nil
	})
	waitFor(t, "successes", func() bool { return load.OK.Load() >= 20 })
	up.Store(false)
	time.Sleep(150 * time.Millisecond)
	up.Store(true)
	n := load.OK.Load()
	waitFor(t, "successes after the outage", func() bool { return load.OK.Load() > n+10 })
	load.Stop()
	if g := load.LongestGap(); g < 150*time.Millisecond || g > 2*time.Second {
		t.Errorf("longest gap %s, want about the 150 ms outage", g)
	}
	if load.Failed.Load() == 0 {
		t.Error("no failure counted during the outage")
	}
}

func TestStopIsNotAFailure(t *testing.T) {
	// Every request blocks until it is cancelled by Stop.
	started := make(chan struct{}, 4)
	load := Start(4, func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	for i := 0; i < 4; i++ {
		<-started
	}
	load.Stop()
	if ok, failed := load.OK.Load(), load.Failed.Load(); ok != 0 || failed != 0 {
		t.Errorf("requests cut short by Stop: %d ok, %d failed, want none counted", ok, failed)
	}
}

func TestHTTPGet(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/teapot" {
				w.WriteHeader(http.StatusTeapot)
			}
			io.WriteString(w, "ok\n")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + l.Addr().String()
	ctx := context.Background()

	get := HTTPGet(base+"/", "ok\n", time.Second)
	for i := 0; i < 5; i++ {
		if err := get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 5 {
		t.Errorf("5 requests took %d connections, want one each", n)
	}
	for _, c := range []struct {
		req  Request
		want string
	}{
		{HTTPGet(base+"/", "other\n", time.Second), `200 OK "ok\n", want 200 "other\n"`},
		{HTTPGet(base+"/teapot", "ok\n", time.Second), "418 I'm a teapot"},
	} {
		if err := c.req(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one with %q", err, c.want)
		}
	}
}
