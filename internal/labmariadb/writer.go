package labmariadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

// Writer commits numbered rows into test.seq, one autocommit INSERT at a
// time, from a lab client namespace, as an application behind a database
// VIP would, but choosing the node itself: it stays on a node until a
// statement fails, then moves to the next. Each id is used once: it ends
// acknowledged (the server answered OK, so the row must survive any
// failure) or uncertain (an error: the row may or may not exist).
type Writer struct {
	nodes []string
	dbs   []*sql.DB
	// Pause between two acknowledged writes; the default 20 ms keeps the
	// rate near 50 rows/s so that IST and SST stay short.
	Pause time.Duration

	mu        sync.Mutex
	next      int64 // next id to write; 0 until the first Start
	acked     []int64
	uncertain []int64
	run       *writerRun
	last      Stats
}

type writerRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	stats  Stats
}

// Stats describes one run of a writer, from Start to Stop.
type Stats struct {
	Acked     int           // rows acknowledged
	Uncertain int           // statements that failed
	Outage    time.Duration // longest time without an acknowledged write
	OutageAt  time.Time     // when that outage began (the last ack before it)
	Duration  time.Duration // of the run
	Switches  int           // moves to another node after an error
	PerNode   map[string]int
}

// String is a one-line summary for test logs.
func (s Stats) String() string {
	return fmt.Sprintf("%d acked, %d uncertain, longest write outage %s, %d node switches in %s, per node %v",
		s.Acked, s.Uncertain, s.Outage.Round(10*time.Millisecond), s.Switches, s.Duration.Round(100*time.Millisecond), s.PerNode)
}

// NewWriter prepares a writer from the lab client client (created if the
// lab lacks it) to the given nodes, in the order it tries them.
func NewWriter(ctx context.Context, l *lab.Lab, client string, nodes []string) (*Writer, error) {
	if len(nodes) == 0 {
		return nil, errors.New("writer: no nodes")
	}
	c, err := newSQLClient(ctx, l, client)
	if err != nil {
		return nil, err
	}
	return newWriter(c, nodes)
}

// NewAddressWriter prepares a writer from the lab client client to one
// address (a database VIP), named name in its statistics: it writes as an
// application configured with the VIP does, wherever the VIP is.
func NewAddressWriter(ctx context.Context, l *lab.Lab, client, name string, addr netip.Addr) (*Writer, error) {
	c, err := newSQLClient(ctx, l, client)
	if err != nil {
		return nil, err
	}
	c.addrs[name] = addr
	return newWriter(c, []string{name})
}

func newWriter(c *sqlClient, nodes []string) (*Writer, error) {
	w := &Writer{nodes: nodes, Pause: 20 * time.Millisecond}
	for _, n := range nodes {
		db, err := c.open(n, false)
		if err != nil {
			w.Close()
			return nil, err
		}
		w.dbs = append(w.dbs, db)
	}
	return w, nil
}

// Close stops the writer if it runs and closes its connections.
func (w *Writer) Close() {
	w.Stop()
	for _, db := range w.dbs {
		db.Close()
	}
}

// Start begins writing in the background. The first start continues
// after the highest id in test.seq, so that several writers may follow
// each other on one lab; it fails if no node answers.
func (w *Writer) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.run != nil {
		return errors.New("writer already running")
	}
	if w.next == 0 {
		max, err := w.maxID(ctx)
		if err != nil {
			return err
		}
		w.next = max + 1
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &writerRun{cancel: cancel, done: make(chan struct{}), stats: Stats{PerNode: map[string]int{}}}
	w.run = r
	go w.loop(rctx, r)
	return nil
}

// maxID is the highest id in test.seq, from the first node that answers.
func (w *Writer) maxID(ctx context.Context) (int64, error) {
	var errs []error
	for i, db := range w.dbs {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		var max int64
		err := db.QueryRowContext(qctx, "SELECT COALESCE(MAX(id), 0) FROM test.seq").Scan(&max)
		cancel()
		if err == nil {
			return max, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", w.nodes[i], err))
	}
	return 0, fmt.Errorf("writer: no node answers: %w", errors.Join(errs...))
}

// Stop ends the current run, waits for the statement in flight, and
// returns the run's numbers; without a run it returns the last run's.
func (w *Writer) Stop() Stats {
	w.mu.Lock()
	r := w.run
	w.mu.Unlock()
	if r == nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.last
	}
	r.cancel()
	<-r.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.run = nil
	w.last = r.stats
	return r.stats
}

// Stats returns the numbers of the current run so far (or the last run).
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.run == nil {
		return w.last
	}
	s := w.run.stats
	s.PerNode = map[string]int{}
	for k, v := range w.run.stats.PerNode {
		s.PerNode[k] = v
	}
	return s
}

// Acked returns every id acknowledged since the writer was made.
func (w *Writer) Acked() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.acked...)
}

// Uncertain returns every id whose statement failed.
func (w *Writer) Uncertain() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.uncertain...)
}

// WaitAcked waits until the current run has n more acknowledged writes
// than when it was called: proof that the cluster takes writes.
func (w *Writer) WaitAcked(ctx context.Context, n int) error {
	start := w.Stats().Acked
	for {
		if got := w.Stats().Acked - start; got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("writer: %d of %d writes acknowledged: %w", w.Stats().Acked-start, n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// outage tracks the longest time without an acknowledged write: between
// the start and the first ack, between two acks, and from the last ack to
// the end.
type outage struct {
	last    time.Time     // start, then the last ack
	longest time.Duration // so far
	from    time.Time     // when the longest began
}

func (o *outage) mark(now time.Time) {
	if d := now.Sub(o.last); d > o.longest {
		o.longest, o.from = d, o.last
	}
}

// ack records an acknowledged write at now.
func (o *outage) ack(now time.Time) {
	o.mark(now)
	o.last = now
}

func (w *Writer) loop(ctx context.Context, r *writerRun) {
	defer close(r.done)
	begin := time.Now()
	o := outage{last: begin}
	cur := 0
	for ctx.Err() == nil {
		w.mu.Lock()
		id := w.next
		w.next++
		w.mu.Unlock()
		qctx, cancel := context.WithTimeout(ctx, connectTimeout+ioTimeout)
		_, err := w.dbs[cur].ExecContext(qctx, "INSERT INTO test.seq (id, node, at) VALUES (?, @@hostname, NOW(6))", id)
		cancel()
		now := time.Now()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, id)
			r.stats.Acked++
			r.stats.PerNode[w.nodes[cur]]++
			o.ack(now)
			r.stats.Outage, r.stats.OutageAt = o.longest, o.from
		} else {
			w.uncertain = append(w.uncertain, id)
			r.stats.Uncertain++
			if len(w.nodes) > 1 {
				cur = (cur + 1) % len(w.nodes)
				r.stats.Switches++
			}
		}
		w.mu.Unlock()
		pause := w.Pause
		if err != nil {
			// A refused connection fails at once; do not spin.
			pause = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	now := time.Now()
	w.mu.Lock()
	o.mark(now)
	r.stats.Outage, r.stats.OutageAt = o.longest, o.from
	r.stats.Duration = now.Sub(begin)
	w.mu.Unlock()
}

// WriteProbe tries one write on the server at addr from the lab client
// client: an INSERT of id, which should be negative so that no Writer ever
// uses it. nil means the server accepted the write; a probe row left on a
// node also makes Verify report the nodes as different.
func WriteProbe(ctx context.Context, l *lab.Lab, client string, addr netip.Addr, id int64) error {
	c, err := newSQLClient(ctx, l, client)
	if err != nil {
		return err
	}
	c.addrs["probe"] = addr
	db, err := c.open("probe", false)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "INSERT INTO test.seq (id, node, at) VALUES (?, 'probe', NOW(6))", id)
	return err
}
