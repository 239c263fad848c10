package mysql

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// GTIDSet is the set of transactions a server holds, in either flavour:
// MariaDB's positions ("0-1-100,1-2-5": per replication domain the last
// sequence number, every lower one implied) or MySQL's sets
// ("3e11fa47-...:1-5:7-9"). Both become, per source (a MariaDB domain or a
// MySQL server UUID), a list of closed intervals, so that "what does one
// side hold that the other lacks" is one set difference for both.
type GTIDSet struct {
	ranges map[string][]interval
	// last is MariaDB's last GTID per domain, server id included: two
	// servers at the same sequence number of a domain that wrote it on
	// different servers have diverged.
	last map[string]string
}

type interval struct{ lo, hi uint64 }

// ParseGTIDSet reads gtid_binlog_pos / gtid_slave_pos (MariaDB) or
// gtid_executed (MySQL). The empty string is the empty set.
func ParseGTIDSet(s string) (GTIDSet, error) {
	g := GTIDSet{ranges: map[string][]interval{}, last: map[string]string{}}
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return g, nil
	}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		if strings.Contains(part, ":") {
			if err := g.addMySQL(part); err != nil {
				return GTIDSet{}, fmt.Errorf("gtid set %q: %w", s, err)
			}
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return GTIDSet{}, fmt.Errorf("gtid %q: want domain-server-sequence", part)
		}
		var nums [3]uint64
		for i, v := range f {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || (i == 0 && n > 1<<32-1) || (i == 1 && n > 1<<32-1) {
				return GTIDSet{}, fmt.Errorf("gtid %q: bad number %q", part, v)
			}
			nums[i] = n
		}
		domain := f[0]
		if _, dup := g.last[domain]; dup {
			return GTIDSet{}, fmt.Errorf("gtid set %q: domain %s twice", s, domain)
		}
		g.last[domain] = part
		if nums[2] > 0 {
			g.ranges[domain] = []interval{{1, nums[2]}}
		}
	}
	return g, nil
}

// addMySQL adds "uuid:1-5:7" to g, or with MySQL 8.3's tags
// "uuid:1-5:tag:1-3", where each tagged run is a source of its own.
func (g GTIDSet) addMySQL(part string) error {
	f := strings.Split(part, ":")
	uuid := strings.ToLower(f[0])
	if len(uuid) != 36 || len(f) < 2 {
		return fmt.Errorf("gtid %q: want uuid:interval[:interval...]", part)
	}
	src, untagged := uuid, false
	touched := []string{}
	for _, iv := range f[1:] {
		if isGTIDTag(iv) {
			if untagged {
				return fmt.Errorf("gtid %q: tag %q without an interval", part, src)
			}
			src, untagged = uuid+":"+strings.ToLower(iv), true
			continue
		}
		untagged = false
		lo, hi, isRange := strings.Cut(iv, "-")
		a, err1 := strconv.ParseUint(lo, 10, 64)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 64)
		}
		if err1 != nil || err2 != nil || a == 0 || b < a {
			return fmt.Errorf("gtid %q: bad interval %q", part, iv)
		}
		g.ranges[src] = append(g.ranges[src], interval{a, b})
		touched = append(touched, src)
	}
	if untagged {
		return fmt.Errorf("gtid %q: tag %q without an interval", part, src)
	}
	for _, src := range touched {
		g.ranges[src] = normalise(g.ranges[src])
	}
	return nil
}

// isGTIDTag reports whether s is a MySQL GTID tag: a letter or underscore,
// then up to 31 letters, digits or underscores.
func isGTIDTag(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, c := range strings.ToLower(s) {
		letter := c == '_' || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// normalise sorts and merges overlapping or adjacent intervals.
func normalise(in []interval) []interval {
	sort.Slice(in, func(i, j int) bool { return in[i].lo < in[j].lo })
	out := in[:0]
	for _, iv := range in {
		if n := len(out); n > 0 && iv.lo <= out[n-1].hi+1 {
			if iv.hi > out[n-1].hi {
				out[n-1].hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Missing returns, as a set string, the transactions of g that other lacks
// (empty when other holds all of g), and whether the two have diverged on a
// MariaDB domain: same sequence number, written by different servers.
func (g GTIDSet) Missing(other GTIDSet) (missing string, diverged bool) {
	var parts []string
	sources := make([]string, 0, len(g.ranges))
	for src := range g.ranges {
		sources = append(sources, src)
	}
	sort.Strings(sources)
	for _, src := range sources {
		for _, iv := range subtract(g.ranges[src], other.ranges[src]) {
			if iv.lo == iv.hi {
				parts = append(parts, fmt.Sprintf("%s:%d", src, iv.lo))
			} else {
				parts = append(parts, fmt.Sprintf("%s:%d-%d", src, iv.lo, iv.hi))
			}
		}
	}
	for domain, mine := range g.last {
		theirs, ok := other.last[domain]
		if ok && mine != theirs && seqOf(mine) == seqOf(theirs) {
			diverged = true
		}
	}
	return strings.Join(parts, ","), diverged
}

// Count is the number of transactions in the set.
func (g GTIDSet) Count() uint64 {
	var n uint64
	for _, ivs := range g.ranges {
		for _, iv := range ivs {
			n += iv.hi - iv.lo + 1
		}
	}
	return n
}

// Empty reports whether the set holds no transaction.
func (g GTIDSet) Empty() bool { return g.Count() == 0 }

// Holds reports whether g holds every transaction of other (and has not
// diverged from it).
func (g GTIDSet) Holds(other GTIDSet) bool {
	missing, diverged := other.Missing(g)
	return missing == "" && !diverged
}

func seqOf(gtid string) string { return gtid[strings.LastIndexByte(gtid, '-')+1:] }

// subtract returns a minus b; both sorted and merged.
func subtract(a, b []interval) []interval {
	var out []interval
	for _, iv := range a {
		cur := iv
		for _, cut := range b {
			if cut.hi < cur.lo || cut.lo > cur.hi {
				continue
			}
			if cut.lo > cur.lo {
				out = append(out, interval{cur.lo, cut.lo - 1})
			}
			if cut.hi >= cur.hi {
				cur.lo = 1
				cur.hi = 0 // consumed
				break
			}
			cur.lo = cut.hi + 1
		}
		if cur.lo <= cur.hi {
			out = append(out, cur)
		}
	}
	return out
}
