package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/bench"
	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/labmariadb"
)

// The File Fabric stack: two database nodes replicating from each other
// (ocf:goha:mysql, one writer), a quorum node that runs no database, fencing
// on, and the database VIP colocated with the writer. A writer application
// on client c1 commits numbered rows through the VIP.
const (
	mysqlVIP     = vipResource
	mysqlClone   = labmariadb.Resource + "-clone"
	mysqlQuorum  = "n3"
	mysqlStickyS = 30 * time.Second // how long a scenario watches for a failback
)

var mysqlDBNodes = []string{"n1", "n2"}

// mysqlFixture is the lab, the VIP and the writer.
type mysqlFixture struct {
	l      *lab.Lab
	vip    netip.Addr
	w      *labmariadb.Writer
	timing map[string][]float64 // bench scenario name -> seconds
}

// Agents the MySQL scenarios know the parameters of.
const (
	mysqlAgentGoha      = labmariadb.AgentMySQLGoha
	mysqlAgentReference = labmariadb.AgentMySQLReference
)

func newMySQLFixture(t *testing.T, semiSync bool) *mysqlFixture {
	return newMySQLFixtureWith(t, mysqlAgentGoha, semiSync)
}

func newMySQLFixtureWith(t *testing.T, agent string, semiSync bool) *mysqlFixture {
	t.Helper()
	galeraNeeds(t)
	t.Cleanup(func() {
		if err := labmariadb.RemoveSharedTemplate(); err != nil {
			t.Errorf("remove template: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	l := startLab(t, lab.Config{
		Name: fmt.Sprintf("my%d", os.Getpid()%1000000), Nodes: 3, Binary: labBinary(t),
		OCFAgents: []string{"vip", "mysql"}, Hooks: []lab.NodeHook{labmariadb.ReplicationHook()},
		OnlineTimeout: 2 * time.Minute, Logf: t.Logf,
	})
	vip, err := l.VIP(0)
	if err != nil {
		t.Fatal(err)
	}
	fx := &mysqlFixture{l: l, vip: vip, timing: map[string][]float64{}}
	for _, c := range []string{"c1", "c2"} {
		if _, err := l.Client(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	begin := time.Now()
	cmds, err := labmariadb.ReplicationStack{Agent: agent, SemiSync: semiSync, VIP: vip, Quorum: mysqlQuorum, VIPName: mysqlVIP}.Commands(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range cmds {
		fx.pcs(t, ctx, args...)
	}
	writer, _ := fx.waitRoles(t, ctx, "", "cold start")
	t.Logf("cold start: %s is the writer %s after the resources were created", writer, time.Since(begin).Round(100*time.Millisecond))
	if fx.w, err = labmariadb.NewAddressWriter(ctx, l, "c1", "vip", vip); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fx.w.Close)
	return fx
}

// pcs runs pcs on the first node that answers.
func (fx *mysqlFixture) pcs(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	var last error
	for _, n := range fx.l.Nodes() {
		out, err := fx.l.Exec(ctx, n, append([]string{"pcs"}, args...)...)
		if err == nil {
			return string(out)
		}
		last = fmt.Errorf("on %s: %v\n%s", n, err, out)
	}
	t.Fatalf("pcs %s: %v", strings.Join(args, " "), last)
	return ""
}

// waitRoles waits until one database node other than not is promoted, the
// other unpromoted, and the VIP runs with the writer; it returns the writer
// and the replica.
func (fx *mysqlFixture) waitRoles(t *testing.T, ctx context.Context, not, what string) (writer, replica string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	st, err := labmariadb.WaitRoles(wctx, fx.l, fx.l.Nodes(), what, func(c lab.CloneState) bool {
		p := c.Promoted()
		return len(p) == 1 && p[0] != not && c.Roles[other(p[0])] == "Unpromoted"
	})
	if err != nil {
		fx.dumpLogs(t)
		t.Fatal(err)
	}
	writer = st.Promoted()[0]
	fx.waitVIPOn(t, wctx, writer, what)
	return writer, other(writer)
}

// waitVIPOn waits until the VIP is started on node.
func (fx *mysqlFixture) waitVIPOn(t *testing.T, ctx context.Context, node, what string) {
	t.Helper()
	last := "no answer"
	for {
		for _, n := range fx.l.Nodes() {
			cctx, c := context.WithTimeout(ctx, 10*time.Second)
			v, err := fx.l.View(cctx, n)
			c()
			if err != nil {
				continue
			}
			if v.Roles[mysqlVIP] == "Started" && v.Where[mysqlVIP] == node {
				return
			}
			last = fmt.Sprintf("%s sees the VIP %q on %q", n, v.Roles[mysqlVIP], v.Where[mysqlVIP])
			break
		}
		select {
		case <-ctx.Done():
			fx.dumpLogs(t)
			t.Fatalf("%s: the VIP is not started with the writer %s: %s", what, node, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func other(node string) string {
	if node == mysqlDBNodes[0] {
		return mysqlDBNodes[1]
	}
	return mysqlDBNodes[0]
}

// probeWrites tries a write on node's own address every 200 ms from
// client c2 until stop is called, and returns how many the node accepted.
func (fx *mysqlFixture) probeWrites(t *testing.T, ctx context.Context, node string) (stop func() int64) {
	t.Helper()
	addr, err := fx.l.Addr(node)
	if err != nil {
		t.Fatal(err)
	}
	var accepted, tried atomic.Int64
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for id := int64(-1); pctx.Err() == nil; id-- {
			wctx, c := context.WithTimeout(pctx, 3*time.Second)
			if err := labmariadb.WriteProbe(wctx, fx.l, "c2", addr, id-int64(os.Getpid())*1000); err == nil {
				accepted.Add(1)
			}
			c()
			tried.Add(1)
			select {
			case <-pctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		cancel()
		<-done
		t.Logf("write probes of %s: %d tried, %d accepted", node, tried.Load(), accepted.Load())
		if tried.Load() < 5 {
			t.Errorf("only %d write probes of %s ran", tried.Load(), node)
		}
		return accepted.Load()
	}
}

// afterFailover checks what every failover scenario promises: the other
// node took the writer role with the VIP; writes through the VIP resumed;
// the old writer came back as a replica, stayed one, caught up; and no
// acknowledged row is missing anywhere.
func (fx *mysqlFixture) afterFailover(t *testing.T, ctx context.Context, old string, fault time.Time, semiSync bool) {
	t.Helper()
	writer, _ := fx.waitRoles(t, ctx, old, "failover")
	if writer == old {
		t.Fatalf("%s is still the writer", old)
	}
	fx.waitAcks(t, ctx, 20)
	st := fx.w.Stats()
	failover := st.OutageAt.Add(st.Outage).Sub(fault)
	t.Logf("writer through the VIP: %s", st)
	t.Logf("failover: first write acknowledged through the VIP %s after the fault", failover.Round(10*time.Millisecond))
	fx.timing[t.Name()] = append(fx.timing[t.Name()], failover.Seconds())
	// No failback: the old writer returns as a replica and stays one.
	fx.waitRoles(t, ctx, old, "old writer back as a replica")
	time.Sleep(mysqlStickyS)
	if w, _ := fx.waitRoles(t, ctx, old, "no failback"); w != writer {
		t.Fatalf("the writer moved back to %s", w)
	}
	stats := fx.w.Stop()
	acked := fx.w.Acked()
	_, err := labmariadb.VerifyReplicated(ctx, fx.l, mysqlDBNodes, acked)
	if semiSync && err != nil {
		fx.dumpLogs(t)
		t.Fatalf("after the failover: %v", err)
	}
	if !semiSync {
		t.Logf("without semi_sync: %v", err)
	}
	t.Logf("verified %d acknowledged rows on both nodes (%s)", len(acked), stats)
	if err := fx.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitAcks waits until the writer has n more acknowledged rows.
func (fx *mysqlFixture) waitAcks(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	want := len(fx.w.Acked()) + n
	deadline := time.Now().Add(2 * time.Minute)
	for len(fx.w.Acked()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("writes through the VIP did not resume: %s", fx.w.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (fx *mysqlFixture) cleanup(t *testing.T, ctx context.Context) {
	t.Helper()
	fx.pcs(t, ctx, "resource", "cleanup")
}

func (fx *mysqlFixture) dumpLogs(t *testing.T) {
	t.Helper()
	for _, n := range mysqlDBNodes {
		p, err := labmariadb.ErrorLogPath(fx.l, n)
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(p)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		t.Logf("%s error log (tail):\n%s", n, strings.Join(lines, "\n"))
	}
	if out, err := fx.l.Exec(context.Background(), mysqlQuorum, "crm_mon", "-1", "-f"); err == nil {
		t.Logf("crm_mon:\n%s", out)
	}
}

// TestMySQL runs the File Fabric failures with semi-synchronous
// replication: no acknowledged commit may be lost in any of them.
func TestMySQL(t *testing.T) {
	fx := newMySQLFixture(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := fx.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fx.waitAcks(t, ctx, 50)

	t.Cleanup(func() { fx.writeScenarios(t, "semi_sync=true") })
	t.Run("kill -9 of the writer's server", func(t *testing.T) {
		old, _ := fx.waitRoles(t, ctx, "", "before")
		fault := time.Now()
		if n, err := fx.l.Kill(ctx, old, "mariadbd"); err != nil || n == 0 {
			t.Fatalf("kill mariadbd on %s: %d, %v", old, n, err)
		}
		stop := fx.probeWrites(t, ctx, old)
		fx.afterFailover(t, ctx, old, fault, true)
		if a := stop(); a > 0 {
			t.Errorf("the old writer %s accepted %d writes after the failover", old, a)
		}
		fx.cleanup(t, ctx)
	})

	t.Run("crash of the writer's node", func(t *testing.T) {
		old, _ := fx.waitRoles(t, ctx, "", "before")
		fault := time.Now()
		if err := fx.l.Crash(ctx, old); err != nil {
			t.Fatal(err)
		}
		fx.afterFailover(t, ctx, old, fault, true)
		fx.cleanup(t, ctx)
	})

	t.Run("partition isolating the writer", func(t *testing.T) {
		old, replica := fx.waitRoles(t, ctx, "", "before")
		fault := time.Now()
		if err := fx.l.Partition(ctx, []string{old, "c2"}, []string{replica, mysqlQuorum, "c1"}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fx.l.Heal(context.Background()) })
		stop := fx.probeWrites(t, ctx, old)
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		_, err := labmariadb.WaitRoles(wctx, fx.l, []string{replica, mysqlQuorum}, "promotion on the majority side", func(c lab.CloneState) bool {
			return slices.Equal(c.Promoted(), []string{replica})
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		fx.waitAcks(t, ctx, 20)
		if a := stop(); a > 0 {
			t.Errorf("the isolated old writer %s accepted %d writes", old, a)
		}
		if err := fx.l.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		fx.afterFailover(t, ctx, old, fault, true)
		fx.cleanup(t, ctx)
	})

	t.Run("manual move back only once caught up", func(t *testing.T) {
		writer, replica := fx.waitRoles(t, ctx, "", "before")
		// The replica falls behind: a session holding a global read lock
		// keeps its SQL thread from applying, as a long query would.
		lock, err := fx.l.Command(ctx, replica, "mariadb", "-e", "FLUSH TABLES WITH READ LOCK; SELECT SLEEP(3600)")
		if err != nil {
			t.Fatal(err)
		}
		if err := lock.Start(); err != nil {
			t.Fatal(err)
		}
		locked := make(chan struct{})
		go func() { _ = lock.Wait(); close(locked) }()
		t.Cleanup(func() {
			_ = lock.Process.Kill()
			<-locked
		})
		fx.waitAcks(t, ctx, 50)
		fx.pcs(t, ctx, "resource", "move-with-constraint", mysqlClone, replica, "--promoted")
		t.Cleanup(func() { fx.pcs(t, context.Background(), "resource", "clear", mysqlClone) })
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		st, err := labmariadb.WaitRoles(wctx, fx.l, fx.l.Nodes(), "refused promotion", func(c lab.CloneState) bool {
			for _, f := range c.Failures {
				if strings.Contains(f, "not promoting "+replica) {
					return true
				}
			}
			return false
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the move was refused while %s was behind: %v", replica, st.Failures)
		if err := labmariadb.WriteProbe(ctx, fx.l, "c2", mustAddr(t, fx.l, replica), -999999); err == nil {
			t.Fatalf("%s accepted a write while behind", replica)
		}
		// Once it can apply again (the lock's session ends) it catches up,
		// and Pacemaker's retry makes it the writer.
		_ = lock.Process.Kill()
		<-locked
		if w, _ := fx.waitRoles(t, ctx, writer, "move once caught up"); w != replica {
			t.Fatalf("writer is %s after the move, want %s", w, replica)
		}
		fx.waitAcks(t, ctx, 20)
		fx.w.Stop()
		if _, err := labmariadb.VerifyReplicated(ctx, fx.l, mysqlDBNodes, fx.w.Acked()); err != nil {
			fx.dumpLogs(t)
			t.Fatal(err)
		}
		fx.pcs(t, ctx, "resource", "clear", mysqlClone)
		fx.cleanup(t, ctx)
		if err := fx.w.Start(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func mustAddr(t *testing.T, l *lab.Lab, node string) netip.Addr {
	t.Helper()
	a, err := l.Addr(node)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestMySQLAsync measures what a kill -9 of the writer costs without
// semi-synchronous replication: acknowledged rows that never reached the
// replica are lost, and the old writer, holding them, may not rejoin.
func TestMySQLAsync(t *testing.T) {
	fx := newMySQLFixture(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := fx.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fx.waitAcks(t, ctx, 50)
	old, _ := fx.waitRoles(t, ctx, "", "before")
	fault := time.Now()
	if n, err := fx.l.Kill(ctx, old, "mariadbd"); err != nil || n == 0 {
		t.Fatalf("kill mariadbd on %s: %d, %v", old, n, err)
	}
	writer, _ := fx.waitRoles(t, ctx, old, "failover")
	fx.waitAcks(t, ctx, 20)
	st := fx.w.Stop()
	t.Logf("failover to %s: longest write outage %s (fault at +%s)", writer, st.Outage.Round(10*time.Millisecond), st.OutageAt.Sub(fault).Round(10*time.Millisecond))
	_, err := labmariadb.VerifyReplicated(ctx, fx.l, []string{writer}, fx.w.Acked())
	if err != nil {
		t.Logf("without semi_sync, acknowledged rows lost: %v", err)
	} else {
		t.Logf("without semi_sync, acknowledged rows lost: 0 of %d", len(fx.w.Acked()))
	}
}

// writeScenarios records the failover times for make bench.
func (fx *mysqlFixture) writeScenarios(t *testing.T, mode string) {
	for name, secs := range fx.timing {
		what := name[strings.LastIndex(name, "/")+1:]
		sc := bench.Scenario{
			Name:   "mysql: " + strings.ReplaceAll(what, "_", " "),
			Metric: "first write acknowledged through the DB VIP after the fault",
			Goha:   bench.ScenarioSide{Agent: "ocf:goha:mysql", Seconds: secs},
			Notes: "2 database nodes and a quorum node, fencing on (fence_goha_lab), token 3000 ms, " + mode +
				", a writer committing through the VIP colocated with the Promoted role",
		}
		if err := bench.WriteScenario("results", sc); err != nil {
			t.Errorf("write bench scenario: %v", err)
		}
	}
}
