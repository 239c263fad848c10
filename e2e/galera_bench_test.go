package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/bench"
	"github.com/goha-ha/goha/internal/labmariadb"
)

// Knobs of TestGaleraBench. It runs only with GOHA_BENCH=1 (make bench
// sets it): one run takes 10 to 15 minutes, more when crashes do not heal.
const (
	galeraBenchEnv       = "GOHA_BENCH"
	galeraBenchRepsEnv   = "GOHA_BENCH_REPS"   // kill -9 repetitions per agent, default 10
	galeraBenchAgentsEnv = "GOHA_BENCH_AGENTS" // comma-separated agents, default both
	galeraBenchBoundEnv  = "GOHA_BENCH_BOUND"  // seconds a crash may take to heal, default 120
)

const (
	// galeraCrashBound is how long a kill -9 of every mariadbd may take to
	// heal before the repetition counts as a failure, unless
	// GOHA_BENCH_BOUND says otherwise (a short one exercises the failure
	// path).
	galeraCrashBound = 120 * time.Second
	// galeraCrashGoal is what ocf:goha:galera must do better than.
	galeraCrashGoal = 30 * time.Second
	// galeraBenchRows is how many rows commit before each crash.
	galeraBenchRows = 20
)

// galeraBenchSide is what one agent did in TestGaleraBench.
type galeraBenchSide struct {
	cold      []float64 // cold starts, one per lab built
	crash     []float64 // kill -9 to all promoted and Synced, recovered runs
	failed    int       // runs still not whole after galeraCrashBound
	rebuilds  int       // labs built again because the cluster stayed down
	cleanups  int       // pcs resource cleanup after a failed run
	acked     int       // acknowledged rows over all labs
	uncertain int
}

// TestGaleraBench measures ocf:goha:galera next to ocf:heartbeat:galera on
// the same lab: the cold start of 3 nodes, and repeated kill -9 of every
// mariadbd at once with a writer committing throughout. It writes both
// as bench scenarios for make bench. goha's agent must heal every crash
// within 30 s and lose no acknowledged row; the reference agent's failures
// are recorded, not asserted.
func TestGaleraBench(t *testing.T) {
	if os.Getenv(galeraBenchEnv) != "1" {
		t.Skipf("the Galera benchmark runs only with %s=1 (make bench)", galeraBenchEnv)
	}
	galeraNeeds(t)
	reps := galeraBenchReps(t)
	bound := galeraBenchBound(t)
	agentsRun := galeraBenchAgents(t)
	sides := map[string]*galeraBenchSide{}
	for _, agent := range agentsRun {
		t.Run(strings.ReplaceAll(agent, ":", "_"), func(t *testing.T) {
			sides[agent] = runGaleraBench(t, agent, reps, bound)
		})
	}
	goha, ref := sides[labmariadb.AgentGoha], sides[labmariadb.AgentReference]
	for _, agent := range agentsRun {
		s := sides[agent]
		if s == nil {
			continue
		}
		t.Logf("%s: cold start %v s; kill -9 of every mariadbd: %d of %d recovered, in %v s; %d failed (bound %s); %d cleanups, %d fresh labs; writer %d acked, %d uncertain",
			agent, roundAll(s.cold), len(s.crash), reps, roundAll(s.crash), s.failed, bound, s.cleanups, s.rebuilds, s.acked, s.uncertain)
	}
	if goha == nil || ref == nil {
		t.Logf("scenarios not written: they compare both agents, and %s=%q ran only %v", galeraBenchAgentsEnv, os.Getenv(galeraBenchAgentsEnv), agentsRun)
		return
	}
	writeGaleraBench(t, reps, bound, goha, ref)
}

// galeraBenchReps reads the repetition count.
func galeraBenchReps(t *testing.T) int {
	t.Helper()
	v := os.Getenv(galeraBenchRepsEnv)
	if v == "" {
		return 10
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", galeraBenchRepsEnv, v)
	}
	return n
}

// galeraBenchBound reads how long a crash may take to heal.
func galeraBenchBound(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv(galeraBenchBoundEnv)
	if v == "" {
		return galeraCrashBound
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number of seconds", galeraBenchBoundEnv, v)
	}
	return time.Duration(n) * time.Second
}

// galeraBenchAgents reads which agents to run, goha's first.
func galeraBenchAgents(t *testing.T) []string {
	t.Helper()
	all := []string{labmariadb.AgentGoha, labmariadb.AgentReference}
	v := os.Getenv(galeraBenchAgentsEnv)
	if v == "" {
		return all
	}
	var out []string
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if _, err := labmariadb.AgentParams(a); err != nil {
			t.Fatalf("%s: %v", galeraBenchAgentsEnv, err)
		}
		out = append(out, a)
	}
	return out
}

// runGaleraBench builds a lab for agent, times the cold start, starts the
// writer and crashes every server reps times; at the end it verifies the
// rows.
func runGaleraBench(t *testing.T, agent string, reps int, bound time.Duration) *galeraBenchSide {
	side := &galeraBenchSide{}
	fx := newGaleraFixture(t, agent, 3)
	strict := agent == labmariadb.AgentGoha
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	if err := fx.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	explained := false
	for i := 1; i <= reps; i++ {
		c := crashEveryServer(t, ctx, fx, i, bound)
		if c.recovered {
			side.crash = append(side.crash, c.seconds)
			t.Logf("%s run %d/%d: all promoted and Synced %.1fs after the kill", agent, i, reps, c.seconds)
			if strict && c.seconds > galeraCrashGoal.Seconds() {
				t.Errorf("%s run %d: recovered in %.1fs, want under %s", agent, i, c.seconds, galeraCrashGoal)
			}
			if !c.historyKept && !explained {
				// Once per agent: how the servers chose their positions
				// and what the agent logged about it.
				fx.logStarts(t, c.errorLogs)
				logAgentLines(t, fx, c.pacemakerLogs)
				explained = true
			}
			continue
		}
		side.failed++
		t.Logf("%s run %d/%d: not whole %s after the kill", agent, i, reps, bound)
		logClusterState(t, ctx, fx, c.pacemakerLogs)
		if strict {
			t.Errorf("%s run %d: the cluster did not recover from a kill -9 of every mariadbd within %s", agent, i, bound)
		}
		reviveAfterFailure(t, fx, side)
	}
	side.cold = append(side.cold, fx.timing["cold start"]...)
	st := fx.w.Stop()
	acked, uncertain := fx.w.Acked(), fx.w.Uncertain()
	side.acked += len(acked)
	side.uncertain += len(uncertain)
	t.Logf("%s writer (last run) %s; %d acked, %d uncertain on this lab", agent, st, len(acked), len(uncertain))
	res, err := labmariadb.Verify(ctx, fx.l, fx.l.Nodes(), acked)
	if err != nil {
		// Lost or diverging rows fail goha's agent; for the reference they
		// are a finding worth reading in the log.
		if strict {
			t.Errorf("%s: %v", agent, err)
		} else {
			t.Logf("%s: FINDING: %v", agent, err)
		}
		return side
	}
	t.Logf("%s: verified %d acknowledged rows on every node, nodes identical (%d rows, seqno %v)",
		agent, len(acked), res.Digests["n1"].Rows, seqnos(res.Status))
	return side
}

// crashEveryServer waits until the cluster is whole, lets a few rows
// commit, kills every mariadbd at once and waits up to galeraCrashBound
// for every node to run a new server, promoted and Synced.
func crashEveryServer(t *testing.T, ctx context.Context, fx *galeraFixture, run int, bound time.Duration) galeraCrash {
	t.Helper()
	fx.waitHealthy(t, ctx, fmt.Sprintf("before run %d", run))
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := fx.w.WaitAcked(wctx, galeraBenchRows)
	cancel()
	if err != nil {
		t.Fatalf("run %d: writer before the kill: %v", run, err)
	}
	nodes := fx.l.Nodes()
	old := map[string]string{}
	for _, n := range nodes {
		if old[n] = fx.serverPID(ctx, n); old[n] == "" {
			t.Fatalf("run %d: no mariadbd on %s before the kill", run, n)
		}
	}
	pre := fx.position(t, ctx)
	c := galeraCrash{errorLogs: fx.markLogs(t), pacemakerLogs: markPacemakerLogs(t, fx)}
	begin := time.Now()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = fx.l.Kill(ctx, n, "mariadbd")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	bctx, cancel := context.WithDeadline(ctx, begin.Add(bound))
	defer cancel()
	if err := waitNewServers(bctx, fx, old); err != nil {
		t.Logf("run %d: %v", run, err)
		return c
	}
	if err := labmariadb.WaitAllPromoted(bctx, fx.l, nodes); err != nil {
		t.Logf("run %d: %v", run, err)
		return c
	}
	if _, err := labmariadb.WaitSynced(bctx, fx.l, nodes); err != nil {
		t.Logf("run %d: %v", run, err)
		return c
	}
	c.seconds = time.Since(begin).Seconds()
	c.recovered = true
	c.historyKept = logRecoveredHistory(t, ctx, fx, run, pre)
	return c
}

// logRecoveredHistory logs where the cluster's history went and how each
// node joined: a recovery that starts a new history (a bootstrap without
// the recovered position) or goes back in it is flagged as a finding, and
// kept reports false.
func logRecoveredHistory(t *testing.T, ctx context.Context, fx *galeraFixture, run int, pre galeraPosition) (kept bool) {
	t.Helper()
	now := fx.position(t, ctx)
	fx.logJoins(t, fx.l.Nodes()...)
	switch {
	case now.UUID != pre.UUID:
		t.Logf("run %d: FINDING: new history %s:%d after recovery (was %s:%d)", run, now.UUID, now.Seqno, pre.UUID, pre.Seqno)
		return false
	case now.Seqno < pre.Seqno:
		t.Logf("run %d: FINDING: history went back to seqno %d (was %d)", run, now.Seqno, pre.Seqno)
		return false
	}
	t.Logf("run %d: history kept, seqno %d before the kill, %d after", run, pre.Seqno, now.Seqno)
	return true
}

// galeraCrash is how one kill -9 of every mariadbd went.
type galeraCrash struct {
	recovered   bool    // all promoted and Synced within galeraCrashBound
	seconds     float64 // from the kill until then
	historyKept bool    // same history, not behind the position before
	// Log sizes at the kill, to show what was logged since.
	errorLogs, pacemakerLogs logMarks
}

// waitNewServers waits until every node runs a mariadbd other than the
// one it ran before the kill: until then crm_mon may still show the
// instances promoted from before Pacemaker noticed.
func waitNewServers(ctx context.Context, fx *galeraFixture, old map[string]string) error {
	for {
		var missing []string
		for n, pid := range old {
			if now := fx.serverPID(ctx, n); now == "" || now == pid {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no new mariadbd on %v: %w", missing, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// reviveAfterFailure does what an administrator would after a crash the
// cluster did not heal from: pcs resource cleanup, and a fresh lab when
// it is still down a minute later (fx.ensureHealthy). Rows acknowledged
// on an abandoned lab are counted but cannot be verified any more.
func reviveAfterFailure(t *testing.T, fx *galeraFixture, side *galeraBenchSide) {
	t.Helper()
	before, w := fx.l, fx.w
	st := w.Stats()
	acked, uncertain := len(w.Acked()), len(w.Uncertain())
	side.cleanups++
	w.Stop()
	fx.ensureHealthy(t)
	if fx.l != before {
		side.rebuilds++
		side.acked += acked
		side.uncertain += uncertain
		t.Logf("the cluster stayed down after pcs resource cleanup: built a fresh lab; the old lab's writer (%s) is not verified", st)
	} else {
		t.Logf("pcs resource cleanup %s brought the cluster back", labmariadb.Resource)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fx.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// markPacemakerLogs records the sizes of the nodes' pacemaker.log, so that
// logClusterState shows only what was logged since the crash.
func markPacemakerLogs(t *testing.T, fx *galeraFixture) logMarks {
	t.Helper()
	m := logMarks{}
	for _, n := range fx.l.Nodes() {
		if fi, err := os.Stat(pacemakerLog(t, fx, n)); err == nil {
			m[n] = fi.Size()
		}
	}
	return m
}

// pacemakerLog is the host path of a node's /var/log/pacemaker/pacemaker.log.
func pacemakerLog(t *testing.T, fx *galeraFixture, node string) string {
	t.Helper()
	s, err := fx.l.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s.Nodes {
		if n.Name == node {
			return filepath.Join(n.Dir, "var-log-pacemaker", "pacemaker.log")
		}
	}
	t.Fatalf("lab %s has no node %s", fx.l.Name(), node)
	return ""
}

// logClusterState logs what is needed to debug a crash the cluster did not
// heal from: crm_mon, the Galera lines of every node's pacemaker.log since
// the crash, and the tails of the MariaDB error logs.
func logClusterState(t *testing.T, ctx context.Context, fx *galeraFixture, marks logMarks) {
	t.Helper()
	for _, n := range fx.l.Nodes() {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		out, err := fx.l.Exec(cctx, n, "crm_mon", "-1", "-r", "-f", "-A")
		cancel()
		if err == nil {
			t.Logf("crm_mon -1 -r -f -A on %s:\n%s", n, out)
			break
		}
		t.Logf("crm_mon on %s: %v\n%s", n, err, out)
	}
	logAgentLines(t, fx, marks)
	fx.dumpLogs(t)
}

// logAgentLines logs the Galera lines of every node's pacemaker.log
// written since the marks.
func logAgentLines(t *testing.T, fx *galeraFixture, marks logMarks) {
	t.Helper()
	for _, n := range fx.l.Nodes() {
		b, err := os.ReadFile(pacemakerLog(t, fx, n))
		if err != nil {
			t.Logf("%s: %v", n, err)
			continue
		}
		if off := marks[n]; off <= int64(len(b)) {
			b = b[off:]
		}
		var keep [][]byte
		for _, line := range bytes.Split(b, []byte("\n")) {
			if isAgentLine(line) {
				keep = append(keep, line)
			}
		}
		if len(keep) > 120 {
			keep = keep[len(keep)-120:]
		}
		t.Logf("%s pacemaker.log since the kill, agent lines (%d shown):\n%s", n, len(keep), bytes.Join(keep, []byte("\n")))
	}
}

// agentLineMarks pick the lines of pacemaker.log worth reading when a
// Galera recovery goes wrong: what the agent logged (ocf_log style
// "galera(db)[pid]:"), its exit reasons, and the results of its operations.
var agentLineMarks = [][]byte{
	[]byte("galera(" + labmariadb.Resource + ")"),
	[]byte("ocf-exit-reason"),
	[]byte("operation for " + labmariadb.Resource + " on"),
}

func isAgentLine(line []byte) bool {
	for _, m := range agentLineMarks {
		if bytes.Contains(line, m) {
			return true
		}
	}
	return false
}

// writeGaleraBench writes the two scenarios with both agents.
func writeGaleraBench(t *testing.T, reps int, bound time.Duration, goha, ref *galeraBenchSide) {
	t.Helper()
	notes := fmt.Sprintf("3 lab nodes, token 3000 ms, fencing on, MariaDB 10.11 + Galera 4, rsync SST; one cold start per lab built (fresh labs after failures: goha %d, reference %d)",
		goha.rebuilds, ref.rebuilds)
	cold := bench.Scenario{
		Name:      "galera: cold start of 3 nodes",
		Metric:    "pcs resource create to all promoted and Synced",
		Goha:      bench.ScenarioSide{Agent: labmariadb.AgentGoha, Seconds: goha.cold},
		Reference: &bench.ScenarioSide{Agent: labmariadb.AgentReference, Seconds: ref.cold},
		Notes:     notes,
	}
	crash := bench.Scenario{
		Name:      "galera: kill -9 of every mariadbd",
		Metric:    "all promoted and Synced again",
		Goha:      bench.ScenarioSide{Agent: labmariadb.AgentGoha, Seconds: goha.crash, Failed: goha.failed},
		Reference: &bench.ScenarioSide{Agent: labmariadb.AgentReference, Seconds: ref.crash, Failed: ref.failed},
		Notes: fmt.Sprintf("3 lab nodes, token 3000 ms, fencing on; %d repetitions per agent, writer committing throughout; failed = not all promoted and Synced %d s after the kill; "+
			"after a failure pcs resource cleanup db, and a fresh lab if still down 60 s later (reference: %d cleanups, %d fresh labs; goha: %d, %d)",
			reps, int(bound.Seconds()), ref.cleanups, ref.rebuilds, goha.cleanups, goha.rebuilds),
	}
	for _, sc := range []bench.Scenario{cold, crash} {
		if err := bench.WriteScenario("results", sc); err != nil {
			t.Error(err)
		}
	}
}

// roundAll rounds seconds to a tenth, for logs.
func roundAll(secs []float64) []float64 {
	out := make([]float64, len(secs))
	for i, s := range secs {
		out[i] = float64(int(s*10+0.5)) / 10
	}
	return out
}

func TestIsAgentLine(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"2026/11/23_13:44:19 galera(db)[636]:    INFO: bootstrapping a new Primary component", true},
		{"Nov 23 13:44:17.456 n1 pacemaker-execd     [25] (log_op_output) \tinfo: db_monitor_10000[564] error output [ ocf-exit-reason:server of promoted instance is gone ]", true},
		{"Nov 23 13:44:18.840 n1 pacemaker-controld  [28] (log_executor_event) \tnotice: Result of start operation for db on n1: ok | CIB update 33", true},
		{"Nov 23 13:44:18.176 n2 pacemaker-based     [23] (cib_perform_op) \tinfo: +  /cib/status/node_state[@id='1']/lrm[@id='1']/lrm_resources/lrm_resource[@id='db']", false},
		{"Nov 23 13:44:18.288 n1 pacemaker-controld  [28] (do_lrm_invoke) \tinfo: Retrieving metadata for db (ocf:goha:galera) asynchronously", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isAgentLine([]byte(tt.line)); got != tt.want {
			t.Errorf("isAgentLine(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
