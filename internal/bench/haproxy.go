package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/loadgen"
	"github.com/goha-ha/goha/internal/proc"
)

// LoadCase is a comparison made under client load rather than per agent
// call: two ways of applying a change to a running service, each repeated
// while clients keep making requests, and what the clients saw.
type LoadCase struct {
	Name string
	// Run sets the service up, makes the cycles of both ways and tears it
	// all down again, reporting progress to log (nil for none).
	Run func(ctx context.Context, log io.Writer) (LoadResult, error)
}

// LoadResult is one load case measured: what the clients saw during the
// cycles of goha's way and of the reference way.
type LoadResult struct {
	Case            string
	Notes           string // how the service and the load were set up, one line
	Goha, Reference LoadSide
}

// LoadSide is what the clients saw while one way of applying a change was
// repeated: requests made and failed, and how long each cycle took.
type LoadSide struct {
	Way          string          // e.g. "ocf:goha:haproxy reload"
	Times        []time.Duration // wall time of each cycle (a reload, a restart)
	Requests     int64           // requests made, failed ones included
	Failed       int64           // requests without their full answer
	FailedCycles int             // cycles during which a request failed
	LongestGap   time.Duration   // longest time without a successful request
	Errors       []string        // the first few failures
}

// HAProxyReloadCycles is how many reloads, and then how many restarts, the
// haproxy case makes under load.
const HAProxyReloadCycles = 20

// The load of the haproxy case and its pacing.
const (
	haproxyClients = 4
	// haproxyFailurePause is how long a client waits after a failed
	// request: a refused connection fails at once, and clients retrying
	// at once would take the CPU the restart needs.
	haproxyFailurePause = 10 * time.Millisecond
	// haproxySettle is the load run before the first cycle and after each,
	// so that a request failing because of a cycle fails within it.
	haproxySettle = 250 * time.Millisecond
	// haproxyRequestTimeout bounds one client request.
	haproxyRequestTimeout = 5 * time.Second
	// haproxyActionTimeout is what ocf:goha:haproxy's meta-data gives start,
	// stop and reload.
	haproxyActionTimeout = 60 * time.Second
	haproxyResource      = "bench-haproxy"
	haproxyProgram       = "/usr/sbin/haproxy"
	// haproxyAnswer is the backend's body; a request expects exactly it.
	haproxyAnswer = "served by the goha bench backend\n"
)

// HAProxyReloadCase runs Debian's haproxy through ocf:goha:haproxy on
// loopback in front of an HTTP backend of the harness, with clients making
// requests back to back, and compares 20 reloads through the agent with 20
// restarts of the same haproxy by stop and start (SIGTERM, wait until gone,
// start again), which is what systemctl restart or a Pacemaker restart does.
func HAProxyReloadCase(cfg Config) LoadCase {
	agent := filepath.Join(cfg.AgentDir, "haproxy")
	return LoadCase{
		Name: "haproxy-reload",
		Run: func(ctx context.Context, log io.Writer) (LoadResult, error) {
			dir, err := os.MkdirTemp("", "goha-bench-haproxy-")
			if err != nil {
				return LoadResult{}, fmt.Errorf("create haproxy dir: %w", err)
			}
			defer os.RemoveAll(dir)
			return runHAProxyReload(ctx, agent, dir, HAProxyReloadCycles, log)
		},
	}
}

// runHAProxyReload is the haproxy case with its files in dir: cycles
// reloads, then cycles restarts, of one haproxy under load.
func runHAProxyReload(ctx context.Context, agent, dir string, cycles int, log io.Writer) (res LoadResult, err error) {
	const name = "haproxy-reload"
	logf := func(format string, args ...any) {
		if log != nil {
			fmt.Fprintf(log, "bench: %s: "+format+"\n", append([]any{name}, args...)...)
		}
	}
	if _, err := os.Stat(haproxyProgram); err != nil {
		return res, fmt.Errorf("haproxy case needs %s (apt-get install haproxy): %w", haproxyProgram, err)
	}
	backend, err := startBackend(haproxyAnswer)
	if err != nil {
		return res, err
	}
	defer backend.Close()
	front, err := freeLoopbackPort()
	if err != nil {
		return res, err
	}
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	backendPort := backend.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(cfgFile, []byte(haproxyConfig(front, backendPort)), 0o644); err != nil {
		return res, fmt.Errorf("write haproxy config: %w", err)
	}
	inv := Invocation{
		Agent: "ocf:goha:haproxy",
		Argv:  []string{agent},
		Env: []string{
			"OCF_RESOURCE_INSTANCE=" + haproxyResource,
			"OCF_RESKEY_config=" + cfgFile,
			"OCF_RESKEY_pidfile=" + filepath.Join(dir, "haproxy.pid"),
			"OCF_RESKEY_master_socket=" + filepath.Join(dir, "master.sock"),
			"HA_RSCTMP=" + dir,
		},
	}
	defer func() {
		if cerr := stopHAProxy(context.WithoutCancel(ctx), inv, cfgFile); cerr != nil && err == nil {
			err = cerr
		}
	}()

	logf("starting haproxy on 127.0.0.1:%d in front of 127.0.0.1:%d", front, backendPort)
	if err := startHAProxy(ctx, inv); err != nil {
		return res, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", front)
	get := loadgen.HTTPGet(url, haproxyAnswer, haproxyRequestTimeout)
	if err := get(ctx); err != nil {
		return res, fmt.Errorf("haproxy case: no answer through haproxy after start: %w", err)
	}

	req := func(ctx context.Context) error {
		err := get(ctx)
		if err != nil {
			sleepCtx(ctx, haproxyFailurePause)
		}
		return err
	}
	res = LoadResult{
		Case: name,
		Notes: fmt.Sprintf("haproxy %s (%s) in master-worker mode, started through ocf:goha:haproxy, mode http, "+
			"one frontend on loopback to one backend server, an HTTP server in the harness; %d clients make GET requests "+
			"back to back, each on a new connection (no keep-alive: every request goes through haproxy's listening socket), "+
			"and a request fails on any connection error, a %d s timeout, a status other than 200 or a wrong body; after a "+
			"failure a client waits %s, so the failed count grows with the length of an outage. "+
			"First %d reloads through the agent's reload action (haproxy -c, reload on the master socket, wait for the new "+
			"worker), then %d restarts of the same haproxy by the agent's stop and start (SIGTERM to the master and its "+
			"workers, wait until gone, haproxy -c, start, wait for the listener), as systemctl restart does; the load runs "+
			"%s before the first cycle and after each. A cycle's time is the wall time of its agent calls; the longest gap is "+
			"the longest time in which no client got an answer.",
			packageVersion(ctx, "haproxy"), haproxyProgram, haproxyClients, int(haproxyRequestTimeout.Seconds()),
			FormatDuration(haproxyFailurePause), cycles, cycles,
			FormatDuration(haproxySettle)),
	}
	res.Goha, err = underLoad(ctx, req, haproxyClients, cycles, haproxySettle, func(ctx context.Context) error {
		return runAction(ctx, inv, "reload", haproxyActionTimeout, 0)
	})
	res.Goha.Way = "ocf:goha:haproxy reload"
	if err != nil {
		return res, fmt.Errorf("haproxy case: %w", err)
	}
	logf("%d reloads: %d requests, %d failed", len(res.Goha.Times), res.Goha.Requests, res.Goha.Failed)
	res.Reference, err = underLoad(ctx, req, haproxyClients, cycles, haproxySettle, func(ctx context.Context) error {
		if err := runAction(ctx, inv, "stop", haproxyActionTimeout, 0); err != nil {
			return err
		}
		return startHAProxy(ctx, inv)
	})
	res.Reference.Way = "stop + start (a restart)"
	if err != nil {
		return res, fmt.Errorf("haproxy case: %w", err)
	}
	logf("%d restarts: %d requests, %d failed", len(res.Reference.Times), res.Reference.Requests, res.Reference.Failed)
	return res, nil
}

// underLoad starts clients making req, runs cycle cycles times with settle
// of load before the first and after each, and returns what the clients
// saw. A failing cycle ends the run.
func underLoad(ctx context.Context, req loadgen.Request, clients, cycles int, settle time.Duration, cycle func(context.Context) error) (side LoadSide, err error) {
	load := loadgen.Start(clients, req)
	defer func() {
		load.Stop()
		side.Requests = load.OK.Load() + load.Failed.Load()
		side.Failed = load.Failed.Load()
		side.LongestGap = load.LongestGap()
		side.Errors = load.Errors()
	}()
	if err := sleepCtx(ctx, settle); err != nil {
		return side, err
	}
	for i := 0; i < cycles; i++ {
		failed := load.Failed.Load()
		start := time.Now()
		err := cycle(ctx)
		side.Times = append(side.Times, time.Since(start))
		if err != nil {
			return side, fmt.Errorf("cycle %d of %d: %w", i+1, cycles, err)
		}
		if err := sleepCtx(ctx, settle); err != nil {
			return side, err
		}
		if load.Failed.Load() > failed {
			side.FailedCycles++
		}
	}
	return side, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// haproxyConfig is the configuration of the haproxy case: one HTTP
// frontend on 127.0.0.1:front to one server on 127.0.0.1:backend.
func haproxyConfig(front, backend int) string {
	return fmt.Sprintf(`global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend bench
    bind 127.0.0.1:%d
    default_backend app

backend app
    server app 127.0.0.1:%d
`, front, backend)
}

// startBackend serves answer to every HTTP request on a loopback port
// until the returned server is closed.
func startBackend(answer string) (*backendServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the backend: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
			io.WriteString(w, answer)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(l)
	return &backendServer{srv: srv, l: l}, nil
}

// backendServer is the HTTP backend of the haproxy case.
type backendServer struct {
	srv *http.Server
	l   net.Listener
}

// Addr is where the backend listens.
func (b *backendServer) Addr() net.Addr { return b.l.Addr() }

// Close ends the backend and its connections.
func (b *backendServer) Close() error { return b.srv.Close() }

// freeLoopbackPort returns a loopback TCP port nobody listens on right now.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startHAProxy starts haproxy through the agent invoked as inv. haproxy
// detaches from the agent; it must not become a child of the harness, which
// may be a child subreaper since an earlier case.
func startHAProxy(ctx context.Context, inv Invocation) error {
	return withoutSubreaper(func() error {
		return runAction(ctx, inv, "start", haproxyActionTimeout, 0)
	})
}

// stopHAProxy stops haproxy through the agent invoked as inv, then ends by
// pid any process still running with cfgFile, and fails if it had to.
func stopHAProxy(ctx context.Context, inv Invocation, cfgFile string) error {
	stopErr := runAction(ctx, inv, "stop", haproxyActionTimeout, 0)
	left, err := processesWithArg(cfgFile)
	if err != nil {
		return errors.Join(stopErr, err)
	}
	if len(left) == 0 {
		return stopErr
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	termErr := proc.Terminate(ctx, left, time.Now().Add(5*time.Second))
	return errors.Join(stopErr, fmt.Errorf("haproxy processes %v outlived the stop", left), termErr)
}

// processesWithArg lists the live processes that have arg among their
// command-line arguments.
func processesWithArg(arg string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !proc.Alive(pid) {
			continue // gone meanwhile
		}
		if slices.Contains(strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00"), arg) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Check tells whether r meets the load goal: goha's way failed no request,
// over enough requests to mean something, while the reference way failed
// some (a load that cannot see a dropped connection proves nothing).
func (r LoadResult) Check() (bool, string) {
	g, ref := r.Goha, r.Reference
	var missed []string
	if g.Failed > 0 {
		missed = append(missed, fmt.Sprintf("%d failed requests in %d of %d cycles", g.Failed, g.FailedCycles, len(g.Times)))
	}
	if min := int64(10 * len(g.Times)); g.Requests < min || len(g.Times) == 0 {
		missed = append(missed, fmt.Sprintf("only %d requests over %d cycles, want at least 10 a cycle", g.Requests, len(g.Times)))
	}
	if ref.Failed == 0 {
		missed = append(missed, "the reference way failed no request either: the load did not see its outages")
	}
	if len(missed) > 0 {
		return false, strings.Join(missed, "; ")
	}
	return true, ""
}

// loadGoal is the goal of every load case in the table's words.
const loadGoal = "0 failed requests"

// WriteLoadResults writes the markdown section of the load cases: one row
// per way, the goal on goha's, and each case's notes below the table.
func WriteLoadResults(w io.Writer, results []LoadResult) error {
	var b strings.Builder
	b.WriteString("## Under load\n\n")
	b.WriteString("| case | way | cycles | requests | failed | cycles with a failure | longest gap | cycle p50 | cycle max | goal |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, res := range results {
		goal := "met (" + loadGoal + ")"
		if ok, why := res.Check(); !ok {
			goal = "**missed** (" + why + ")"
		}
		for _, s := range []struct {
			LoadSide
			goal string
		}{{res.Goha, goal}, {res.Reference, ""}} {
			var times []float64
			for _, t := range s.Times {
				times = append(times, float64(t))
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %s | %s | %s | %s |\n", res.Case, s.Way, len(s.Times),
				s.Requests, s.Failed, s.FailedCycles, FormatDuration(s.LongestGap),
				FormatDuration(time.Duration(Percentile(times, 50))), FormatDuration(time.Duration(Percentile(times, 100))),
				s.goal)
		}
	}
	b.WriteString("\n")
	for _, res := range results {
		if res.Notes != "" {
			fmt.Fprintf(&b, "- %s: %s\n", res.Case, res.Notes)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
