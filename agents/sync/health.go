package sync

import (
	"fmt"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// Report is the daemon's account of itself, which it rewrites whenever a
// peer's state changes and at least every heartbeat.
type Report struct {
	Pid     int          `json:"pid"`
	Started time.Time    `json:"started"`
	Updated time.Time    `json:"updated"`
	Peers   []PeerStatus `json:"peers"`
}

// heartbeat is how often the daemon rewrites its report when nothing
// happens; a report much older than that comes from a hung daemon.
const (
	heartbeat  = 5 * time.Second
	staleAfter = 6 * heartbeat
)

// verdict is what a monitor of a running daemon concludes.
type verdict struct {
	status   ocf.Status // Success or ErrGeneric
	reason   string     // why it failed
	warnings []string   // peers to worry about, for the log
	down     []string   // peers that cannot be reached
	summary  string     // one line per peer, for the debug log
}

// assess judges a live daemon's report at now. The daemon failing, and
// a reachable peer lagging more than max_lag, fail the monitor: a restart
// of the daemon is the remedy for both. A peer that cannot be reached is
// only a warning, since moving the active node's services would not make
// it reachable, unless fail_on_peer_down asks otherwise.
func assess(rep Report, now time.Time, c Config) verdict {
	var v verdict
	if age := now.Sub(rep.Updated); age > staleAfter {
		v.status = ocf.ErrGeneric
		v.reason = fmt.Sprintf("sync daemon (pid %d) has not reported for %s: it is hung", rep.Pid, round(age))
		return v
	}
	var lines []string
	for _, p := range rep.Peers {
		lag := p.Lag(now)
		lines = append(lines, fmt.Sprintf("%s %s, %d changes pending, lag %s", p.Peer, p.State, p.Pending(), round(lag)))
		switch p.State {
		case PeerFailing:
			v.down = append(v.down, p.Peer)
			down := now.Sub(p.FailingSince)
			v.warnings = append(v.warnings, fmt.Sprintf("peer %s unreachable for %s (%d failed syncs, lag %s): %s",
				p.Peer, round(down), p.Failures, round(lag), p.LastError))
			if c.FailOnPeerDown && c.MaxLag > 0 && down > c.MaxLag && v.status == ocf.Success {
				v.status = ocf.ErrGeneric
				v.reason = fmt.Sprintf("peer %s unreachable for %s, longer than %s %s with %s=true: %s",
					p.Peer, round(down), pMaxLag, c.MaxLag, pFailOnPeerDown, p.LastError)
			}
		case PeerOK:
			if c.MaxLag > 0 && lag > c.MaxLag && v.status == ocf.Success {
				v.status = ocf.ErrGeneric
				v.reason = fmt.Sprintf("peer %s is reachable but %d changes have waited %s for it, longer than %s %s: the sync daemon does not keep up",
					p.Peer, p.Pending(), round(lag), pMaxLag, c.MaxLag)
			}
		case PeerCatchingUp:
			if c.MaxLag > 0 && lag > c.MaxLag {
				v.warnings = append(v.warnings, fmt.Sprintf("peer %s is still catching up after %s", p.Peer, round(lag)))
			}
		}
	}
	v.summary = strings.Join(lines, "; ")
	return v
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
