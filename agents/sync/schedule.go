package sync

import "time"

// batch collects the paths that changed since the last shipment. A batch
// is due once no change has come for the quiet period, or once its oldest
// change has waited maxHold, so that a steady writer cannot hold it back.
type batch struct {
	paths       map[string]struct{}
	first, last time.Time
}

// add records that path changed at now; the same path twice counts once.
func (b *batch) add(path string, now time.Time) {
	if b.paths == nil {
		b.paths = map[string]struct{}{}
	}
	if len(b.paths) == 0 {
		b.first = now
	}
	b.paths[path] = struct{}{}
	b.last = now
}

// dueAt is when the batch should be shipped; the zero time when it is
// empty.
func (b *batch) dueAt(quiet, maxHold time.Duration) time.Time {
	if len(b.paths) == 0 {
		return time.Time{}
	}
	maxHold = max(maxHold, quiet)
	at := b.last.Add(quiet)
	if hold := b.first.Add(maxHold); hold.Before(at) {
		at = hold
	}
	return at
}

// due reports whether the batch should be shipped at now.
func (b *batch) due(now time.Time, quiet, maxHold time.Duration) bool {
	at := b.dueAt(quiet, maxHold)
	return !at.IsZero() && !now.Before(at)
}

// take empties the batch and returns how many paths changed and when the
// first of them did.
func (b *batch) take() (n int, since time.Time) {
	n, since = len(b.paths), b.first
	clear(b.paths)
	b.first, b.last = time.Time{}, time.Time{}
	return n, since
}

// PeerState is where a peer stands.
type PeerState string

// The states of a peer. A peer starts catching up (the full sync at
// start), is ok once a sync succeeded, failing after a sync failed (it is
// retried with a growing delay), and catching up again while the retry
// runs. Every sync copies the whole tree, so a successful retry is the
// full sync on return.
const (
	PeerCatchingUp PeerState = "catching-up"
	PeerOK         PeerState = "ok"
	PeerFailing    PeerState = "failing"
)

// Retry delays: the first retry after retryMin, each later one after
// twice the previous, never more than the configured maximum.
const retryMin = time.Second

// backoff is the delay before retry number failures (1 for the first).
func backoff(failures int, most time.Duration) time.Duration {
	d := retryMin
	for i := 1; i < failures && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// PeerStatus is what the daemon reports about one peer, and what the
// schedule keeps: changes are queued until a sync begins, carried by the
// running sync, and shipped when it succeeds. A failed sync puts what it
// carried back in the queue.
type PeerStatus struct {
	Peer  string    `json:"peer"`
	State PeerState `json:"state"`

	Queued       int       `json:"queued"`                 // changes no sync has begun to carry
	QueuedSince  time.Time `json:"queued_since,omitzero"`  // the oldest of them
	Sending      int       `json:"sending"`                // changes the running sync carries
	SendingSince time.Time `json:"sending_since,omitzero"` // the oldest of them
	Running      bool      `json:"running"`                // a sync runs now
	Started      time.Time `json:"started,omitzero"`       // when it began
	FullOwed     bool      `json:"full_owed"`              // a sync is due even without changes
	Attempts     int       `json:"attempts"`               // syncs ended, successful or not
	Failures     int       `json:"failures"`               // failed syncs in a row
	NextAttempt  time.Time `json:"next_attempt,omitzero"`  // a failing peer is not retried before
	LastSuccess  time.Time `json:"last_success,omitzero"`  // end of the last successful sync
	LastError    string    `json:"last_error,omitempty"`   // why the last sync failed
	FailingSince time.Time `json:"failing_since,omitzero"` // start of the current outage
}

// newPeer is a peer that owes the full sync of a daemon started at now:
// whatever changed before now counts as waiting since now.
func newPeer(name string, now time.Time) *PeerStatus {
	return &PeerStatus{Peer: name, State: PeerCatchingUp, FullOwed: true, QueuedSince: now}
}

// changed queues n changes, the oldest made at since.
func (p *PeerStatus) changed(n int, since time.Time) {
	if n <= 0 {
		return
	}
	p.Queued += n
	if p.QueuedSince.IsZero() || since.Before(p.QueuedSince) {
		p.QueuedSince = since
	}
}

// due reports whether a sync should begin at now.
func (p *PeerStatus) due(now time.Time) bool {
	if p.Running || (p.Queued == 0 && !p.FullOwed) {
		return false
	}
	return !now.Before(p.NextAttempt)
}

// dueAt is when a sync becomes due; the zero time when it waits for
// changes or a sync runs.
func (p *PeerStatus) dueAt() time.Time {
	if p.Running || (p.Queued == 0 && !p.FullOwed) {
		return time.Time{}
	}
	if p.NextAttempt.IsZero() {
		return time.Unix(0, 0) // now
	}
	return p.NextAttempt
}

// begin marks a sync started at now; it carries every queued change.
func (p *PeerStatus) begin(now time.Time) {
	p.Running, p.Started = true, now
	p.Sending, p.SendingSince = p.Queued, p.QueuedSince
	p.Queued, p.QueuedSince = 0, time.Time{}
	p.FullOwed = false
	if p.State == PeerFailing {
		p.State = PeerCatchingUp
	}
}

// finish records the end of the running sync at now; err is nil when it
// succeeded. It returns the state the peer left, for the daemon's log.
func (p *PeerStatus) finish(now time.Time, err error, retryMax time.Duration) (was PeerState) {
	was = p.State
	p.Running = false
	p.Attempts++
	if err == nil {
		p.Sending, p.SendingSince = 0, time.Time{}
		p.State, p.Failures, p.NextAttempt = PeerOK, 0, time.Time{}
		p.LastSuccess, p.LastError, p.FailingSince = now, "", time.Time{}
		return was
	}
	p.Queued += p.Sending
	if !p.SendingSince.IsZero() && (p.QueuedSince.IsZero() || p.SendingSince.Before(p.QueuedSince)) {
		p.QueuedSince = p.SendingSince
	}
	p.Sending, p.SendingSince = 0, time.Time{}
	p.Failures++
	p.NextAttempt = now.Add(backoff(p.Failures, retryMax))
	p.LastError = err.Error()
	p.FullOwed = true
	if p.FailingSince.IsZero() {
		p.FailingSince = p.Started
	}
	p.State = PeerFailing
	return was
}

// Pending is the number of changes the peer has not received.
func (p *PeerStatus) Pending() int { return p.Queued + p.Sending }

// Lag is how long the oldest change the peer has not received has waited
// at now; 0 when it has them all.
func (p *PeerStatus) Lag(now time.Time) time.Duration {
	oldest := p.QueuedSince
	if !p.SendingSince.IsZero() && (oldest.IsZero() || p.SendingSince.Before(oldest)) {
		oldest = p.SendingSince
	}
	if oldest.IsZero() || now.Before(oldest) {
		return 0
	}
	return now.Sub(oldest)
}
