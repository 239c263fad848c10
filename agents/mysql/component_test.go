package mysql

// Component test: the agent binary against two real MariaDB servers on
// loopback (internal/mysqlpair) with a fake crm_attribute that records the
// promotion scores. It needs root, mariadbd and mariadb-install-db; without
// them it skips and says why. Every server it starts it ends by pid.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/fakecrm"
	"github.com/goha-ha/goha/internal/mysqlpair"
	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/internal/testbuild"
)

// fixture is the pair, the agent binary and what the agent is told.
type fixture struct {
	t     *testing.T
	pair  *mysqlpair.Pair
	agent string
	crm   *fakecrm.Store
	tmp   string
	extra []string // parameters every call gets
	roots map[int]*sql.DB
}

func newFixture(t *testing.T, extra ...string) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if why := mysqlpair.Missing(); why != "" {
		t.Skip("component test: " + why)
	}
	f, dir := newBareFixture(t, extra)
	pair, err := mysqlpair.New(filepath.Join(dir, "pair"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pair.Close(); err != nil {
			t.Errorf("close pair: %v", err)
		}
	})
	f.pair = pair
	return f
}

// newBareFixture builds the agent and the fake crm_attribute in a
// directory of the test's own, and returns it without a pair.
func newBareFixture(t *testing.T, extra []string) (*fixture, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "goha-mysql-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // ocf-tester runs meta-data as nobody
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	agent, err := testbuild.Main(dir, "mysql", "./agents/mysql/internal/mysqlcmd")
	if err != nil {
		t.Fatal(err)
	}
	crm, err := fakecrm.Install(filepath.Join(dir, "crm"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, agent: agent, crm: crm, tmp: filepath.Join(dir, "rsctmp"), extra: extra}, dir
}

// env is what Pacemaker would pass for node i.
func (f *fixture) env(i int, extra ...string) []string {
	n := f.pair.Nodes[i]
	env := []string{
		"PATH=" + f.crm.BinDir + ":/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf",
		"HA_RSCTMP=" + f.tmp + "/" + n.Name, "OCF_RESOURCE_INSTANCE=db",
	}
	params := []string{
		"config=" + n.Config, "datadir=" + n.Datadir, "socket=" + n.Socket, "pid=" + n.PidFile, "log=" + n.Log,
		"replication_user=" + mysqlpair.ReplUser, "replication_passwd=" + mysqlpair.ReplPassword,
		"replication_port=" + strconv.Itoa(f.pair.Port), "host_map=" + f.pair.HostMap(),
		"CRM_meta_on_node=" + n.Name, "CRM_meta_promotable=true", "CRM_meta_promoted_max=1",
		"CRM_meta_notify=true", "CRM_meta_timeout=60000",
	}
	for _, p := range append(append(params, f.extra...), extra...) {
		if strings.HasPrefix(p, "OCF_") {
			env = append(env, p)
		} else {
			env = append(env, "OCF_RESKEY_"+p)
		}
	}
	return env
}

// run runs one action on node i and returns its exit code and output.
func (f *fixture) run(i int, action string, extra ...string) (int, string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.agent, action)
	cmd.Env = f.env(i, extra...)
	out, err := cmd.CombinedOutput()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		f.t.Fatalf("%s on %s: %v", action, f.pair.Nodes[i].Name, err)
	}
	return rc, string(out)
}

// must runs an action and fails the test unless it exits want.
func (f *fixture) must(i int, action string, want int, extra ...string) string {
	f.t.Helper()
	rc, out := f.run(i, action, extra...)
	if rc != want {
		f.t.Fatalf("%s on %s: rc=%d, want %d\n%s\ncrm_attribute calls:\n%s", action, f.pair.Nodes[i].Name, rc, want, out, f.crm.Calls())
	}
	return out
}

// score is the promotion score node i published, "" when none.
func (f *fixture) score(i int) string {
	v, _, err := f.crm.Get(f.pair.Nodes[i].Name, "master-db")
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// notify tells both nodes that op completed with the given node lists.
func (f *fixture) notify(op string, vars map[string]string) {
	f.t.Helper()
	extra := []string{"CRM_meta_notify_type=post", "CRM_meta_notify_operation=" + op}
	for k, v := range vars {
		extra = append(extra, "CRM_meta_notify_"+k+"="+v)
	}
	for i := range f.pair.Nodes {
		f.must(i, "notify", 0, extra...)
	}
}

// root is node i's server as root, one pool per node for the whole test
// (the servers allow few connections).
func (f *fixture) root(i int) *sql.DB {
	f.t.Helper()
	if db, ok := f.roots[i]; ok {
		return db
	}
	db, err := f.pair.Nodes[i].Root()
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	if f.roots == nil {
		f.roots = map[int]*sql.DB{}
	}
	f.roots[i] = db
	return db
}

func (f *fixture) writer(i int) *sql.DB {
	f.t.Helper()
	db, err := f.pair.Nodes[i].Writer(f.pair.Port)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	return db
}

// insert commits n numbered rows from id on node i as the writer account.
func (f *fixture) insert(i, from, n int) error {
	db := f.writer(i)
	for id := from; id < from+n; id++ {
		if _, err := db.Exec("INSERT INTO t (id) VALUES (?)", id); err != nil {
			return fmt.Errorf("insert %d on %s: %w", id, f.pair.Nodes[i].Name, err)
		}
	}
	return nil
}

// count counts the table on node i.
func (f *fixture) count(i int) (int, error) {
	var n int
	err := f.root(i).QueryRow("SELECT COUNT(*) FROM " + mysqlpair.Database + ".t").Scan(&n)
	return n, err
}

// rows counts the table on node i, failing the test when it cannot.
func (f *fixture) rows(i int) int {
	f.t.Helper()
	n, err := f.count(i)
	if err != nil {
		f.t.Fatalf("count rows on %s: %v", f.pair.Nodes[i].Name, err)
	}
	return n
}

// waitRows waits until node i holds want rows (the table may not have
// replicated yet).
func (f *fixture) waitRows(i, want int) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := f.count(i)
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s holds %d rows (%v), want %d", f.pair.Nodes[i].Name, n, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverPid is the live server of node i, 0 when none.
func (f *fixture) serverPid(i int) int {
	s := f.pair.Nodes[i].Server()
	if pids := s.Find(); len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// failOver kills the writer on node dead with SIGKILL, checks that its
// monitor reports it stopped and its score is gone, promotes node to, and
// checks that the new writer holds want rows. The dead node's resource is
// stopped after, as Pacemaker does before it restarts it.
func (f *fixture) failOver(dead, to, want int) {
	f.t.Helper()
	pid := f.serverPid(dead)
	if pid == 0 {
		f.t.Fatalf("no server on %s", f.pair.Nodes[dead].Name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		f.t.Fatal(err)
	}
	for proc.Alive(pid) {
		time.Sleep(20 * time.Millisecond)
	}
	f.must(dead, "monitor", 7)
	if got := f.score(dead); got != "" {
		f.t.Errorf("score of a dead writer = %q, want none", got)
	}
	f.must(to, "promote", 0)
	if got := f.rows(to); got != want {
		f.t.Fatalf("the new writer holds %d rows, want all %d acknowledged", got, want)
	}
	f.must(dead, "stop", 0)
}

// TestComponentFailoverAndSwitch walks the File Fabric life cycle with
// semi-synchronous replication: two servers start read-only, one is
// promoted and takes writes while the other replicates; a planned switch
// to a replica whose SQL thread is stopped is refused, and succeeds once it
// has caught up; the writer is killed with SIGKILL and the replica is
// promoted with every acknowledged row; the old writer returns as a
// replica and stays one.
func TestComponentFailoverAndSwitch(t *testing.T) {
	f := newFixture(t, "semi_sync=true", "semi_sync_timeout=5000")
	const n1, n2 = 0, 1

	f.must(n1, "monitor", 7, "CRM_meta_interval=0")
	f.must(n1, "start", 0)
	f.must(n2, "start", 0)
	f.must(n1, "start", 0) // idempotent
	for i := range f.pair.Nodes {
		f.must(i, "monitor", 0)
		if got := f.score(i); got != strconv.Itoa(ScoreUnconfigured) {
			t.Fatalf("score of %s after start = %q, want %d", f.pair.Nodes[i].Name, got, ScoreUnconfigured)
		}
	}
	if _, err := f.writer(n1).Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("a write to an unpromoted server: %v, want a read-only refusal", err)
	}

	// n1 becomes the writer; both directions are set up by notify.
	f.must(n1, "promote", 0)
	f.notify("promote", map[string]string{"promote_uname": "n1", "active_uname": "n1 n2"})
	f.must(n1, "monitor", 8)
	if got := f.score(n1); got != strconv.Itoa(ScoreWriter) {
		t.Fatalf("writer score = %q", got)
	}
	if _, err := f.writer(n1).Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n1, 1, 50); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n2, 1000, 1); err == nil {
		t.Fatal("the replica accepted a write")
	}
	f.waitRows(n2, 50)
	f.must(n2, "monitor", 0)
	if got := f.score(n2); got != strconv.Itoa(ScoreCaughtUp) {
		t.Fatalf("replica score after catching up = %q, want %d", got, ScoreCaughtUp)
	}
	var semi string
	if err := f.root(n1).QueryRow("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'Rpl_semi_sync_master_status'").Scan(&semi); err != nil || semi != "ON" {
		t.Fatalf("semi-sync on the writer: %q %v", semi, err)
	}

	// A replica that applies nothing is refused as the new writer ...
	if _, err := f.root(n2).Exec("STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n1, 51, 20); err != nil {
		t.Fatal(err)
	}
	out := f.must(n2, "monitor", 1)
	if !strings.Contains(out, "SQL thread") {
		t.Errorf("monitor of a stopped SQL thread says: %s", out)
	}
	if got := f.score(n2); got != "" {
		t.Errorf("score of a replica with a stopped SQL thread = %q, want none", got)
	}
	f.must(n1, "demote", 0)
	out = f.must(n2, "promote", 1)
	if !strings.Contains(out, "not promoting n2") {
		t.Errorf("refused promote says: %s", out)
	}
	if err := f.insert(n2, 1000, 1); err == nil {
		t.Fatal("a refused replica accepted a write")
	}
	// ... and accepted once it applies again and holds all the old writer holds.
	if _, err := f.root(n2).Exec("START SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	f.must(n2, "promote", 0)
	if got := f.rows(n2); got != 70 {
		t.Fatalf("the new writer holds %d rows at promotion, want 70", got)
	}
	f.notify("promote", map[string]string{"promote_uname": "n2", "demote_uname": "n1", "promoted_uname": "n1", "active_uname": "n1 n2"})
	f.must(n1, "monitor", 0)
	f.must(n2, "monitor", 8)
	if err := f.insert(n2, 71, 30); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n1, 1000, 1); err == nil {
		t.Fatal("the demoted server accepted a write")
	}
	f.waitRows(n1, 100)

	// The writer dies; every acknowledged row is on the replica it fails over to.
	if err := f.insert(n2, 101, 25); err != nil {
		t.Fatal(err)
	}
	f.failOver(n2, n1, 125)

	// The old writer returns as a replica and stays one: no failback.
	f.must(n2, "start", 0)
	f.notify("start", map[string]string{"start_uname": "n2", "promoted_uname": "n1", "active_uname": "n1"})
	if err := f.insert(n1, 126, 10); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n2, 135)
	f.must(n2, "monitor", 0)
	f.must(n1, "monitor", 8)
	if s1, s2 := f.score(n1), f.score(n2); s1 != strconv.Itoa(ScoreWriter) || s2 != strconv.Itoa(ScoreCaughtUp) {
		t.Errorf("scores after the old writer returned: n1 %q n2 %q, want %d and %d", s1, s2, ScoreWriter, ScoreCaughtUp)
	}

	for i := range f.pair.Nodes {
		f.must(i, "stop", 0)
		f.must(i, "stop", 0)
		f.must(i, "monitor", 7)
		if got := f.score(i); got != "" {
			t.Errorf("score of %s after stop = %q", f.pair.Nodes[i].Name, got)
		}
	}
	if pids := f.pair.Pids(); len(pids) > 0 {
		t.Errorf("servers left after stop: %v", pids)
	}
}

// TestComponentDivergedReplica: a server whose history differs from the
// writer's (a transaction written on it while it was not the writer) is
// never promoted, and its monitor says why.
func TestComponentDivergedReplica(t *testing.T) {
	f := newFixture(t)
	const n1, n2 = 0, 1
	f.must(n1, "start", 0)
	f.must(n2, "start", 0)
	f.must(n1, "promote", 0)
	f.notify("promote", map[string]string{"promote_uname": "n1", "active_uname": "n1 n2"})
	if _, err := f.writer(n1).Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n2, 0)
	// Both cut apart (replication stopped both ways), then a write on
	// each: the writer's, and one on the replica behind the agent's back
	// (root is not stopped by read_only, as an administrator's mistake
	// would not be). The two histories now differ at the same sequence
	// number.
	for _, i := range []int{n1, n2} {
		if _, err := f.root(i).Exec("STOP SLAVE"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.insert(n1, 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.root(n2).Exec("INSERT INTO " + mysqlpair.Database + ".t (id) VALUES (999)"); err != nil {
		t.Fatal(err)
	}
	out := f.must(n2, "monitor", 1)
	if !strings.Contains(out, "lacks") {
		t.Errorf("monitor of a diverged replica says: %s", out)
	}
	if got := f.score(n2); got != "" {
		t.Errorf("score of a diverged replica = %q, want none", got)
	}
	f.must(n1, "demote", 0)
	out = f.must(n2, "promote", 1)
	if !strings.Contains(out, "diverged") {
		t.Errorf("promote of a diverged replica says: %s", out)
	}
	// The administrator forces it.
	if err := f.crm.Set("n2", "db-force-promote", "true"); err != nil {
		t.Fatal(err)
	}
	f.must(n2, "promote", 0)
	f.must(n2, "monitor", 8)
}

func TestComponentValidation(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		extra []string
		rc    int
		says  string
	}{
		{"missing binary", []string{"binary=/nonexistent/mariadbd"}, 5, "binary"},
		{"mysqld_safe", []string{"binary=/usr/bin/mysqld_safe"}, 6, "mysqld_safe"},
		{"two writers", []string{"CRM_meta_promoted_max=2"}, 6, "promoted-max"},
		{"no replication user", []string{"replication_user="}, 6, "replication_user"},
		{"bad host map", []string{"host_map=n1"}, 6, "host_map"},
		{"bad test table", []string{"test_table=t; DROP"}, 6, "test_table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, out := f.run(0, "validate-all", tc.extra...)
			if rc != tc.rc || !strings.Contains(out, tc.says) {
				t.Errorf("rc=%d, want %d mentioning %q:\n%s", rc, tc.rc, tc.says, out)
			}
		})
	}
}

func TestComponentOCFTester(t *testing.T) {
	f := newFixture(t)
	tester, err := exec.LookPath("ocf-tester")
	if err != nil {
		t.Skip("ocf-tester (resource-agents) is not installed")
	}
	n := f.pair.Nodes[0]
	args := []string{"-n", "db", "-o", "config=" + n.Config, "-o", "datadir=" + n.Datadir, "-o", "socket=" + n.Socket,
		"-o", "pid=" + n.PidFile, "-o", "log=" + n.Log, "-o", "replication_user=" + mysqlpair.ReplUser,
		"-o", "replication_passwd=" + mysqlpair.ReplPassword, "-o", "replication_port=" + strconv.Itoa(f.pair.Port),
		"-o", "host_map=" + f.pair.HostMap(), "-o", "CRM_meta_promotable=true", "-o", "CRM_meta_on_node=n1", f.agent}
	cmd := exec.Command(tester, args...)
	cmd.Env = append(os.Environ(), "PATH="+f.crm.BinDir+":"+os.Getenv("PATH"), "HA_RSCTMP="+f.tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("ocf-tester: %v\n%s", err, out)
	}
	if pids := f.pair.Pids(); len(pids) > 0 {
		t.Errorf("ocf-tester left servers %v", pids)
	}
}

// TestComponentFilePositioning walks the failover life cycle with
// replication_positioning=file, as servers without GTIDs replicate: both
// directions are set from the binary log coordinates the servers publish,
// a planned switch and a failover resume at the coordinates each replica
// kept, and every row arrives exactly once. A wrong position would replay
// rows (the SQL thread stops on a duplicate key and the monitor fails) or
// skip them (the row counts differ).
func TestComponentFilePositioning(t *testing.T) {
	f := newFixture(t, "replication_positioning=file")
	const n1, n2 = 0, 1
	usingGTID := func(i int) string {
		t.Helper()
		row, err := firstRow(context.Background(), f.root(i), "SHOW SLAVE STATUS")
		if err != nil {
			t.Fatal(err)
		}
		return row["Using_Gtid"]
	}

	f.must(n1, "start", 0)
	f.must(n2, "start", 0)
	// The data both servers begin with, in each one's own binary log (an
	// administrator's load before the pair is set up); start again
	// publishes where each binary log ends now, after it. Replication that
	// began before those events would replay them and stop on a duplicate.
	for i := range f.pair.Nodes {
		db := f.root(i)
		if _, err := db.Exec("CREATE TABLE " + mysqlpair.Database + ".t (id INT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		for id := 1; id <= 10; id++ {
			if _, err := db.Exec("INSERT INTO "+mysqlpair.Database+".t (id) VALUES (?)", id); err != nil {
				t.Fatal(err)
			}
		}
		f.must(i, "start", 0)
	}
	for i, n := range f.pair.Nodes {
		v, ok, err := f.crm.Get(n.Name, "db-binlog")
		if err != nil || !ok {
			t.Fatalf("%s published no coordinates after start (%v)", n.Name, err)
		}
		if _, err := ParseCoordinates(v); err != nil {
			t.Fatalf("%s published %q: %v", n.Name, v, err)
		}
		f.must(i, "monitor", 0)
	}
	f.must(n1, "promote", 0)
	f.notify("promote", map[string]string{"promote_uname": "n1", "active_uname": "n1 n2"})
	for i, n := range f.pair.Nodes {
		if got := usingGTID(i); got != "No" {
			t.Errorf("%s replicates with Using_Gtid=%q, want No", n.Name, got)
		}
	}
	if err := f.insert(n1, 11, 40); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n2, 50)
	f.must(n2, "monitor", 0)
	f.must(n1, "monitor", 8)

	// A planned switch: each side resumes at the coordinates it kept.
	f.must(n1, "demote", 0)
	f.must(n2, "promote", 0)
	f.notify("promote", map[string]string{"promote_uname": "n2", "demote_uname": "n1", "promoted_uname": "n1", "active_uname": "n1 n2"})
	if err := f.insert(n2, 51, 30); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n1, 80)
	f.must(n1, "monitor", 0)
	f.must(n2, "monitor", 8)

	// The writer is killed once its rows reached the replica, which is
	// promoted; the old writer returns as a replica at its kept place.
	if err := f.insert(n2, 81, 20); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n1, 100)
	f.failOver(n2, n1, 100)
	f.must(n2, "start", 0)
	f.notify("start", map[string]string{"start_uname": "n2", "promoted_uname": "n1", "active_uname": "n1"})
	if err := f.insert(n1, 101, 10); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n2, 110)
	f.must(n2, "monitor", 0)
	f.must(n1, "monitor", 8)
	// The writer follows n2 again too: a row only n2 could hand back would
	// show there, and none may be applied twice.
	if got := f.rows(n1); got != 110 {
		t.Errorf("the writer holds %d rows, want 110", got)
	}
	if s1, s2 := f.score(n1), f.score(n2); s1 != strconv.Itoa(ScoreWriter) || s2 != strconv.Itoa(ScoreCaughtUp) {
		t.Errorf("scores: n1 %q n2 %q, want %d and %d", s1, s2, ScoreWriter, ScoreCaughtUp)
	}
	for i := range f.pair.Nodes {
		if got := usingGTID(i); got != "No" {
			t.Errorf("%s replicates with Using_Gtid=%q after the failover, want No", f.pair.Nodes[i].Name, got)
		}
		f.must(i, "stop", 0)
	}
}
