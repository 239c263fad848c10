package mysql

import (
	"strings"
	"testing"
)

func gtids(t *testing.T, s string) GTIDSet {
	t.Helper()
	g, err := ParseGTIDSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestScoreAndVerdict(t *testing.T) {
	p := Policy{MaxLag: 60}
	healthy := Replica{Source: "db1", IORunning: "Yes", SQLRunning: true, Lag: 0, RelayApplied: true}
	with := func(f func(*Replica)) Replica { r := healthy; f(&r); return r }
	for _, tc := range []struct {
		name       string
		o          Observed
		policy     Policy
		score      int
		reasonHas  string
		promoted   bool
		verdictHas string // "" means healthy
	}{
		{"writer", Observed{ReadOnly: false}, p, ScoreWriter, "", true, ""},
		{"caught up", Observed{ReadOnly: true, Replica: healthy}, p, ScoreCaughtUp, "", false, ""},
		{"source down, all applied", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.IORunning = "Connecting"; r.IOErrno = 2003; r.Lag = -1 })}, p, ScoreCaughtUp, "", false, ""},
		{"relay not applied", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.RelayApplied = false; r.Lag = 5 })}, p, ScoreBehind, "relay log", false, ""},
		{"lagging", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.Lag = 30 })}, p, ScoreBehind, "30 s", false, ""},
		{"beyond max lag", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.Lag = 61 })}, p, ScoreOutdated, "max_slave_lag", false, ""},
		{"beyond max lag, evicted", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.Lag = 61 })}, Policy{MaxLag: 60, Evict: true}, ScoreOutdated, "max_slave_lag", false, "evict_outdated_slaves"},
		{"sql error", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.SQLRunning = false; r.SQLErrno = 1062; r.SQLError = "Duplicate entry" })}, p, Ineligible, "1062", false, "1062"},
		{"sql stopped", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.SQLRunning = false })}, p, Ineligible, "stopped", false, "not running"},
		{"io fatal error", Observed{ReadOnly: true, Replica: with(func(r *Replica) { r.IORunning = "No"; r.IOErrno = 1236; r.IOError = "not in the master's binlog" })}, p, Ineligible, "1236", false, "1236"},
		{"unconfigured", Observed{ReadOnly: true}, p, ScoreUnconfigured, "no replication source", false, ""},
		{"errant", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-1-105"), SourceBinlog: ptr(gtids(t, "0-2-103")), SourceWritable: true}, p, Ineligible, "0:104-105", false, "lacks"},
		{"diverged at equal seq", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-1-100"), SourceBinlog: ptr(gtids(t, "0-2-100")), SourceWritable: true}, p, Ineligible, "diverged", false, "lacks"},
		{"diverged from a read-only source", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-1-100"), SourceBinlog: ptr(gtids(t, "0-2-100"))}, p, Ineligible, "diverged", false, "lacks"},
		{"behind source is no error", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-1-90"), SourceBinlog: ptr(gtids(t, "0-2-100")), SourceWritable: true}, p, ScoreCaughtUp, "", false, ""},
		// The old writer restarted and its crash recovery dropped a commit
		// this replica had received: the source refuses the replica's
		// position, and the replica is the one to promote.
		{"ahead of a restarted read-only source", Observed{ReadOnly: true, Replica: with(func(r *Replica) {
			r.IORunning = "No"
			r.IOErrno = 1236
			r.IOError = "requested to start from GTID 0-2-55, which is not in the master's binlog"
			r.Lag = -1
		}), Binlog: gtids(t, "0-2-55"), SourceBinlog: ptr(gtids(t, "0-2-54"))}, p, ScoreCaughtUp, "", false, ""},
		{"ahead of the writer is errant", Observed{ReadOnly: true, Replica: with(func(r *Replica) {
			r.IORunning = "No"
			r.IOErrno = 1236
		}), Binlog: gtids(t, "0-2-55"), SourceBinlog: ptr(gtids(t, "0-2-54")), SourceWritable: true}, p, Ineligible, "0:55", false, "lacks"},
		{"1236 from a source that is not behind", Observed{ReadOnly: true, Replica: with(func(r *Replica) {
			r.IORunning = "No"
			r.IOErrno = 1236
		}), Binlog: gtids(t, "0-2-50"), SourceBinlog: ptr(gtids(t, "0-2-54"))}, p, Ineligible, "1236", false, "1236"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			score, reason := Score(tc.o, tc.policy)
			if score != tc.score || !strings.Contains(reason, tc.reasonHas) {
				t.Errorf("Score = %d %q; want %d containing %q", score, reason, tc.score, tc.reasonHas)
			}
			promoted, err := Verdict(tc.o, tc.policy)
			if promoted != tc.promoted {
				t.Errorf("Verdict promoted = %v", promoted)
			}
			if (err == nil) != (tc.verdictHas == "") || (err != nil && !strings.Contains(err.Error(), tc.verdictHas)) {
				t.Errorf("Verdict = %v; want containing %q", err, tc.verdictHas)
			}
		})
	}
}

// No replica ever outranks the writer: the writer keeps its role when a
// node returns (no automatic failback).
func TestWriterOutranksEveryReplica(t *testing.T) {
	for _, lag := range []int64{-1, 0, 1, 100} {
		for _, applied := range []bool{false, true} {
			o := Observed{ReadOnly: true, Replica: Replica{Source: "x", IORunning: "Yes", SQLRunning: true, Lag: lag, RelayApplied: applied}}
			if s, _ := Score(o, Policy{MaxLag: 50}); s >= ScoreWriter {
				t.Errorf("replica lag %d applied %v scores %d >= writer", lag, applied, s)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestReadiness(t *testing.T) {
	healthy := Replica{Source: "db2", IORunning: "Yes", SQLRunning: true, RelayApplied: true}
	for _, tc := range []struct {
		name         string
		o            Observed
		ready, fatal bool
		reasonHas    string
	}{
		{"already writer", Observed{}, true, false, ""},
		{"old writer dead, relay applied", Observed{ReadOnly: true, Replica: Replica{Source: "db2", IORunning: "Connecting", IOErrno: 2003, SQLRunning: true, RelayApplied: true}, Binlog: gtids(t, "0-2-50")}, true, false, ""},
		{"relay not applied", Observed{ReadOnly: true, Replica: Replica{Source: "db2", IORunning: "Connecting", SQLRunning: true}}, false, false, "relay log"},
		{"behind the old writer", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-2-40"), SourceBinlog: ptr(gtids(t, "0-2-50"))}, false, false, "lacks 0:41-50"},
		{"ahead of the read-only old writer", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-2-52"), SourceBinlog: ptr(gtids(t, "0-2-50"))}, true, false, ""},
		{"ahead of a writable source", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-2-52"), SourceBinlog: ptr(gtids(t, "0-2-50")), SourceWritable: true}, false, true, "diverged"},
		{"holds all the old writer holds", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-2-50"), SourceBinlog: ptr(gtids(t, "0-2-50"))}, true, false, ""},
		{"sql stopped", Observed{ReadOnly: true, Replica: Replica{Source: "db2", IORunning: "Yes"}}, false, true, "stopped"},
		{"diverged at one sequence number", Observed{ReadOnly: true, Replica: healthy, Binlog: gtids(t, "0-1-50"), SourceBinlog: ptr(gtids(t, "0-2-50"))}, false, true, "diverged"},
		{"never configured", Observed{ReadOnly: true}, true, false, ""},
		{"file positioning, applied to the source's end", Observed{ReadOnly: true, Replica: at(healthy, "bin.000007", 900), SourceEnd: &BinlogCoordinates{"bin.000007", 900}}, true, false, ""},
		{"file positioning, behind in the same file", Observed{ReadOnly: true, Replica: at(healthy, "bin.000007", 600), SourceEnd: &BinlogCoordinates{"bin.000007", 900}}, false, false, "up to bin.000007:600, which ends at bin.000007:900"},
		{"file positioning, a file behind", Observed{ReadOnly: true, Replica: at(healthy, "bin.000009", 9000), SourceEnd: &BinlogCoordinates{"bin.000010", 4}}, false, false, "behind db2"},
		{"file positioning, source not asked", Observed{ReadOnly: true, Replica: at(healthy, "bin.000007", 600)}, true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready, fatal, reason := Readiness(tc.o)
			if ready != tc.ready || fatal != tc.fatal || !strings.Contains(reason, tc.reasonHas) {
				t.Errorf("Readiness = %v %v %q; want %v %v containing %q", ready, fatal, reason, tc.ready, tc.fatal, tc.reasonHas)
			}
		})
	}
}

// at is r having executed its source's binary log up to file:pos.
func at(r Replica, file string, pos int64) Replica {
	r.Executed = BinlogCoordinates{file, pos}
	return r
}

func TestSource(t *testing.T) {
	for _, tc := range []struct {
		name         string
		self         string
		promoted     []string
		active       []string
		selfPromoted bool
		want         string
	}{
		{"replica follows the writer", "db2", []string{"db1"}, []string{"db1", "db2"}, false, "db1"},
		{"replica with no writer keeps its source", "db2", nil, []string{"db1", "db2"}, false, ""},
		{"writer follows the other", "db1", []string{"db1"}, []string{"db1", "db2"}, true, "db2"},
		{"writer alone", "db1", []string{"db1"}, []string{"db1"}, true, ""},
		{"writer among three: no single other", "db1", []string{"db1"}, []string{"db1", "db2", "db3"}, true, ""},
		{"replica listed as promoted with another", "db2", []string{"db2", "db1"}, []string{"db1", "db2"}, false, "db1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Source(tc.self, tc.promoted, tc.active, tc.selfPromoted); got != tc.want {
				t.Errorf("Source = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestParseReplicaStatus(t *testing.T) {
	mariadb := map[string]string{
		"Master_Host": "db1", "Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes",
		"Last_IO_Errno": "0", "Last_SQL_Errno": "0", "Seconds_Behind_Master": "0",
		"Master_Log_File": "mysql-bin.000003", "Relay_Master_Log_File": "mysql-bin.000003",
		"Read_Master_Log_Pos": "1234", "Exec_Master_Log_Pos": "1234",
	}
	r := ParseReplicaStatus(mariadb)
	if r.Source != "db1" || !r.SQLRunning || r.IORunning != "Yes" || !r.RelayApplied || r.Lag != 0 ||
		r.Executed != (BinlogCoordinates{"mysql-bin.000003", 1234}) {
		t.Errorf("MariaDB row: %+v", r)
	}
	mysql8 := map[string]string{
		"Source_Host": "db2", "Replica_IO_Running": "Connecting", "Replica_SQL_Running": "Yes",
		"Last_IO_Errno": "2003", "Last_SQL_Errno": "0", "Seconds_Behind_Source": "NULL",
		"Source_Log_File": "binlog.000002", "Relay_Source_Log_File": "binlog.000002",
		"Read_Source_Log_Pos": "500", "Exec_Source_Log_Pos": "400",
	}
	r = ParseReplicaStatus(mysql8)
	if r.Source != "db2" || r.IOErrno != 2003 || r.Lag != -1 || r.RelayApplied ||
		r.Executed != (BinlogCoordinates{"binlog.000002", 400}) {
		t.Errorf("MySQL 8 row: %+v", r)
	}
	// MySQL's multi-threaded applier between two checkpoints: the
	// coordinates lag, the GTID sets say all received is applied.
	const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	mts := map[string]string{
		"Source_Host": "db2", "Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes",
		"Source_Log_File": "binlog.000001", "Relay_Source_Log_File": "binlog.000001",
		"Read_Source_Log_Pos": "14468", "Exec_Source_Log_Pos": "158",
		"Retrieved_Gtid_Set": uuid + ":1-52", "Executed_Gtid_Set": uuid + ":1-52,\n" + strings.Replace(uuid, "3e", "4f", 1) + ":1-3",
	}
	if r := ParseReplicaStatus(mts); !r.RelayApplied {
		t.Errorf("MySQL row with all retrieved GTIDs executed: %+v", r)
	}
	mts["Executed_Gtid_Set"] = uuid + ":1-51"
	if r := ParseReplicaStatus(mts); r.RelayApplied {
		t.Errorf("MySQL row with a retrieved GTID not executed: %+v", r)
	}
	if r := ParseReplicaStatus(map[string]string{}); r.Configured() {
		t.Errorf("empty row is configured: %+v", r)
	}
}

func TestRedactPassword(t *testing.T) {
	q := "CHANGE MASTER TO MASTER_USER = 'r', MASTER_PASSWORD = 's3\\'cr', MASTER_USE_GTID = current_pos"
	if got := redactPassword(q); strings.Contains(got, "s3") || !strings.Contains(got, "MASTER_PASSWORD = '***'") {
		t.Errorf("redactPassword = %q", got)
	}
	if got := quote("a'b\\c"); got != `'a\'b\\c'` {
		t.Errorf("quote = %s", got)
	}
}
