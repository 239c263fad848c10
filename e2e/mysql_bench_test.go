package e2e

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/bench"
)

// mysqlBenchReps is how many kill -9 failovers TestMySQLBench times per
// agent.
const mysqlBenchReps = 3

// TestMySQLBench times the writer failover after a kill -9 of the writer's
// server with ocf:goha:mysql and with ocf:heartbeat:mysql on the same lab
// setup, both asynchronous (the reference has no semi-sync), from the kill
// to the first write acknowledged through the DB VIP. It runs only with
// GOHA_BENCH=1 (make bench). A failover that does not complete within 3
// minutes counts as failed.
func TestMySQLBench(t *testing.T) {
	if os.Getenv(galeraBenchEnv) != "1" {
		t.Skipf("the MySQL benchmark runs only with %s=1 (make bench)", galeraBenchEnv)
	}
	sides := map[string]*bench.ScenarioSide{}
	agentsRun := []string{mysqlAgentGoha, mysqlAgentReference}
	if v := os.Getenv(galeraBenchAgentsEnv); v != "" {
		agentsRun = strings.Split(v, ",")
	}
	for _, agent := range agentsRun {
		side := &bench.ScenarioSide{Agent: agent}
		sides[agent] = side
		ok := t.Run(strings.ReplaceAll(agent, ":", "_"), func(t *testing.T) {
			fx := newMySQLFixtureWith(t, agent, false)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			if err := fx.w.Start(ctx); err != nil {
				t.Fatal(err)
			}
			fx.waitAcks(t, ctx, 20)
			for i := 0; i < mysqlBenchReps; i++ {
				secs, ok := fx.timeKill(t, ctx)
				if !ok {
					side.Failed++
					t.Logf("%s run %d: no failover within the bound", agent, i+1)
					return // the lab is in an unknown state: stop this side
				}
				side.Seconds = append(side.Seconds, secs)
				t.Logf("%s run %d: first write through the VIP %.1f s after kill -9", agent, i+1, secs)
			}
		})
		if !ok && side.Failed == 0 {
			// The side stopped before its runs (the cluster did not come
			// up as it should): its missing runs count as failed.
			side.Failed = mysqlBenchReps - len(side.Seconds)
		}
	}
	if sides[mysqlAgentGoha] == nil || sides[mysqlAgentReference] == nil {
		return // a partial run writes no comparison
	}
	sc := bench.Scenario{
		Name:      "mysql: kill -9 of the writer's server, asynchronous replication",
		Metric:    "first write acknowledged through the DB VIP after the kill",
		Goha:      *sides[mysqlAgentGoha],
		Reference: sides[mysqlAgentReference],
		Notes: "2 database nodes and a quorum node, fencing on, token 3000 ms, monitors every 3 s (Promoted) and 5 s " +
			"(Unpromoted), VIP colocated with the Promoted role; semi_sync off so both agents run the same replication",
	}
	if err := bench.WriteScenario("results", sc); err != nil {
		t.Error(err)
	}
}

// timeKill kills the writer's server and returns the seconds until a
// write is acknowledged through the VIP again, then waits until both
// database nodes run again (one promoted) and clears the failure.
func (fx *mysqlFixture) timeKill(t *testing.T, ctx context.Context) (float64, bool) {
	t.Helper()
	old, _ := fx.waitRoles(t, ctx, "", "before")
	// A fresh writer run, so that its longest outage is this failover's.
	fx.w.Stop()
	if err := fx.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fx.waitAcks(t, ctx, 10)
	before := len(fx.w.Acked())
	fault := time.Now()
	if n, err := fx.l.Kill(ctx, old, "mariadbd"); err != nil || n == 0 {
		t.Fatalf("kill mariadbd on %s: %d, %v", old, n, err)
	}
	// Acknowledged writes after the fault mean the VIP's holder writes
	// again; the writer's outage bounds when.
	deadline := time.Now().Add(3 * time.Minute)
	for len(fx.w.Acked()) < before+5 {
		if time.Now().After(deadline) {
			return 0, false
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := fx.w.Stats()
	secs := st.OutageAt.Add(st.Outage).Sub(fault).Seconds()
	fx.logOperations(t, 12)
	fx.cleanup(t, ctx)
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	fx.waitRoles(t, wctx, "", "both back")
	return secs, true
}

// logOperations logs the last n results of the database resource's
// operations from each database node's Pacemaker log, so that a slow
// failover shows which step took the time.
func (fx *mysqlFixture) logOperations(t *testing.T, n int) {
	t.Helper()
	st, err := fx.l.State()
	if err != nil {
		return
	}
	for _, node := range st.Nodes {
		if node.Name == mysqlQuorum {
			continue
		}
		f, err := os.Open(filepath.Join(node.Dir, "var-log-pacemaker", "pacemaker.log"))
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := sc.Text(); strings.Contains(l, "Result of") && strings.Contains(l, "operation for db ") {
				lines = append(lines, l)
			}
		}
		f.Close()
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		t.Logf("%s: last operations of db:\n%s", node.Name, strings.Join(lines, "\n"))
	}
}
