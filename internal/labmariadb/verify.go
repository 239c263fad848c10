package labmariadb

import (
	"github.com/goha-ha/goha/agents/galera"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

// WsrepStatus is a node's view of its Galera cluster, as the agent reads
// it (galera.Wsrep).
type WsrepStatus struct{ galera.Wsrep }

// Synced is a node that serves the primary component with all its data.
func (s WsrepStatus) Synced() bool { return galera.Synced(s.Wsrep) }

func (s WsrepStatus) String() string {
	return fmt.Sprintf("%s/%s seqno %d size %d ready %v", s.ClusterStatus, s.LocalComment, s.LastCommitted, s.ClusterSize, s.Ready)
}

// queryStatus asks a server for its status over the MySQL protocol and
// judges it with the agent's own parser.
func queryStatus(ctx context.Context, db *sql.DB) (WsrepStatus, error) {
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep_%'")
	if err != nil {
		return WsrepStatus{}, err
	}
	defer rows.Close()
	vars := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return WsrepStatus{}, err
		}
		vars[strings.ToLower(k)] = v
	}
	if err := rows.Err(); err != nil {
		return WsrepStatus{}, err
	}
	w, err := galera.ParseWsrep(vars)
	return WsrepStatus{w}, err
}

// Position is the most advanced history position among the nodes that
// answered: the state UUID of the node with the highest last committed
// seqno, and that seqno; ("", -1) when none answered.
func Position(st map[string]WsrepStatus) (uuid string, seqno int64) {
	seqno = -1
	nodes := make([]string, 0, len(st))
	for n := range st {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		if s := st[n]; s.LastCommitted > seqno {
			uuid, seqno = s.ClusterStateUUID, s.LastCommitted
		}
	}
	return uuid, seqno
}

// Status asks each node for its wsrep status over TCP from the lab's first
// client; a node that does not answer has an error instead.
func Status(ctx context.Context, l *lab.Lab, nodes []string) (map[string]WsrepStatus, map[string]error, error) {
	return StatusFrom(ctx, l, firstClient(l), nodes)
}

// StatusFrom is Status from the lab client named client (created if the
// lab lacks it), e.g. one on the far side of a partition.
func StatusFrom(ctx context.Context, l *lab.Lab, client string, nodes []string) (map[string]WsrepStatus, map[string]error, error) {
	c, err := newSQLClient(ctx, l, client)
	if err != nil {
		return nil, nil, err
	}
	st, errs := map[string]WsrepStatus{}, map[string]error{}
	for _, n := range nodes {
		db, err := c.open(n, false)
		if err != nil {
			return nil, nil, err
		}
		qctx, cancel := context.WithTimeout(ctx, connectTimeout+ioTimeout)
		s, err := queryStatus(qctx, db)
		cancel()
		db.Close()
		if err != nil {
			errs[n] = err
			continue
		}
		st[n] = s
	}
	return st, errs, nil
}

// WaitSynced waits until every node is Synced in a primary component of
// len(nodes) members, and returns their status.
func WaitSynced(ctx context.Context, l *lab.Lab, nodes []string) (map[string]WsrepStatus, error) {
	for {
		st, errs, err := Status(ctx, l, nodes)
		if err != nil {
			return nil, err
		}
		ok := len(errs) == 0
		for _, s := range st {
			if !s.Synced() || s.ClusterSize != len(nodes) {
				ok = false
			}
		}
		if ok {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("nodes not all Synced in a cluster of %d: %s: %w", len(nodes), describeStatus(nodes, st, errs), ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func describeStatus(nodes []string, st map[string]WsrepStatus, errs map[string]error) string {
	var parts []string
	for _, n := range nodes {
		if err := errs[n]; err != nil {
			parts = append(parts, n+": "+firstLine(err.Error()))
		} else {
			parts = append(parts, n+": "+st[n].String())
		}
	}
	return strings.Join(parts, "; ")
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	Status  map[string]WsrepStatus
	Digests map[string]Digest
	Waited  time.Duration // until all nodes were Synced
}

// Verify waits (up to 3 minutes, less if ctx says so) until every node is
// Synced, then checks that every acknowledged id is on every node and that
// all nodes hold identical rows. Reads wait for the node to apply every
// write set committed before them (wsrep_sync_wait). The error lists what
// is missing where, and how the nodes differ.
func Verify(ctx context.Context, l *lab.Lab, nodes []string, acked []int64) (VerifyResult, error) {
	begin := time.Now()
	var res VerifyResult
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	st, err := WaitSynced(wctx, l, nodes)
	cancel()
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	res.Status, res.Waited = st, time.Since(begin)
	c, err := newSQLClient(ctx, l, firstClient(l))
	if err != nil {
		return res, err
	}
	res.Digests, err = compareNodes(ctx, c, nodes, acked, true)
	return res, err
}

// VerifyReplicated is Verify for servers that replicate from each other:
// it waits (up to 2 minutes, less if ctx says so) until every node holds
// every acknowledged id and all hold identical rows, and otherwise says
// what is missing where.
func VerifyReplicated(ctx context.Context, l *lab.Lab, nodes []string, acked []int64) (map[string]Digest, error) {
	c, err := newSQLClient(ctx, l, firstClient(l))
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		dg, err := compareNodes(wctx, c, nodes, acked, false)
		if err == nil {
			return dg, nil
		}
		select {
		case <-wctx.Done():
			return dg, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// compareNodes reads test.seq on every node and reports acknowledged ids
// a node lacks and rows that are not on every node.
func compareNodes(ctx context.Context, c *sqlClient, nodes []string, acked []int64, syncWait bool) (map[string]Digest, error) {
	digests := map[string]Digest{}
	ids := map[string][]int64{}
	var problems []string
	for _, n := range nodes {
		got, dg, err := readSeq(ctx, c, n, syncWait)
		if err != nil {
			return digests, fmt.Errorf("verify %s: %w", n, err)
		}
		ids[n], digests[n] = got, dg
		present := make(map[int64]bool, len(got))
		for _, id := range got {
			present[id] = true
		}
		if miss := Missing(acked, present); len(miss) > 0 {
			problems = append(problems, fmt.Sprintf("%s lacks %d acknowledged rows: %s", n, len(miss), FormatIDs(miss, 10)))
		}
	}
	if d := DigestsDiffer(digests); d != "" {
		problems = append(problems, "nodes differ: "+d)
		byNode := map[string][]int64{}
		for _, h := range NotEverywhere(ids) {
			key := strings.Join(h.Nodes, ",")
			byNode[key] = append(byNode[key], h.ID)
		}
		var keys []string
		for k := range byNode {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			problems = append(problems, fmt.Sprintf("only on %s: %s", k, FormatIDs(byNode[k], 10)))
		}
	}
	if len(problems) > 0 {
		return digests, errors.New("verify: " + strings.Join(problems, "; "))
	}
	return digests, nil
}

// readSeq reads every id and the digest of test.seq on a node, in one
// transaction so that both see the same rows; syncWait makes a Galera node
// apply every earlier write set first.
func readSeq(ctx context.Context, c *sqlClient, node string, syncWait bool) ([]int64, Digest, error) {
	db, err := c.open(node, syncWait)
	if err != nil {
		return nil, Digest{}, err
	}
	defer db.Close()
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tx, err := db.BeginTx(qctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, Digest{}, err
	}
	defer tx.Rollback()
	var dg Digest
	if err := tx.QueryRowContext(qctx, DigestQuery).Scan(&dg.Rows, &dg.Checksum); err != nil {
		return nil, Digest{}, fmt.Errorf("digest: %w", err)
	}
	rows, err := tx.QueryContext(qctx, "SELECT id FROM test.seq ORDER BY id")
	if err != nil {
		return nil, Digest{}, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, Digest{}, err
		}
		ids = append(ids, id)
	}
	return ids, dg, rows.Err()
}
