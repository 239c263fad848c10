// Package grastate reads and writes Galera's saved state (grastate.dat)
// and the position a node publishes for the bootstrap election. It is a
// leaf package so that test and lab support can read a node's state with
// the agent's own parser.
package grastate

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Position is how far a node's data reaches in the history of one Galera
// cluster: the cluster (state) UUID and the seqno of the last write set it
// committed. It is what the bootstrap election compares.
type Position struct {
	UUID  string
	Seqno int64 // -1: unknown (crashed, not yet recovered) or no state at all
	// SafeToBootstrap is grastate.dat's safe_to_bootstrap: Galera sets it on
	// the last node to leave a Primary component cleanly.
	SafeToBootstrap bool
}

// ZeroUUID is the UUID of a node that belongs to no cluster history yet.
const ZeroUUID = "00000000-0000-0000-0000-000000000000"

// HasState reports whether the node holds data of some cluster history.
func (p Position) HasState() bool { return p.UUID != "" && p.UUID != ZeroUUID }

// Known reports whether the seqno is a real position, so it can be compared.
func (p Position) Known() bool { return p.Seqno >= 0 || !p.HasState() }

func (p Position) String() string {
	s := fmt.Sprintf("%s:%d", p.UUID, p.Seqno)
	if p.SafeToBootstrap {
		s += ":safe"
	}
	return s
}

// ParsePosition reads the form String writes, which the agent publishes as
// the node attribute <resource>-position.
func ParsePosition(s string) (Position, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Position{}, fmt.Errorf("position %q: want uuid:seqno[:safe]", s)
	}
	if !uuidRE.MatchString(parts[0]) {
		return Position{}, fmt.Errorf("position %q: bad uuid", s)
	}
	seq, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || seq < -1 {
		return Position{}, fmt.Errorf("position %q: bad seqno", s)
	}
	p := Position{UUID: parts[0], Seqno: seq}
	if len(parts) == 3 {
		if parts[2] != "safe" {
			return Position{}, fmt.Errorf("position %q: unknown flag %q", s, parts[2])
		}
		p.SafeToBootstrap = true
	}
	return p, nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Parse reads the contents of grastate.dat ("# GALERA saved state",
// then "version", "uuid", "seqno" and "safe_to_bootstrap" lines).
func Parse(b []byte) (Position, error) {
	p := Position{Seqno: -1}
	var haveUUID, haveSeqno bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "uuid":
			if !uuidRE.MatchString(val) {
				return Position{}, fmt.Errorf("grastate: bad uuid %q", val)
			}
			p.UUID, haveUUID = strings.ToLower(val), true
		case "seqno":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < -1 {
				return Position{}, fmt.Errorf("grastate: bad seqno %q", val)
			}
			p.Seqno, haveSeqno = n, true
		case "safe_to_bootstrap":
			p.SafeToBootstrap = val == "1"
		}
	}
	if !haveUUID || !haveSeqno {
		return Position{}, fmt.Errorf("grastate: no uuid or seqno line")
	}
	return p, nil
}

// SetSafeToBootstrap rewrites grastate.dat contents with safe_to_bootstrap
// set to 1, keeping every other line; Galera refuses to bootstrap a node
// without it.
func SetSafeToBootstrap(b []byte) []byte {
	var out bytes.Buffer
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "safe_to_bootstrap" {
			line, found = "safe_to_bootstrap: 1", true
		}
		out.WriteString(line + "\n")
	}
	if !found {
		out.WriteString("safe_to_bootstrap: 1\n")
	}
	return out.Bytes()
}

// recoveredRE matches the line `mariadbd --wsrep-recover` logs with the
// position found in InnoDB: "WSREP: Recovered position: <uuid>:<seqno>".
var recoveredRE = regexp.MustCompile(`WSREP: Recovered position:\s+([0-9a-fA-F-]{36}):(-?[0-9]+)`)

// preparedRE matches the recovery failure that needs
// --tc-heuristic-recover=rollback: "Found N prepared transactions!".
var preparedRE = regexp.MustCompile(`Found [0-9]+ prepared transactions`)

// RecoverOutcome is what a --wsrep-recover run's error log says.
type RecoverOutcome struct {
	Position Position
	Found    bool // a "Recovered position" line was logged
	// PreparedTransactions: InnoDB holds prepared XA transactions, and the
	// run must be repeated with --tc-heuristic-recover=rollback.
	PreparedTransactions bool
}

// ParseRecoverLog reads the error log of a --wsrep-recover run. The last
// "Recovered position" line wins.
func ParseRecoverLog(log []byte) RecoverOutcome {
	var o RecoverOutcome
	for _, m := range recoveredRE.FindAllSubmatch(log, -1) {
		seq, err := strconv.ParseInt(string(m[2]), 10, 64)
		if err != nil || !uuidRE.Match(m[1]) {
			continue
		}
		o.Position = Position{UUID: strings.ToLower(string(m[1])), Seqno: seq}
		o.Found = true
	}
	o.PreparedTransactions = preparedRE.Match(log)
	return o
}
