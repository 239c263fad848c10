package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/loadgen"
	"github.com/goha-ha/goha/internal/testbuild"
)

func loadSide(way string, cycles int, requests, failed int64, failedCycles int) LoadSide {
	s := LoadSide{Way: way, Requests: requests, Failed: failed, FailedCycles: failedCycles, LongestGap: 3 * time.Millisecond}
	for i := 0; i < cycles; i++ {
		s.Times = append(s.Times, time.Duration(10+i)*time.Millisecond)
	}
	return s
}

func TestLoadResultCheck(t *testing.T) {
	for _, c := range []struct {
		name       string
		goha, ref  LoadSide
		ok         bool
		whyMention string
	}{
		{"seamless reloads, lossy restarts", loadSide("reload", 20, 40000, 0, 0), loadSide("restart", 20, 30000, 500, 20), true, ""},
		{"a reload lost requests", loadSide("reload", 20, 40000, 3, 2), loadSide("restart", 20, 30000, 500, 20), false, "3 failed requests in 2 of 20 cycles"},
		{"too few requests", loadSide("reload", 20, 150, 0, 0), loadSide("restart", 20, 30000, 500, 20), false, "only 150 requests over 20 cycles"},
		{"no cycle at all", loadSide("reload", 0, 0, 0, 0), loadSide("restart", 20, 30000, 500, 20), false, "only 0 requests over 0 cycles"},
		{"a load blind to outages", loadSide("reload", 20, 40000, 0, 0), loadSide("restart", 20, 30000, 0, 0), false, "did not see its outages"},
	} {
		ok, why := LoadResult{Case: "x", Goha: c.goha, Reference: c.ref}.Check()
		if ok != c.ok || !strings.Contains(why, c.whyMention) || (ok && why != "") {
			t.Errorf("%s: Check = %v %q, want %v mentioning %q", c.name, ok, why, c.ok, c.whyMention)
		}
	}
}

func TestWriteLoadResults(t *testing.T) {
	met := LoadResult{Case: "haproxy-reload", Notes: "how it was set up",
		Goha: loadSide("ocf:goha:haproxy reload", 20, 41234, 0, 0), Reference: loadSide("stop + start (a restart)", 20, 30123, 812, 20)}
	met.Reference.LongestGap = 85 * time.Millisecond
	missed := LoadResult{Case: "other", Goha: loadSide("reload", 4, 1000, 7, 1), Reference: loadSide("restart", 4, 900, 50, 4)}
	var b bytes.Buffer
	if err := WriteLoadResults(&b, []LoadResult{met, missed}); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, line := range []string{
		"## Under load",
		"| case | way | cycles | requests | failed | cycles with a failure | longest gap | cycle p50 | cycle max | goal |",
		// 20 cycles of 10..29 ms: p50 19.5 ms, max 29 ms.
		"| haproxy-reload | ocf:goha:haproxy reload | 20 | 41234 | 0 | 0 | 3.00 ms | 19.5 ms | 29.0 ms | met (0 failed requests) |",
		"| haproxy-reload | stop + start (a restart) | 20 | 30123 | 812 | 20 | 85.0 ms | 19.5 ms | 29.0 ms |  |",
		"| other | reload | 4 | 1000 | 7 | 1 | 3.00 ms | 11.5 ms | 13.0 ms | **missed** (7 failed requests in 1 of 4 cycles) |",
		"- haproxy-reload: how it was set up",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("section lacks line %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "- other:") {
		t.Errorf("a case without notes got a notes line:\n%s", got)
	}
}

func TestHAProxyReloadCaseDeclaration(t *testing.T) {
	cases := LoadCases(Config{AgentDir: "/agents", OCFRoot: "/usr/lib/ocf"})
	if len(cases) != 1 || cases[0].Name != "haproxy-reload" || cases[0].Run == nil {
		t.Fatalf("load cases %+v, want the haproxy reload case", cases)
	}
	cfg := haproxyConfig(18080, 18081)
	for _, want := range []string{"mode http", "bind 127.0.0.1:18080\n", "server app 127.0.0.1:18081\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("haproxy config lacks %q:\n%s", want, cfg)
		}
	}
}

// TestHAProxyConfigAccepted has haproxy check the case's configuration,
// which needs no root.
func TestHAProxyConfigAccepted(t *testing.T) {
	if _, err := os.Stat(haproxyProgram); err != nil {
		t.Skipf("needs %s (apt-get install haproxy): %v", haproxyProgram, err)
	}
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(haproxyConfig(18080, 18081)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxyProgram, "-c", "-f", file).CombinedOutput(); err != nil {
		t.Errorf("haproxy -c rejects the case's configuration: %v\n%s", err, out)
	}
}

// TestUnderLoad runs the cycle loop against the harness's own backend: a
// cycle that does nothing fails no request, a cycle that closes the
// listening socket for a while fails requests in every cycle and shows as
// a gap.
func TestUnderLoad(t *testing.T) {
	backend, err := startBackend("answer\n")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	// A front that forwards to the backend and can be closed and
	// reopened on the same port, like a restarting proxy.
	var front atomic.Pointer[net.TCPListener]
	open := func(port int) {
		t.Helper()
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Fatal(err)
		}
		front.Store(l)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go forward(c, backend.Addr().String())
			}
		}()
	}
	open(0)
	port := front.Load().Addr().(*net.TCPAddr).Port
	defer func() { front.Load().Close() }()
	req := loadgen.HTTPGet("http://"+front.Load().Addr().String()+"/", "answer\n", 2*time.Second)
	ctx := context.Background()

	quiet, err := underLoad(ctx, req, 2, 3, 50*time.Millisecond, func(context.Context) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(quiet.Times) != 3 || quiet.Failed != 0 || quiet.FailedCycles != 0 || quiet.Requests < 10 {
		t.Errorf("no-op cycles: %+v", quiet)
	}

	restarts, err := underLoad(ctx, req, 2, 3, 50*time.Millisecond, func(context.Context) error {
		front.Load().Close()
		time.Sleep(60 * time.Millisecond)
		open(port)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The gap runs between two successes, and a request answered just
	// before a close ends inside the outage: half of it is the bound a busy
	// machine still keeps.
	if restarts.FailedCycles != 3 || restarts.Failed == 0 || restarts.LongestGap < 30*time.Millisecond ||
		len(restarts.Errors) == 0 || restarts.Requests <= restarts.Failed {
		t.Errorf("closing cycles: %+v", restarts)
	}
	for _, d := range restarts.Times {
		if d < 60*time.Millisecond {
			t.Errorf("cycle times %v, each should hold its 60 ms outage", restarts.Times)
			break
		}
	}

	boom := errors.New("boom")
	n := 0
	failing, err := underLoad(ctx, req, 1, 5, 10*time.Millisecond, func(context.Context) error {
		if n++; n == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "cycle 2 of 5") || len(failing.Times) != 2 || failing.Requests == 0 {
		t.Errorf("failing cycle: %v, %+v", err, failing)
	}
}

// forward copies between c and a new connection to addr until either ends.
func forward(c net.Conn, addr string) {
	defer c.Close()
	b, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
}

// TestHAProxyReloadUnderLoad runs the case on the real haproxy: 20 reloads
// through the agent fail no request while 20 restarts fail some, and
// nothing of haproxy or its files is left afterwards.
func TestHAProxyReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs haproxy under load for about half a minute: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the agent writes its run files and reads every process in /proc")
	}
	if _, err := os.Stat(haproxyProgram); err != nil {
		t.Skipf("needs %s (apt-get install haproxy): %v", haproxyProgram, err)
	}
	agents := t.TempDir()
	if _, err := testbuild.Main(agents, "haproxy", "./agents/haproxy/internal/haproxycmd"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	t.Cleanup(func() {
		left, err := processesWithArg(cfgFile)
		if err != nil {
			t.Error(err)
		}
		for _, pid := range left {
			t.Errorf("haproxy pid %d outlived the case; killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := runHAProxyReload(ctx, filepath.Join(agents, "haproxy"), dir, HAProxyReloadCycles, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	took := time.Since(start)
	var md bytes.Buffer
	if err := WriteLoadResults(&md, []LoadResult{res}); err != nil {
		t.Fatal(err)
	}
	t.Logf("in %s:\n%s", took.Round(time.Millisecond), md.String())

	if ok, why := res.Check(); !ok {
		t.Errorf("goal missed: %s; goha's first failures %q", why, res.Goha.Errors)
	}
	for _, s := range []LoadSide{res.Goha, res.Reference} {
		if len(s.Times) != HAProxyReloadCycles {
			t.Errorf("%s: %d cycles, want %d", s.Way, len(s.Times), HAProxyReloadCycles)
		}
	}
	if res.Reference.FailedCycles == 0 || len(res.Reference.Errors) == 0 {
		t.Errorf("restarts: %d failed requests in %d cycles, errors %q: a restart must refuse connections",
			res.Reference.Failed, res.Reference.FailedCycles, res.Reference.Errors)
	}
	left, err := processesWithArg(cfgFile)
	if err != nil || len(left) != 0 {
		t.Errorf("haproxy left after the case: %v %v", left, err)
	}
	for _, f := range []string{"haproxy.pid", "master.sock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("the case left %s", f)
		}
	}
}
