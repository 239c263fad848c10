package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/agents"
	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/labmariadb"
)

// maxArbitratedWriteGap bounds the longest time without an acknowledged
// write on the side of a split that keeps the arbitrator: commits there
// wait until Galera installs a view without the lost members, which it
// does at the latest after evs.inactive_timeout (15 s by default; the lab
// measured 10 to 11 s with writes in flight).
const maxArbitratedWriteGap = 15 * time.Second

// TestGaleraArbitrator splits four Galera servers and an arbitrator
// (ocf:goha:garbd) into {n1, n2, n5} | {n3, n4}: the half with the
// arbitrator holds 3 of 5 votes in Galera and in Pacemaker, so it stays
// Primary, keeps taking writes and fences the other half, which is never
// Primary. Once the network heals the fenced servers rejoin and every
// acknowledged row is on every server.
func TestGaleraArbitrator(t *testing.T) {
	galeraNeeds(t)
	agent, all := galeraAgent()
	if !all {
		t.Skipf("the arbitrator scenario runs against ocf:goha:galera, which is not registered yet (%s=%s runs it against the reference agent)",
			galeraAgentEnv, labmariadb.AgentReference)
	}
	if agents.Lookup("garbd") == nil {
		t.Skip("the arbitrator scenario needs ocf:goha:garbd, which is not registered")
	}
	if _, err := os.Stat("/usr/bin/garbd"); err != nil {
		t.Skip("the arbitrator scenario needs /usr/bin/garbd (galera-arbitrator-4)")
	}
	t.Cleanup(func() {
		if err := labmariadb.RemoveSharedTemplate(); err != nil {
			t.Errorf("remove galera template: %v", err)
		}
	})
	fx := &galeraFixture{parent: t, agent: agent, nodes: 5, binary: labBinary(t), timing: map[string][]float64{}}
	defer fx.writeTimings(t, map[string]string{
		"partition 2+2 with arbitrator": "network heal to all promoted and Synced (s)",
	})
	fx.l = startLab(t, lab.Config{
		Name: fmt.Sprintf("gal%d-arb", os.Getpid()%1000000), Nodes: 5, Binary: fx.binary,
		OCFAgents: []string{"galera", "garbd"}, Hooks: []lab.NodeHook{labmariadb.Hook()},
		OnlineTimeout: 2 * time.Minute,
	})
	a := &arbitratedLab{fx: fx, db: []string{"n1", "n2", "n3", "n4"}, arb: "n5"}
	t.Cleanup(func() {
		if t.Failed() {
			a.dump(t)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a.create(t, ctx)

	// The writer sits with n1 and n2, as an application behind a proxy on
	// that side would: it measures what they acknowledge, not how long
	// connecting to the unreachable servers takes.
	w, err := labmariadb.NewWriter(ctx, fx.l, "c1", []string{"n1", "n2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	fx.w = w
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAcked(ctx, 20); err != nil {
		t.Fatalf("writer before the partition: %v", err)
	}

	a.partition(t, ctx)
	stats := w.Stop()
	t.Logf("writer from before the partition to the heal: %s", stats)
	if stats.Outage > maxArbitratedWriteGap {
		t.Errorf("no write acknowledged for %s from %s (%s after the cut), want at most %s",
			stats.Outage.Round(10*time.Millisecond), stats.OutageAt.Format("15:04:05.000"),
			stats.OutageAt.Sub(a.cut).Round(100*time.Millisecond), maxArbitratedWriteGap)
	}

	heal := time.Now()
	if err := fx.l.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a.waitWhole(t, ctx, "after the heal")
	recovery := time.Since(heal)
	for _, n := range []string{"n3", "n4"} {
		j := fx.lastJoin(t, n)
		t.Logf("%s rejoined by %s (donor %q, %d write sets by IST)", n, j.Method, j.Donor, j.Writesets)
		if j.Method != labmariadb.JoinIST && j.Method != labmariadb.JoinSST {
			t.Errorf("%s rejoined by %q, want IST or SST", n, j.Method)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err = w.WaitAcked(wctx, 20)
	wcancel()
	if err != nil {
		t.Errorf("writer after the heal: %v", err)
	}
	t.Logf("writer from the heal: %s", w.Stop())

	// Verify counts the servers of a whole cluster: without the arbitrator
	// that is the four of them.
	fx.pcs(t, ctx, "resource", "disable", labmariadb.ArbitratorResource, "--wait=60")
	res, err := labmariadb.Verify(ctx, fx.l, a.db, w.Acked())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recovered (all promoted and Synced with the arbitrator) %s after the heal; verified %d acknowledged rows, nodes identical (%d rows, seqno %v)",
		recovery.Round(100*time.Millisecond), len(w.Acked()), res.Digests["n1"].Rows, seqnos(res.Status))
	if !t.Failed() {
		fx.record("partition 2+2 with arbitrator", recovery)
	}
}

// arbitratedLab is the lab of TestGaleraArbitrator: the Galera clone on
// the database nodes, garbd on the arbitrator node.
type arbitratedLab struct {
	fx    *galeraFixture
	db    []string  // nodes of the Galera clone
	arb   string    // node of ocf:goha:garbd
	cut   time.Time // of the partition
	marks logMarks  // the servers' error logs before the partition
}

// create makes the Galera clone (kept off the arbitrator node), waits for
// it to be whole, then adds garbd on the arbitrator node. Both are created
// disabled and enabled once constrained, so that no instance starts where
// it must not run.
func (a *arbitratedLab) create(t *testing.T, ctx context.Context) {
	t.Helper()
	l := a.fx.l
	args, err := labmariadb.CreateArgs(a.fx.agent, a.db, "--disabled")
	if err != nil {
		t.Fatal(err)
	}
	clone := labmariadb.Resource + "-clone"
	a.exec(t, ctx, args)
	for _, c := range labmariadb.PinArgs(clone, nil, []string{a.arb}) {
		a.exec(t, ctx, c)
	}
	begin := time.Now()
	a.exec(t, ctx, []string{"pcs", "resource", "enable", clone})
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := labmariadb.WaitAllPromoted(wctx, l, a.db); err != nil {
		t.Fatalf("cold start: %v", err)
	}
	if _, err := labmariadb.WaitSynced(wctx, l, a.db); err != nil {
		t.Fatalf("cold start: %v", err)
	}
	t.Logf("cold start with %s: %v promoted and Synced %s after the clone was enabled", a.fx.agent, a.db, time.Since(begin).Round(100*time.Millisecond))

	a.exec(t, ctx, labmariadb.ArbitratorCreateArgs(a.arb, a.db, "--disabled"))
	for _, c := range labmariadb.PinArgs(labmariadb.ArbitratorResource, []string{a.arb}, a.db) {
		a.exec(t, ctx, c)
	}
	begin = time.Now()
	a.exec(t, ctx, []string{"pcs", "resource", "enable", labmariadb.ArbitratorResource})
	where, err := l.WaitRole(wctx, "n1", labmariadb.ArbitratorResource, "Started")
	if err != nil {
		t.Fatalf("arbitrator: %v", err)
	}
	if where != a.arb {
		t.Fatalf("arbitrator started on %s, want %s", where, a.arb)
	}
	st, err := labmariadb.WaitSyncedIn(wctx, l, a.db, len(a.db)+1)
	if err != nil {
		t.Fatalf("arbitrator: %v", err)
	}
	t.Logf("arbitrator started on %s %s after it was enabled; wsrep_cluster_size %d on n1", where, time.Since(begin).Round(100*time.Millisecond), st["n1"].ClusterSize)
}

// partition cuts {n1, n2, arbitrator, c1} from {n3, n4, c2} (c1 runs the
// writer, c2 watches the far half) and watches both until Pacemaker has
// fenced n3 and n4: the near half must keep Pacemaker quorum and its
// servers Primary, the far servers must never be Primary, and no node of
// the near half may be fenced. It returns with the network still cut.
func (a *arbitratedLab) partition(t *testing.T, ctx context.Context) {
	t.Helper()
	l := a.fx.l
	if _, err := l.Client(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	near, far := []string{"n1", "n2"}, []string{"n3", "n4"}
	nearAll := append(append([]string{}, near...), a.arb)
	inits := map[string]int{}
	for _, n := range l.Nodes() {
		inits[n] = initPID(t, l, n)
	}
	marks := a.fx.markLogs(t)
	if err := l.Partition(ctx, append(append([]string{}, nearAll...), "c1"), append(append([]string{}, far...), "c2")); err != nil {
		t.Fatal(err)
	}
	a.cut = time.Now()
	a.marks = marks
	t.Cleanup(func() { _ = l.Heal(context.Background()) })

	// Each failure is reported once, at its first sighting.
	seen := map[string]bool{}
	report := func(key, format string, args ...any) {
		if !seen[key] {
			seen[key] = true
			t.Errorf(format, args...)
		}
	}
	since := func() time.Duration { return time.Since(a.cut).Round(100 * time.Millisecond) }
	fenced := map[string]time.Duration{}
	var nearStatus map[string]labmariadb.WsrepStatus
	var view lab.ClusterView
	deadline := a.cut.Add(100 * time.Second)
	for len(fenced) < len(far) {
		if time.Now().After(deadline) {
			t.Fatalf("%v not both fenced %s after the partition (fenced: %v)", far, since(), fenced)
		}
		st, errs, err := labmariadb.StatusFrom(ctx, l, "c2", far)
		if err != nil {
			t.Fatal(err)
		}
		for n, s := range st {
			if s.ClusterStatus == "Primary" && s.ClusterSize < 3 {
				report("primary "+n, "%s is Primary in the half without the arbitrator %s after the cut: %s", n, since(), s)
			}
		}
		st, errs, err = labmariadb.StatusFrom(ctx, l, "c1", near)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range near {
			if e := errs[n]; e != nil {
				report("answer "+n, "%s does not answer %s after the cut: %v", n, since(), e)
			} else if st[n].ClusterStatus != "Primary" {
				report("primary "+n, "%s is not Primary %s after the cut: %s", n, since(), st[n])
			}
		}
		nearStatus = st
		v, err := l.View(ctx, "n1")
		if err != nil {
			report("view", "crm_mon on n1 %s after the cut: %v", since(), err)
		} else {
			view = v
			if !v.Quorum {
				report("quorum", "n1 lost Pacemaker quorum %s after the cut: online %v", since(), v.Online)
			}
		}
		for _, n := range far {
			if _, ok := fenced[n]; ok {
				continue
			}
			pid := initPID(t, l, n)
			if pid == 0 || pid == inits[n] {
				continue
			}
			out, _ := l.Exec(ctx, "n1", "stonith_admin", "--history", n)
			if strings.Contains(string(out), "reboot of "+n+" successful") {
				fenced[n] = since()
				t.Logf("%s fenced (rebooted, init %d -> %d) %s after the cut", n, inits[n], pid, since())
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, n := range nearAll {
		if pid := initPID(t, l, n); pid != inits[n] {
			t.Errorf("%s was rebooted during the partition (init %d -> %d): the half with the arbitrator was fenced", n, inits[n], pid)
		}
	}
	if !reflect.DeepEqual(view.Online, nearAll) {
		t.Errorf("online on n1 at the end of the partition: %v, want %v", view.Online, nearAll)
	}
	// Galera may install the view without n3 and n4 only now.
	for settle := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		st, errs, err := labmariadb.StatusFrom(ctx, l, "c1", near)
		if err != nil {
			t.Fatal(err)
		}
		nearStatus = st
		ok, why := labmariadb.SyncedIn(near, len(nearAll), st, errs)
		if ok {
			break
		}
		if time.Now().After(settle) {
			t.Errorf("%v not Synced in a Primary component of %d %s after the cut: %s", near, len(nearAll), since(), why)
			break
		}
	}
	t.Logf("partition of %s: %v Primary (%s, %s), Pacemaker quorum on n1 with %v, %v fenced",
		since(), near, nearStatus["n1"], nearStatus["n2"], view.Online, fenced)
}

// waitWhole waits until every node is online, the clone promoted on every
// database node and every server Synced in a cluster that counts the
// arbitrator.
func (a *arbitratedLab) waitWhole(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	l := a.fx.l
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := l.WaitOnline(wctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := labmariadb.WaitAllPromoted(wctx, l, a.db); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if _, err := labmariadb.WaitSyncedIn(wctx, l, a.db, len(a.db)+1); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// exec runs a command on the first node where it succeeds.
func (a *arbitratedLab) exec(t *testing.T, ctx context.Context, argv []string) {
	t.Helper()
	var last error
	for _, n := range a.fx.l.Nodes() {
		out, err := a.fx.l.Exec(ctx, n, argv...)
		if err == nil {
			return
		}
		last = fmt.Errorf("on %s: %v\n%s", n, err, out)
	}
	t.Fatalf("%s: %v", strings.Join(argv, " "), last)
}

// dump logs what explains a failure: crm_mon of every node, the agents'
// lines of the nodes' Pacemaker logs, the servers' error logs and garbd's
// log.
func (a *arbitratedLab) dump(t *testing.T) {
	l := a.fx.l
	st, err := l.State()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agentLine := func(line string) bool {
		for _, s := range []string{"galera", "garbd", " db_", "(db)", " arb_", "(arb)", "fence", "stonith"} {
			if strings.Contains(line, s) {
				return true
			}
		}
		return false
	}
	for _, n := range st.Nodes {
		out, _ := l.Exec(ctx, n.Name, "crm_mon", "-1", "-r", "--include=failcounts,fencing-history")
		t.Logf("%s crm_mon:\n%s", n.Name, out)
		logTail(t, n.Name+" pacemaker.log (agents)", filepath.Join(n.Dir, "var-log-pacemaker", "pacemaker.log"), agentLine, 40)
		if n.Name == a.arb {
			logTail(t, n.Name+" garbd.log", filepath.Join(n.Dir, "var-log-cluster", filepath.Base(labmariadb.ArbitratorLog)), nil, 120)
			continue
		}
		if a.marks != nil {
			var keep []string
			for _, line := range strings.Split(a.fx.logSince(t, a.marks, n.Name), "\n") {
				if strings.Contains(line, "WSREP") || strings.Contains(line, "ERROR") {
					keep = append(keep, line)
				}
			}
			if len(keep) > 80 {
				keep = keep[:80]
			}
			t.Logf("%s %s from the partition on (first WSREP lines):\n%s", n.Name, labmariadb.ErrorLog, strings.Join(keep, "\n"))
		}
		if p, err := labmariadb.ErrorLogPath(l, n.Name); err == nil {
			logTail(t, n.Name+" "+labmariadb.ErrorLog, p, nil, 25)
		}
	}
}

// logTail logs the last max lines of a file that keep passes (all when
// keep is nil).
func logTail(t *testing.T, what, path string, keep func(string) bool, max int) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%s: %v", what, err)
		return
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if keep == nil || keep(line) {
			lines = append(lines, line)
		}
	}
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	t.Logf("%s (tail):\n%s", what, strings.Join(lines, "\n"))
}
