package sync

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestBatch(t *testing.T) {
	const quiet, hold = 200 * time.Millisecond, 2 * time.Second
	type step struct {
		add     string // a path changed at ms; "" checks only
		ms      int
		due     bool // due at ms, after the add
		takeN   int  // when due: take and expect this many paths
		sinceMs int  // and this first change
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"empty batch is never due", []step{{"", 0, false, 0, 0}, {"", 10000, false, 0, 0}}},
		{"one change waits for quiet", []step{
			{"a", 0, false, 0, 0}, {"", 199, false, 0, 0}, {"", 200, true, 1, 0}, {"", 5000, false, 0, 0}}},
		{"a change restarts the quiet period", []step{
			{"a", 0, false, 0, 0}, {"b", 150, false, 0, 0}, {"", 300, false, 0, 0}, {"", 350, true, 2, 0}}},
		{"the same path counts once", []step{
			{"a", 0, false, 0, 0}, {"a", 100, false, 0, 0}, {"a", 190, false, 0, 0}, {"", 390, true, 1, 0}}},
		{"a steady writer is shipped after the hold", []step{
			{"a", 0, false, 0, 0}, {"b", 150, false, 0, 0}, {"c", 300, false, 0, 0}, {"d", 1900, false, 0, 0},
			{"e", 1999, false, 0, 0}, {"f", 2000, true, 6, 0}, {"g", 2100, false, 0, 0}, {"", 2300, true, 1, 2100}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b batch
			for i, s := range tc.steps {
				if s.add != "" {
					b.add(s.add, at(s.ms))
				}
				if got := b.due(at(s.ms), quiet, hold); got != s.due {
					t.Fatalf("step %d: due at %d ms = %v, want %v", i, s.ms, got, s.due)
				}
				if s.due {
					if due := b.dueAt(quiet, hold); due.After(at(s.ms)) {
						t.Fatalf("step %d: due but dueAt is %v after", i, due.Sub(at(s.ms)))
					}
					n, since := b.take()
					if n != s.takeN || !since.Equal(at(s.sinceMs)) {
						t.Fatalf("step %d: take = %d since %v, want %d since %d ms", i, n, since.Sub(t0), s.takeN, s.sinceMs)
					}
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int
		most     time.Duration
		want     time.Duration
	}{
		{1, 30 * time.Second, time.Second},
		{2, 30 * time.Second, 2 * time.Second},
		{3, 30 * time.Second, 4 * time.Second},
		{5, 30 * time.Second, 16 * time.Second},
		{6, 30 * time.Second, 30 * time.Second},
		{1000, 30 * time.Second, 30 * time.Second},
		{1, 500 * time.Millisecond, 500 * time.Millisecond},
	} {
		if got := backoff(tc.failures, tc.most); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.failures, tc.most, got, tc.want)
		}
	}
}

// TestPeerLifecycle walks a peer through start, changes, an outage and
// its return, checking state, pending count, lag and retry times.
func TestPeerLifecycle(t *testing.T) {
	const retryMax = 4 * time.Second
	down := errors.New("connection refused")
	type want struct {
		state   PeerState
		due     bool
		pending int
		lagMs   int
	}
	type step struct {
		what string
		ms   int
		do   func(p *PeerStatus, now time.Time)
		want want
	}
	begin := func(p *PeerStatus, now time.Time) { p.begin(now) }
	ok := func(p *PeerStatus, now time.Time) { p.finish(now, nil, retryMax) }
	fail := func(p *PeerStatus, now time.Time) { p.finish(now, down, retryMax) }
	changes := func(n, sinceMs int) func(*PeerStatus, time.Time) {
		return func(p *PeerStatus, _ time.Time) { p.changed(n, at(sinceMs)) }
	}
	look := func(*PeerStatus, time.Time) {}
	steps := []step{
		{"new peer owes the full sync", 0, look, want{PeerCatchingUp, true, 0, 0}},
		{"full sync runs: lag counts from start", 0, begin, want{PeerCatchingUp, false, 0, 0}},
		{"still running", 500, look, want{PeerCatchingUp, false, 0, 500}},
		{"changes during the full sync stay queued", 600, changes(3, 550), want{PeerCatchingUp, false, 3, 600}},
		{"full sync done", 700, ok, want{PeerOK, true, 3, 150}},
		{"next sync carries the 3", 800, begin, want{PeerOK, false, 3, 250}},
		{"shipped", 900, ok, want{PeerOK, false, 0, 0}},
		{"idle peer is not due", 5000, look, want{PeerOK, false, 0, 0}},
		{"a change", 6000, changes(1, 5900), want{PeerOK, true, 1, 100}},
		{"sync begins", 6000, begin, want{PeerOK, false, 1, 100}},
		{"peer went down", 6100, fail, want{PeerFailing, false, 1, 200}},
		{"before the first retry", 7099, look, want{PeerFailing, false, 1, 1199}},
		{"first retry due after 1 s", 7100, look, want{PeerFailing, true, 1, 1200}},
		{"retry catches up", 7100, begin, want{PeerCatchingUp, false, 1, 1200}},
		{"retry fails", 7200, fail, want{PeerFailing, false, 1, 1300}},
		{"second retry not before 2 s", 9000, look, want{PeerFailing, false, 1, 3100}},
		{"more changes while down keep the oldest", 9100, changes(2, 8000), want{PeerFailing, false, 3, 3200}},
		{"second retry due", 9200, look, want{PeerFailing, true, 3, 3300}},
		{"second retry", 9200, begin, want{PeerCatchingUp, false, 3, 3300}},
		{"fails again", 9300, fail, want{PeerFailing, false, 3, 3400}},
		{"third retry not before 4 s", 13299, look, want{PeerFailing, false, 3, 7399}},
		{"third retry", 13300, begin, want{PeerCatchingUp, false, 3, 7400}},
		{"fails, backoff capped at 4 s", 13400, fail, want{PeerFailing, false, 3, 7500}},
		{"capped retry due", 17400, look, want{PeerFailing, true, 3, 11500}},
		{"peer back", 17400, begin, want{PeerCatchingUp, false, 3, 11500}},
		{"caught up", 17500, ok, want{PeerOK, false, 0, 0}},
		{"next change is shipped at once", 18000, changes(1, 18000), want{PeerOK, true, 1, 0}},
	}
	p := newPeer("sm2", t0)
	for _, s := range steps {
		now := at(s.ms)
		s.do(p, now)
		got := want{p.State, p.due(now), p.Pending(), int(p.Lag(now) / time.Millisecond)}
		if got != s.want {
			t.Fatalf("%s (at %d ms): got %+v, want %+v\n%+v", s.what, s.ms, got, s.want, p)
		}
		if due := p.dueAt(); got.due && due.After(now) {
			t.Fatalf("%s: due, but dueAt is %v later", s.what, due.Sub(now))
		}
	}
	if p.Attempts != 7 || p.Failures != 0 || p.LastError != "" || !p.FailingSince.IsZero() {
		t.Fatalf("after recovery: %+v", p)
	}
}

func TestPeerFailingSince(t *testing.T) {
	p := newPeer("sm2", t0)
	p.begin(at(0))
	p.finish(at(100), errors.New("refused"), time.Second)
	p.begin(at(1100))
	p.finish(at(1200), errors.New("refused"), time.Second)
	if !p.FailingSince.Equal(at(0)) || p.Failures != 2 || p.LastError != "refused" || !p.FullOwed {
		t.Fatalf("outage not tracked from its first sync: %+v", p)
	}
}
