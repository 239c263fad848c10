package mysql

import (
	"fmt"
	"slices"
)

// Promotion scores. The writer publishes the highest, so a replica never
// outranks it and a returning node never takes the writer role back by
// itself (the guides' nopreempt). Among replicas, one that has applied
// everything it received ranks first; lag lowers the score in steps, so a
// score changes, and crm_attribute runs, only when a replica crosses one.
const (
	ScoreWriter       = 1000
	ScoreCaughtUp     = 900 // applied all it received, lag 0
	ScoreBehind       = 500 // relay log not yet applied, lag within max_slave_lag
	ScoreUnconfigured = 100 // no replication source yet (a first start)
	ScoreOutdated     = 10  // lag beyond max_slave_lag
	Ineligible        = -1  // removes the score: never promoted
)

// Replica is what SHOW SLAVE STATUS (SHOW REPLICA STATUS) says about the
// replication threads; the zero value is a server with no source.
type Replica struct {
	Source     string // Master_Host
	IORunning  string // Yes, No or Connecting
	SQLRunning bool
	IOErrno    int
	IOError    string
	SQLErrno   int
	SQLError   string
	// Lag is Seconds_Behind_Master; -1 when NULL (IO or SQL thread down).
	Lag int64
	// RelayApplied: the SQL thread has executed everything the IO thread
	// wrote to the relay log (same source file and position read and
	// executed).
	RelayApplied bool
	// Executed is how far in the source's binary log the SQL thread has
	// executed (Relay_Master_Log_File, Exec_Master_Log_Pos).
	Executed BinlogCoordinates
}

// Configured reports whether a replication source is set.
func (r Replica) Configured() bool { return r.Source != "" }

// connectErrors are the IO-thread errors of an unreachable source: normal
// while the writer is down, and no sign of anything wrong on this side.
var connectErrors = []int{2003, 2005, 2006, 2013}

// Observed is one look at the local server.
type Observed struct {
	ReadOnly bool
	Replica  Replica
	// Binlog is every transaction this server holds (gtid_binlog_pos, or
	// gtid_executed on MySQL).
	Binlog GTIDSet
	// SourceBinlog is the source's, when it could be asked; nil otherwise.
	SourceBinlog *GTIDSet
	// SourceWritable: the source, when asked, had read_only off (it is
	// the writer, whose history is the one that counts).
	SourceWritable bool
	// SourceEnd is the end of the source's binary log, asked for with
	// file positioning; nil otherwise or when it could not be asked.
	SourceEnd *BinlogCoordinates
}

// Policy is what the parameters say about lag.
type Policy struct {
	MaxLag int64 // max_slave_lag, seconds
	Evict  bool  // evict_outdated_slaves: a replica beyond MaxLag fails its monitor
}

// Errant returns the transactions this server holds that its source, the
// writer, lacks (written here while it was not the writer: the sign of a
// split brain, or of a writer that crashed before shipping its last
// commits), or "" when there are none or the source could not be asked. A
// read-only source that lacks what this server holds is behind it, not
// ahead: see SourceBehind. Two histories that differ at one sequence
// number have diverged whichever side writes.
func (o Observed) Errant() string {
	if o.SourceBinlog == nil {
		return ""
	}
	missing, diverged := o.Binlog.Missing(*o.SourceBinlog)
	if diverged && missing == "" {
		return "a transaction numbered like one of the source's but written elsewhere"
	}
	if !o.SourceWritable {
		if diverged {
			return missing
		}
		return ""
	}
	return missing
}

// SourceBehind reports whether the source is a read-only server that holds
// nothing this server lacks but lacks some of what it holds: an old writer
// whose crash recovery dropped commits that were never acknowledged, which
// this replica had already received. The source then refuses this
// replica's position (IO error 1236) until it has caught up from it; this
// replica is the better one to promote, not a broken one.
func (o Observed) SourceBehind() bool {
	if o.SourceBinlog == nil || o.SourceWritable {
		return false
	}
	ahead, diverged := o.Binlog.Missing(*o.SourceBinlog)
	behind, _ := o.SourceBinlog.Missing(o.Binlog)
	return ahead != "" && behind == "" && !diverged
}

// ioFailed reports a replication IO error that is not the source being
// unreachable, nor a source that is behind this server.
func (o Observed) ioFailed() bool {
	r := o.Replica
	if r.IOErrno == 0 || slices.Contains(connectErrors, r.IOErrno) {
		return false
	}
	return !(r.IOErrno == errSourceLacksPosition && o.SourceBehind())
}

// errSourceLacksPosition is the server error a source answers a replica
// whose GTID position is not in its binary log.
const errSourceLacksPosition = 1236

// Score is the promotion score of an unpromoted (read-only) server, with
// the reason when it is lowered or removed.
func Score(o Observed, p Policy) (int, string) {
	if !o.ReadOnly {
		return ScoreWriter, ""
	}
	r := o.Replica
	if errant := o.Errant(); errant != "" {
		return Ineligible, fmt.Sprintf("holds transactions its source %s lacks (%s): the data has diverged", r.Source, errant)
	}
	if !r.Configured() {
		return ScoreUnconfigured, "no replication source configured yet"
	}
	if r.SQLErrno != 0 {
		return Ineligible, fmt.Sprintf("replication SQL thread error %d: %s", r.SQLErrno, r.SQLError)
	}
	if !r.SQLRunning {
		return Ineligible, "replication SQL thread is stopped: it applies nothing it receives"
	}
	if o.ioFailed() {
		return Ineligible, fmt.Sprintf("replication IO thread error %d: %s", r.IOErrno, r.IOError)
	}
	switch {
	case r.Lag > p.MaxLag:
		return ScoreOutdated, fmt.Sprintf("%d s behind %s, beyond max_slave_lag %d s", r.Lag, r.Source, p.MaxLag)
	case !r.RelayApplied || r.Lag > 0:
		return ScoreBehind, fmt.Sprintf("applying the relay log (%d s behind %s)", max(r.Lag, 0), r.Source)
	}
	return ScoreCaughtUp, ""
}

// Verdict is the monitor's answer about a running server: nil when healthy,
// else why not. Promoted says which role the server is in: writable is
// promoted, read-only is unpromoted.
func Verdict(o Observed, p Policy) (promoted bool, err error) {
	if !o.ReadOnly {
		return true, nil
	}
	r := o.Replica
	if errant := o.Errant(); errant != "" {
		return false, fmt.Errorf("holds transactions its source %s lacks (%s): rebuild this replica from the writer", r.Source, errant)
	}
	if !r.Configured() {
		return false, nil
	}
	if r.SQLErrno != 0 {
		return false, fmt.Errorf("replication from %s stopped on error %d: %s", r.Source, r.SQLErrno, r.SQLError)
	}
	if o.ioFailed() {
		return false, fmt.Errorf("replication from %s failed with IO error %d: %s", r.Source, r.IOErrno, r.IOError)
	}
	if !r.SQLRunning {
		return false, fmt.Errorf("replication SQL thread from %s is not running", r.Source)
	}
	if p.Evict && r.Lag > p.MaxLag {
		return false, fmt.Errorf("%d s behind %s, beyond max_slave_lag %d s (evict_outdated_slaves)", r.Lag, r.Source, p.MaxLag)
	}
	return false, nil
}

// Readiness says whether a replica may become the writer now: everything
// it received is applied and, when the source can be asked (a planned
// switch, the old writer already read-only), it holds everything the source
// holds (its GTIDs or, with file positioning, its binary log up to the
// end). A reason comes with not ready; fatal means waiting cannot help.
func Readiness(o Observed) (ready bool, fatal bool, reason string) {
	if !o.ReadOnly {
		return true, false, ""
	}
	r := o.Replica
	if errant := o.Errant(); errant != "" {
		return false, true, fmt.Sprintf("holds transactions %s lacks (%s): the data has diverged", r.Source, errant)
	}
	if !r.Configured() {
		return true, false, ""
	}
	if r.SQLErrno != 0 {
		return false, true, fmt.Sprintf("replication SQL thread error %d: %s", r.SQLErrno, r.SQLError)
	}
	if !r.SQLRunning {
		return false, true, "replication SQL thread is stopped, so the relay log cannot be applied"
	}
	if !r.RelayApplied {
		return false, false, fmt.Sprintf("the relay log from %s is not applied yet", r.Source)
	}
	if o.SourceBinlog != nil {
		if missing, _ := o.SourceBinlog.Missing(o.Binlog); missing != "" {
			return false, false, fmt.Sprintf("behind %s: lacks %s", r.Source, missing)
		}
	}
	if o.SourceEnd != nil && r.Executed.Before(*o.SourceEnd) {
		return false, false, fmt.Sprintf("behind %s: applied its binary log up to %s, which ends at %s", r.Source, r.Executed, *o.SourceEnd)
	}
	return true, false, ""
}

// Source is the node a server replicates from, from the notify variables of
// a clone operation that just completed: an unpromoted instance follows the
// promoted one; the promoted one follows the only other active instance, so
// that both directions stay configured. "" means keep what is configured.
func Source(self string, promotedNow []string, active []string, selfPromoted bool) string {
	if !selfPromoted {
		for _, n := range promotedNow {
			if n != self {
				return n
			}
		}
		return ""
	}
	var others []string
	for _, n := range active {
		if n != self && !slices.Contains(others, n) {
			others = append(others, n)
		}
	}
	if len(others) == 1 {
		return others[0]
	}
	return ""
}
