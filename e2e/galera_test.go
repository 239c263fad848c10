package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/agents"
	"github.com/goha-ha/goha/internal/bench"
	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/labmariadb"
)

// galeraAgentEnv names the Galera agent the scenarios drive, e.g.
// GOHA_GALERA_AGENT=ocf:heartbeat:galera; by default ocf:goha:galera once
// it is registered, else the reference agent for the scenarios it is known
// to pass.
const galeraAgentEnv = "GOHA_GALERA_AGENT"

// galeraAgent returns the agent under test and whether every scenario
// applies to it (false: the reference agent stands in for a goha agent
// that is not built yet, and only the cold start and scenario 1 run).
func galeraAgent() (agent string, all bool) {
	if a := os.Getenv(galeraAgentEnv); a != "" {
		return a, true
	}
	if agents.Lookup("galera") != nil {
		return labmariadb.AgentGoha, true
	}
	return labmariadb.AgentReference, false
}

// galeraNeeds skips the test unless MariaDB and Galera are installed.
func galeraNeeds(t *testing.T) {
	t.Helper()
	labNeeds(t)
	var missing []string
	for _, p := range []string{"/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/mariadb", labmariadb.ProviderLib, "/usr/bin/rsync", "/usr/bin/wsrep_sst_rsync"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Skipf("the Galera scenarios need %s (mariadb-server, galera-4, rsync; make deps installs them)", strings.Join(missing, ", "))
	}
}

// galeraFixture is a lab running the Galera clone, a writer on a client of
// the lab, and what the scenarios measured. Its lab and writer belong to
// the top-level test, so that scenarios (subtests) can share them and
// replace them.
type galeraFixture struct {
	parent *testing.T
	agent  string
	nodes  int
	binary string // goha built once for every lab of the test
	l      *lab.Lab
	w      *labmariadb.Writer
	timing map[string][]float64 // bench scenario name -> seconds
	// afterHealthy, set by a scenario's fault, checks how the cluster
	// recovered once it is whole again.
	afterHealthy func(t *testing.T)
}

// newGaleraFixture builds the lab and the cluster; the lab goes away when
// the test ends.
func newGaleraFixture(t *testing.T, agent string, nodes int) *galeraFixture {
	t.Helper()
	galeraNeeds(t)
	t.Cleanup(func() {
		if err := labmariadb.RemoveSharedTemplate(); err != nil {
			t.Errorf("remove galera template: %v", err)
		}
	})
	fx := &galeraFixture{parent: t, agent: agent, nodes: nodes, binary: labBinary(t), timing: map[string][]float64{}}
	fx.build(t)
	return fx
}

// build brings a lab up, creates the Galera clone and the writer, and
// logs the cold start time; t is the test that fails if it cannot. The lab
// and the writer are cleaned up when the top-level test ends (or earlier,
// by a rebuild).
func (fx *galeraFixture) build(t *testing.T) {
	t.Helper()
	var ocf []string
	for _, a := range []string{"vip", "galera"} {
		if agents.Lookup(a) != nil {
			ocf = append(ocf, a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	name := fmt.Sprintf("gal%d-%d", os.Getpid()%1000000, fx.nodes)
	holdLabTurn(t)
	upStart := time.Now()
	l, err := lab.Up(ctx, lab.Config{
		Name: name, Nodes: fx.nodes, Binary: fx.binary, OCFAgents: ocf,
		Hooks: []lab.NodeHook{labmariadb.Hook()}, OnlineTimeout: 2 * time.Minute,
		// The parent outlives every scenario that may use the lab.
		Logf: fx.parent.Logf,
	})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	fx.parent.Cleanup(func() {
		if _, err := l.State(); err != nil {
			return // already down
		}
		if err := l.Down(context.Background()); err != nil {
			fx.parent.Errorf("lab down: %v", err)
		}
	})
	fx.l = l
	t.Logf("lab %s: %d nodes up in %s", name, fx.nodes, time.Since(upStart).Round(100*time.Millisecond))
	begin := time.Now()
	if err := labmariadb.Create(ctx, l, fx.agent); err != nil {
		t.Fatal(err)
	}
	fx.waitHealthy(t, ctx, "cold start")
	cold := time.Since(begin)
	t.Logf("cold start with %s: all %d promoted and Synced %s after the resource was created", fx.agent, fx.nodes, cold.Round(100*time.Millisecond))
	timing := "cold start"
	if fx.nodes != 3 {
		timing = fmt.Sprintf("cold start %d nodes", fx.nodes)
	}
	fx.checkColdJoins(t)
	if !t.Failed() {
		fx.record(timing, cold)
	}
	w, err := labmariadb.NewWriter(ctx, l, "c1", l.Nodes())
	if err != nil {
		t.Fatal(err)
	}
	fx.parent.Cleanup(w.Close)
	fx.w = w
}

// checkColdJoins checks how the servers joined at the cold start: from
// fresh data directories one node bootstraps and the others need a full
// copy (SST).
func (fx *galeraFixture) checkColdJoins(t *testing.T) {
	t.Helper()
	boot := 0
	for _, n := range fx.l.Nodes() {
		j := fx.lastJoin(t, n)
		t.Logf("%s joined by %s (donor %q, %d write sets by IST)", n, j.Method, j.Donor, j.Writesets)
		switch j.Method {
		case labmariadb.JoinBootstrap:
			boot++
		case labmariadb.JoinSST:
		default:
			t.Errorf("%s joined by %q at the cold start, want SST or bootstrap", n, j.Method)
		}
	}
	if boot != 1 {
		t.Errorf("%d nodes bootstrapped at the cold start, want 1", boot)
	}
}

// lastJoin reads how node last joined from its error log.
func (fx *galeraFixture) lastJoin(t *testing.T, node string) labmariadb.Join {
	t.Helper()
	j, err := labmariadb.LastJoinOf(fx.l, node)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// record keeps a timing for the bench report.
func (fx *galeraFixture) record(name string, d time.Duration) {
	fx.timing[name] = append(fx.timing[name], d.Seconds())
}

// waitHealthy waits until every node's instance is promoted and every
// server Synced in a primary component of all nodes.
func (fx *galeraFixture) waitHealthy(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	nodes := fx.l.Nodes()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := labmariadb.WaitAllPromoted(wctx, fx.l, nodes); err != nil {
		fx.dumpLogs(t)
		t.Fatalf("%s: %v", what, err)
	}
	if _, err := labmariadb.WaitSynced(wctx, fx.l, nodes); err != nil {
		fx.dumpLogs(t)
		t.Fatalf("%s: %v", what, err)
	}
}

// healthy reports whether the cluster is whole now (within a minute), for
// deciding whether a scenario can reuse the lab.
func (fx *galeraFixture) healthy(ctx context.Context) error {
	nodes := fx.l.Nodes()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := fx.l.WaitOnline(wctx); err != nil {
		return err
	}
	if err := labmariadb.WaitAllPromoted(wctx, fx.l, nodes); err != nil {
		return err
	}
	_, err := labmariadb.WaitSynced(wctx, fx.l, nodes)
	return err
}

// ensureHealthy makes the next scenario start from a whole cluster with
// no failure history: it clears the failures of the last scenario, and
// rebuilds the lab when the cluster does not come back whole, so that one
// scenario's outcome never decides another's.
func (fx *galeraFixture) ensureHealthy(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	for _, n := range fx.l.Nodes() {
		out, err := fx.l.Exec(ctx, n, "pcs", "resource", "cleanup", labmariadb.Resource)
		if err == nil {
			break
		}
		t.Logf("cleanup before the scenario on %s: %v\n%s", n, err, out)
	}
	err := fx.healthy(ctx)
	if err == nil {
		return
	}
	t.Logf("cluster not whole before the scenario (%v): building a new lab", err)
	fx.dumpLogs(t)
	fx.w.Close()
	if derr := fx.l.Down(ctx); derr != nil {
		t.Fatalf("lab down: %v", derr)
	}
	fx.build(t)
}

// dumpLogs logs the tail of every node's MariaDB error log.
func (fx *galeraFixture) dumpLogs(t *testing.T) {
	t.Helper()
	for _, n := range fx.l.Nodes() {
		p, err := labmariadb.ErrorLogPath(fx.l, n)
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(p)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		t.Logf("%s %s (tail):\n%s", n, labmariadb.ErrorLog, strings.Join(lines, "\n"))
	}
}

// pcs runs pcs on the first node that answers.
func (fx *galeraFixture) pcs(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	var last error
	for _, n := range fx.l.Nodes() {
		out, err := fx.l.Exec(ctx, n, append([]string{"pcs"}, args...)...)
		if err == nil {
			return
		}
		last = fmt.Errorf("%v\n%s", err, out)
	}
	t.Fatalf("pcs %s: %v", strings.Join(args, " "), last)
}

// others lists the nodes not named.
func (fx *galeraFixture) others(not ...string) []string {
	var out []string
	for _, n := range fx.l.Nodes() {
		skip := false
		for _, x := range not {
			skip = skip || n == x
		}
		if !skip {
			out = append(out, n)
		}
	}
	return out
}

// logMarks are the sizes of the nodes' error logs, so that what a node
// logged after a point in time can be read.
type logMarks map[string]int64

func (fx *galeraFixture) markLogs(t *testing.T) logMarks {
	t.Helper()
	m := logMarks{}
	for _, n := range fx.l.Nodes() {
		p, err := labmariadb.ErrorLogPath(fx.l, n)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err == nil {
			m[n] = fi.Size()
		}
	}
	return m
}

// logSince is what node logged after the mark.
func (fx *galeraFixture) logSince(t *testing.T, m logMarks, node string) string {
	t.Helper()
	p, err := labmariadb.ErrorLogPath(fx.l, node)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s's error log: %v", node, err)
	}
	if off := m[node]; off <= int64(len(b)) {
		b = b[off:]
	}
	return string(b)
}

// galeraRun is one scenario run: what the writer and Verify saw.
type galeraRun struct {
	begin    time.Time
	stats    labmariadb.Stats
	recovery time.Duration
}

// scenario runs fault with the writer going, then (recovery measured by
// fault itself or from its return) waits for the cluster to be whole, lets
// the writer prove it writes again, stops it and verifies that no
// acknowledged row is lost and the nodes agree.
func (fx *galeraFixture) scenario(t *testing.T, name string, fault func(t *testing.T, ctx context.Context) time.Time) galeraRun {
	t.Helper()
	fx.ensureHealthy(t)
	fx.afterHealthy = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := fx.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			fx.w.Stop()
		}
	}()
	if err := fx.w.WaitAcked(ctx, 20); err != nil {
		t.Fatalf("writer before the fault: %v", err)
	}
	pre := fx.position(t, ctx)
	marks := fx.markLogs(t)
	var run galeraRun
	run.begin = time.Now()
	from := fault(t, ctx)
	if t.Failed() {
		fx.dumpLogs(t)
		t.FailNow()
	}
	fx.waitHealthy(t, ctx, name+": recovery")
	run.recovery = time.Since(from)
	if !fx.assertHistoryKept(t, ctx, pre) {
		fx.logStarts(t, marks)
	}
	if check := fx.afterHealthy; check != nil {
		fx.afterHealthy = nil
		check(t)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err := fx.w.WaitAcked(wctx, 20)
	wcancel()
	if err != nil {
		t.Errorf("writer after recovery: %v", err)
	}
	run.stats = fx.w.Stop()
	stopped = true
	t.Logf("%s: writer %s", name, run.stats)
	res, err := labmariadb.Verify(ctx, fx.l, fx.l.Nodes(), fx.w.Acked())
	if err != nil {
		fx.dumpLogs(t)
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s: recovered (all promoted and Synced) %s after the fault; verified %d acknowledged rows, nodes identical (%d rows, seqno %v)",
		name, run.recovery.Round(100*time.Millisecond), len(fx.w.Acked()), res.Digests["n1"].Rows, seqnos(res.Status))
	if !t.Failed() {
		fx.record(name, run.recovery)
	}
	return run
}

func seqnos(st map[string]labmariadb.WsrepStatus) map[string]int64 {
	m := map[string]int64{}
	for n, s := range st {
		m[n] = s.LastCommitted
	}
	return m
}

// writeTimings writes the fixture's timings as bench scenarios. Timings
// of the reference agent standing in for ocf:goha:galera are only logged:
// the bench compares goha's agent with the reference, not the reverse.
func (fx *galeraFixture) writeTimings(t *testing.T, metric map[string]string) {
	t.Helper()
	for name, secs := range fx.timing {
		if fx.agent != labmariadb.AgentGoha {
			t.Logf("%s with %s: %v s (not written to results: not the goha agent)", name, fx.agent, secs)
			continue
		}
		m := metric[name]
		if m == "" {
			m = "fault to all instances promoted and every server Synced (s)"
		}
		sc := bench.Scenario{
			Name:   "galera: " + name,
			Metric: m,
			Goha:   bench.ScenarioSide{Agent: fx.agent, Seconds: secs},
			Notes:  fmt.Sprintf("%d lab nodes, MariaDB 10.11 + Galera 4, rsync SST, token 3000 ms, fencing on; writer commits one row at a time", fx.nodes),
		}
		if err := bench.WriteScenario("results", sc); err != nil {
			t.Error(err)
		}
	}
}

// position is the most advanced history position of the nodes now.
func (fx *galeraFixture) position(t *testing.T, ctx context.Context) galeraPosition {
	t.Helper()
	st, errs, err := labmariadb.Status(ctx, fx.l, fx.l.Nodes())
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("nodes do not answer: %v", errs)
	}
	uuid, seqno := labmariadb.Position(st)
	return galeraPosition{uuid, seqno}
}

// galeraPosition is a point in a Galera cluster's history.
type galeraPosition struct {
	UUID  string
	Seqno int64
}

// assertHistoryKept checks that the cluster recovered in the history it
// had before the fault, at or past the position it had then: a bootstrap
// from a less advanced node, or one that started a new history (which
// forces every other node into a full SST), fails it.
func (fx *galeraFixture) assertHistoryKept(t *testing.T, ctx context.Context, pre galeraPosition) bool {
	t.Helper()
	now := fx.position(t, ctx)
	t.Logf("history before the fault %s:%d, after recovery %s:%d", pre.UUID, pre.Seqno, now.UUID, now.Seqno)
	if now.UUID != pre.UUID {
		t.Errorf("the cluster recovered with a new history %s (was %s): a node bootstrapped without its recovered position", now.UUID, pre.UUID)
		return false
	}
	if now.Seqno < pre.Seqno {
		t.Errorf("the cluster recovered at seqno %d, behind %d committed before the fault", now.Seqno, pre.Seqno)
		return false
	}
	return true
}

// startLines are the error log lines that tell how a server found and
// chose its starting position.
var startLines = []string{
	"Found saved state", "Recovered position", "Setting initial position", "Connecting with bootstrap option",
	"prepared transactions", "Recovered cluster id", "State transfer required",
	"Group state", "Local state", "SST completed on joiner", "IST completed on joiner", "[ERROR]",
}

// logStarts logs, for every node, the lines about its starting position
// written since the marks.
func (fx *galeraFixture) logStarts(t *testing.T, marks logMarks) {
	t.Helper()
	for _, n := range fx.l.Nodes() {
		var keep []string
		for _, line := range strings.Split(fx.logSince(t, marks, n), "\n") {
			for _, s := range startLines {
				if strings.Contains(line, s) {
					keep = append(keep, line)
					break
				}
			}
		}
		t.Logf("%s: how it started since the fault:\n%s", n, strings.Join(keep, "\n"))
	}
}
