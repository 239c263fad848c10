package labmariadb

import (
	"fmt"
	"sort"
	"strings"
)

// Digest summarises a node's test.seq: row count and an order-independent
// checksum (BIT_XOR of the CRC32 of every row).
type Digest struct {
	Rows     int64
	Checksum uint64
}

// DigestQuery computes a Digest on a server.
const DigestQuery = "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, node, at))), 0) FROM test.seq"

// Missing returns the acknowledged ids absent from present, in order.
func Missing(acked []int64, present map[int64]bool) []int64 {
	var out []int64
	for _, id := range acked {
		if !present[id] {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// NotEverywhere returns the ids some node has and another lacks, with the
// nodes that have each, in id order.
func NotEverywhere(ids map[string][]int64) []IDHolders {
	holders := map[int64][]string{}
	for node, list := range ids {
		for _, id := range list {
			holders[id] = append(holders[id], node)
		}
	}
	var out []IDHolders
	for id, ns := range holders {
		if len(ns) == len(ids) {
			continue
		}
		sort.Strings(ns)
		out = append(out, IDHolders{ID: id, Nodes: ns})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IDHolders is an id and the nodes that hold it.
type IDHolders struct {
	ID    int64
	Nodes []string
}

// DigestsDiffer describes how the nodes' digests differ, or "" when they
// are all equal.
func DigestsDiffer(d map[string]Digest) string {
	groups := map[Digest][]string{}
	for n, dg := range d {
		groups[dg] = append(groups[dg], n)
	}
	if len(groups) <= 1 {
		return ""
	}
	var parts []string
	for dg, ns := range groups {
		sort.Strings(ns)
		parts = append(parts, fmt.Sprintf("%s: %d rows, checksum %08x", strings.Join(ns, ","), dg.Rows, dg.Checksum))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// FormatIDs prints ids as ranges ("1-4, 7"), at most limit ranges then
// "… (N ids)".
func FormatIDs(ids []int64, limit int) string {
	if len(ids) == 0 {
		return "none"
	}
	s := append([]int64(nil), ids...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if len(parts) == limit {
			parts = append(parts, "…")
			break
		}
		if i == j {
			parts = append(parts, fmt.Sprint(s[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		}
		i = j + 1
	}
	return fmt.Sprintf("%s (%d ids)", strings.Join(parts, ", "), len(s))
}
