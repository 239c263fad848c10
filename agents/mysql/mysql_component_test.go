package mysql

// Component tests against real MySQL: MySQL 9.7 from Debian unstable, the
// successor of the 8.4 LTS with the same replication statements (SHOW
// REPLICA STATUS, CHANGE REPLICATION SOURCE TO, SHOW BINARY LOG STATUS,
// super_read_only). Debian ships no MySQL 8 server, and no MySQL server at
// all for the host's release; unstable's mysqld needs a newer C library
// than the host's, so it runs in a Debian root of its own
// (internal/mysqlroot), through a wrapper named by the agent's binary
// parameter. Data, sockets, pid files and logs live at the same paths on
// the host and in that root, so the agent finds, reaches and stops the
// servers as it would on a MySQL host.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/mysqlpair"
	"github.com/goha-ha/goha/internal/mysqlroot"
)

// newMySQLFixture is a fixture on two MySQL servers in a root of their
// own, with gtid_mode ON or OFF.
func newMySQLFixture(t *testing.T, gtid bool, extra ...string) (*fixture, *mysqlroot.Pair) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if why := mysqlroot.Missing(); why != "" {
		t.Skip("component test on MySQL: " + why)
	}
	f, dir := newBareFixture(t, nil)
	start := time.Now()
	pair, err := mysqlroot.New(filepath.Join(dir, "mysql9"), gtid)
	if errors.Is(err, mysqlroot.ErrNoRoot) {
		t.Skipf("component test on MySQL: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pair.Close(); err != nil {
			t.Errorf("close MySQL pair: %v", err)
		}
	})
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range pair.Nodes {
			if b, err := os.ReadFile(n.Log); err == nil {
				t.Logf("%s's error log:\n%s", n.Name, b)
			}
		}
	})
	v, _ := pair.Version()
	t.Logf("%s: root and data directories ready in %s", v, time.Since(start).Round(time.Millisecond))
	f.pair = pair.Pair
	f.extra = append([]string{"binary=" + pair.Binary}, extra...)
	return f, pair
}

// TestComponentMySQLGTID walks the failover life cycle on MySQL with
// gtid_mode=ON and replication_positioning=gtid: both servers start with
// super_read_only, semi_sync is refused with its reason, one is promoted
// and replication runs both ways with SOURCE_AUTO_POSITION; a planned
// switch to a replica whose SQL thread is stopped is refused until it
// applies again; the writer is killed with SIGKILL, the replica is
// promoted with every row, and the old writer returns as a replica.
func TestComponentMySQLGTID(t *testing.T) {
	f, _ := newMySQLFixture(t, true, "replication_positioning=gtid")
	const n1, n2 = 0, 1

	out := f.must(n1, "start", 6, "semi_sync=true")
	if !strings.Contains(out, "semi_sync") || !strings.Contains(out, "MariaDB") {
		t.Errorf("semi_sync on MySQL is refused with: %s", out)
	}
	if pids := f.pair.Pids(); len(pids) > 0 {
		t.Fatalf("a refused start left servers %v", pids)
	}
	f.walk(true)

	// A replica that applied nothing of late is refused as the writer ...
	f.must(n1, "promote", 0)
	f.notify("promote", map[string]string{"promote_uname": "n1", "active_uname": "n1 n2"})
	if _, err := f.root(n2).Exec("STOP REPLICA SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n1, 1000, 10); err != nil {
		t.Fatal(err)
	}
	if out := f.must(n2, "monitor", 1); !strings.Contains(out, "SQL thread") {
		t.Errorf("monitor of a stopped SQL thread says: %s", out)
	}
	f.must(n1, "demote", 0)
	if out := f.must(n2, "promote", 1); !strings.Contains(out, "not promoting n2") {
		t.Errorf("refused promote says: %s", out)
	}
	// ... and promoted once it applies again, holding all n1 holds.
	if _, err := f.root(n2).Exec("START REPLICA SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	f.must(n2, "promote", 0)
	if got, want := f.rows(n2), f.rows(n1); got != want {
		t.Errorf("the new writer holds %d rows, the old one %d", got, want)
	}
	f.stopAll()

	// ocf-tester's sequence on one MySQL server.
	tester, err := exec.LookPath("ocf-tester")
	if err != nil {
		t.Log("ocf-tester (resource-agents) is not installed: not run")
		return
	}
	n := f.pair.Nodes[0]
	args := []string{"-n", "db", "-o", "binary=" + f.extra[0][len("binary="):], "-o", "config=" + n.Config,
		"-o", "datadir=" + n.Datadir, "-o", "socket=" + n.Socket, "-o", "pid=" + n.PidFile, "-o", "log=" + n.Log,
		"-o", "replication_user=" + mysqlpair.ReplUser, "-o", "replication_passwd=" + mysqlpair.ReplPassword,
		"-o", "replication_port=" + strconv.Itoa(f.pair.Port), "-o", "host_map=" + f.pair.HostMap(),
		"-o", "CRM_meta_promotable=true", "-o", "CRM_meta_on_node=n1", f.agent}
	cmd := exec.Command(tester, args...)
	cmd.Env = append(os.Environ(), "PATH="+f.crm.BinDir+":"+os.Getenv("PATH"), "HA_RSCTMP="+f.tmp)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("ocf-tester on MySQL: %v\n%s", err, out)
	} else {
		t.Logf("ocf-tester passed on MySQL in %s", time.Since(start).Round(time.Millisecond))
	}
	if pids := f.pair.Pids(); len(pids) > 0 {
		t.Errorf("ocf-tester left servers %v", pids)
	}
}

// TestComponentMySQLFilePositioning walks the same life cycle on MySQL
// with gtid_mode=OFF and replication_positioning=auto, which must choose
// binary log file and offset: each server publishes its coordinates, the
// replicas are set with SOURCE_AUTO_POSITION=0 at them, and every row
// arrives exactly once through a switch and a failover (a wrong position
// replays rows, which stops the SQL thread on a duplicate key, or skips
// them, which the row counts show).
func TestComponentMySQLFilePositioning(t *testing.T) {
	f, _ := newMySQLFixture(t, false)
	out := f.must(0, "start", 6, "replication_positioning=gtid")
	if !strings.Contains(out, "replication_positioning") || !strings.Contains(out, "gtid_mode") {
		t.Errorf("gtid positioning without gtid_mode is refused with: %s", out)
	}
	f.must(0, "stop", 0)
	f.walk(false)
	f.stopAll()
}

// walk starts both servers, promotes n1, replicates, switches to n2,
// kills n2 and fails over to n1, and brings n2 back as a replica.
func (f *fixture) walk(gtid bool) {
	t := f.t
	t.Helper()
	const n1, n2 = 0, 1
	autoPosition := "0"
	if gtid {
		autoPosition = "1"
	}
	// Both directions replicate; an IO thread whose source was just
	// restarted reconnects within its retry period (SOURCE_CONNECT_RETRY=1).
	checkReplication := func(when string) {
		t.Helper()
		for i, n := range f.pair.Nodes {
			var row map[string]string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				var err error
				if row, err = firstRow(context.Background(), f.root(i), "SHOW REPLICA STATUS"); err != nil {
					t.Fatal(err)
				}
				if row["Replica_IO_Running"] != "Connecting" || time.Now().After(deadline) {
					break
				}
			}
			if row["Source_Retry_Count"] != "86400" {
				t.Errorf("%s: %s retries its source %s times, want 86400", when, n.Name, row["Source_Retry_Count"])
			}
			if row["Auto_Position"] != autoPosition || row["Replica_IO_Running"] != "Yes" || row["Replica_SQL_Running"] != "Yes" {
				t.Errorf("%s: %s replicates with Auto_Position=%q IO %q SQL %q (%s %s), want Auto_Position=%s and both running",
					when, n.Name, row["Auto_Position"], row["Replica_IO_Running"], row["Replica_SQL_Running"],
					row["Last_IO_Error"], row["Last_SQL_Error"], autoPosition)
			}
		}
	}

	f.must(n1, "monitor", 7, "CRM_meta_interval=0")
	f.must(n1, "start", 0)
	f.must(n2, "start", 0)
	f.must(n1, "start", 0) // idempotent
	for i, n := range f.pair.Nodes {
		f.must(i, "monitor", 0)
		if got := f.score(i); got != strconv.Itoa(ScoreUnconfigured) {
			t.Fatalf("score of %s after start = %q, want %d", n.Name, got, ScoreUnconfigured)
		}
		var superRO int
		if err := f.root(i).QueryRow("SELECT @@super_read_only").Scan(&superRO); err != nil || superRO != 1 {
			t.Fatalf("%s after start: super_read_only=%d %v, want 1", n.Name, superRO, err)
		}
		if _, ok, _ := f.crm.Get(n.Name, "db-binlog"); ok == gtid {
			t.Errorf("%s published binary log coordinates: %v, want %v", n.Name, ok, !gtid)
		}
	}
	if _, err := f.writer(n1).Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("a write to an unpromoted server: %v, want a read-only refusal", err)
	}

	f.must(n1, "promote", 0)
	f.notify("promote", map[string]string{"promote_uname": "n1", "active_uname": "n1 n2"})
	f.must(n1, "monitor", 8)
	var superRO int
	if err := f.root(n1).QueryRow("SELECT @@super_read_only + @@read_only").Scan(&superRO); err != nil || superRO != 0 {
		t.Fatalf("the writer: super_read_only + read_only = %d %v, want 0", superRO, err)
	}
	if _, err := f.writer(n1).Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n1, 1, 50); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n2, 500, 1); err == nil {
		t.Fatal("the replica accepted a write")
	}
	f.waitRows(n2, 50)
	f.waitCaughtUp(n2)
	checkReplication("after the first promotion")

	// A planned switch.
	f.must(n1, "demote", 0)
	f.must(n2, "promote", 0)
	f.notify("promote", map[string]string{"promote_uname": "n2", "demote_uname": "n1", "promoted_uname": "n1", "active_uname": "n1 n2"})
	f.must(n1, "monitor", 0)
	f.must(n2, "monitor", 8)
	if err := f.insert(n2, 51, 30); err != nil {
		t.Fatal(err)
	}
	if err := f.insert(n1, 500, 1); err == nil {
		t.Fatal("the demoted server accepted a write")
	}
	f.waitRows(n1, 80)
	checkReplication("after the switch")

	// The writer dies by SIGKILL once its rows reached the replica (no
	// semi-sync on MySQL: asynchronous), which is promoted.
	if err := f.insert(n2, 81, 20); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n1, 100)
	f.failOver(n2, n1, 100)

	// The old writer returns as a replica and stays one. The killed
	// server left its socket lock behind, which start removes.
	lock := f.pair.Nodes[n2].Socket + ".lock"
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("the killed server left no socket lock (%v): the restart below proves nothing about it", err)
	}
	if out := f.must(n2, "start", 0); !strings.Contains(out, "removed "+lock) {
		t.Errorf("start after a kill does not say it removed %s:\n%s", lock, out)
	}
	f.notify("start", map[string]string{"start_uname": "n2", "promoted_uname": "n1", "active_uname": "n1"})
	if err := f.insert(n1, 101, 10); err != nil {
		t.Fatal(err)
	}
	f.waitRows(n2, 110)
	f.waitCaughtUp(n2)
	f.must(n1, "monitor", 8)
	if got := f.rows(n1); got != 110 {
		t.Errorf("the writer holds %d rows, want 110", got)
	}
	checkReplication("after the failover")
	if s1 := f.score(n1); s1 != strconv.Itoa(ScoreWriter) {
		t.Errorf("score of the writer after the old writer returned: %q, want %d", s1, ScoreWriter)
	}
}

// waitCaughtUp runs node i's monitor until it publishes the score of a
// replica that applied all it received, for up to five seconds: with file
// positioning MySQL's multi-threaded applier reports the coordinates it
// executed only at its checkpoints (every 300 ms), so a monitor right
// after the rows arrived may still see the relay log being applied.
func (f *fixture) waitCaughtUp(i int) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.must(i, "monitor", 0)
		got := f.score(i)
		if got == strconv.Itoa(ScoreCaughtUp) {
			return
		}
		if time.Now().After(deadline) {
			row, _ := firstRow(context.Background(), f.root(i), "SHOW REPLICA STATUS")
			f.t.Fatalf("score of %s = %q, want %d once caught up; replica status %v", f.pair.Nodes[i].Name, got, ScoreCaughtUp, row)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopAll stops both servers twice and checks that nothing is left.
func (f *fixture) stopAll() {
	f.t.Helper()
	for _, db := range f.roots {
		db.Close()
	}
	f.roots = nil
	for i, n := range f.pair.Nodes {
		f.must(i, "stop", 0)
		f.must(i, "stop", 0)
		f.must(i, "monitor", 7)
		if got := f.score(i); got != "" {
			f.t.Errorf("score of %s after stop = %q", n.Name, got)
		}
	}
	if pids := f.pair.Pids(); len(pids) > 0 {
		f.t.Errorf("servers left after stop: %v", pids)
	}
}
