package sync

import (
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

func TestAssess(t *testing.T) {
	now := t0.Add(time.Hour)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	ok := PeerStatus{Peer: "sm2", State: PeerOK, LastSuccess: ago(time.Second)}
	lagging := PeerStatus{Peer: "sm2", State: PeerOK, Queued: 4, QueuedSince: ago(90 * time.Second), Running: true}
	down := PeerStatus{Peer: "sm3", State: PeerFailing, Failures: 12, FailingSince: ago(10 * time.Minute),
		Queued: 2, QueuedSince: ago(5 * time.Minute), LastError: "rsync exited with status 10: Connection refused"}
	briefDown := down
	briefDown.FailingSince = ago(10 * time.Second)
	catching := PeerStatus{Peer: "sm3", State: PeerCatchingUp, Running: true, SendingSince: ago(5 * time.Minute)}
	cfg := Config{MaxLag: time.Minute}
	failOnDown := Config{MaxLag: time.Minute, FailOnPeerDown: true}
	noLag := Config{MaxLag: 0, FailOnPeerDown: true}
	for _, tc := range []struct {
		name     string
		c        Config
		updated  time.Duration // report age
		peers    []PeerStatus
		status   ocf.Status
		reason   string
		warnings int
	}{
		{"all in sync", cfg, time.Second, []PeerStatus{ok}, ocf.Success, "", 0},
		{"hung daemon", cfg, 31 * time.Second, []PeerStatus{ok}, ocf.ErrGeneric, "has not reported for 31s: it is hung", 0},
		{"reachable peer lags", cfg, time.Second, []PeerStatus{lagging}, ocf.ErrGeneric, "4 changes have waited 1m30s", 0},
		{"lag check disabled", noLag, time.Second, []PeerStatus{lagging}, ocf.Success, "", 0},
		{"peer down is only a warning", cfg, time.Second, []PeerStatus{ok, down}, ocf.Success, "", 1},
		{"peer down fails when asked", failOnDown, time.Second, []PeerStatus{ok, down}, ocf.ErrGeneric,
			"peer sm3 unreachable for 10m0s, longer than max_lag 1m0s with fail_on_peer_down=true: rsync exited with status 10", 1},
		{"short outage is tolerated even when asked", failOnDown, time.Second, []PeerStatus{briefDown}, ocf.Success, "", 1},
		{"fail_on_peer_down without max_lag", noLag, time.Second, []PeerStatus{down}, ocf.Success, "", 1},
		{"long full sync is a warning", cfg, time.Second, []PeerStatus{catching}, ocf.Success, "", 1},
		{"first failing peer gives the reason", failOnDown, time.Second, []PeerStatus{down, lagging}, ocf.ErrGeneric, "peer sm3 unreachable", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := assess(Report{Pid: 42, Updated: ago(tc.updated), Peers: tc.peers}, now, tc.c)
			if v.status != tc.status || !strings.Contains(v.reason, tc.reason) || len(v.warnings) != tc.warnings {
				t.Fatalf("got %v %q warnings %q; want %v %q with %d warnings", v.status, v.reason, v.warnings, tc.status, tc.reason, tc.warnings)
			}
		})
	}
}
