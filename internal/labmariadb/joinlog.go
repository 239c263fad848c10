package labmariadb

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/goha-ha/goha/internal/lab"
)

// How a server last joined its cluster, read from its error log.
const (
	JoinBootstrap = "bootstrap" // it started a new primary component
	JoinIST       = "IST"       // it received the missing write sets from a donor's gcache
	JoinSST       = "SST"       // it received a full copy of a donor's data
	JoinNone      = "none"      // it joined at the group's position, nothing to transfer
	JoinUnknown   = ""          // no join seen, or one that did not finish
)

// Join is the last join a MariaDB error log records.
type Join struct {
	Method    string
	Donor     string // node name of the donor, for IST and SST
	Writesets int    // write sets received by IST (also the catch-up after an SST)
	Synced    bool   // the server reported itself synchronised after that join
	Line      int    // 1-based line where the join began
}

// Lines of MariaDB 10.11 with Galera 26.4 and rsync SST that mark a join;
// each was seen in this lab's logs. The rsync lines come from the SST
// script, whose output mariadbd copies into its error log.
const (
	markConnect     = "WSREP: Connecting with bootstrap option: "
	markRsyncSST    = "rsync SST completed on joiner"
	markRsyncIST    = "rsync IST completed on joiner"
	markReceiveIST  = "WSREP: Receiving IST: "         // "235 writesets, seqnos 70-304"
	markTransferEnd = "): State transfer from "        // "2.0 (n3): State transfer from 1.0 (n1) complete."
	markSynced      = "WSREP: Synchronized with group" // ", ready for connections"
)

// LastJoin reads the last join of the server called node from its error
// log. A start with bootstrap option 1 is a bootstrap; otherwise the SST
// script's completion line tells SST from IST, and a join that
// synchronised without either transferred nothing.
func LastJoin(log, node string) Join {
	var j Join
	started := false
	for i, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, markConnect):
			opt := strings.TrimSpace(line[strings.Index(line, markConnect)+len(markConnect):])
			j, started = Join{Line: i + 1}, true
			if opt == "1" {
				j.Method = JoinBootstrap
			}
		case !started:
		case strings.Contains(line, markRsyncSST):
			j.Method = JoinSST
		case strings.Contains(line, markRsyncIST):
			if j.Method != JoinSST {
				j.Method = JoinIST
			}
		case strings.Contains(line, markReceiveIST):
			rest := line[strings.Index(line, markReceiveIST)+len(markReceiveIST):]
			n, _, _ := strings.Cut(rest, " ")
			if v, err := strconv.Atoi(n); err == nil {
				j.Writesets += v
			}
		case strings.Contains(line, markTransferEnd):
			if donor, ok := transferDonor(line, node); ok {
				j.Donor = donor
			}
		case strings.Contains(line, markSynced):
			j.Synced = true
			if j.Method == JoinUnknown {
				j.Method = JoinNone
			}
		}
	}
	return j
}

// transferDonor reads "<idx> (<joiner>): State transfer from <idx>
// (<donor>) complete." and returns the donor when the joiner is node.
func transferDonor(line, node string) (string, bool) {
	i := strings.Index(line, markTransferEnd)
	head, tail := line[:i], line[i+len(markTransferEnd):]
	if !strings.HasSuffix(head, "("+node) {
		return "", false
	}
	open := strings.Index(tail, "(")
	end := strings.Index(tail, ")")
	if open < 0 || end <= open {
		return "", false
	}
	return tail[open+1 : end], true
}

// LastJoinOf reads how a lab node's server last joined, from its error
// log on the host (readable also while the node is off).
func LastJoinOf(l *lab.Lab, node string) (Join, error) {
	p, err := ErrorLogPath(l, node)
	if err != nil {
		return Join{}, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Join{}, fmt.Errorf("read error log of %s: %w", node, err)
	}
	return LastJoin(string(b), node), nil
}
