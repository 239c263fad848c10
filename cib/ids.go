package cib

import (
	"strconv"
	"strings"

	"github.com/goha-ha/goha/cib/spec"
)

// ids hands out XML ids unique in the whole CIB, pcs-style: a base name,
// then base-1, base-2, ... when it is taken.
type ids map[string]bool

func (s ids) take(base string) string {
	base = sanitizeID(base)
	id := base
	for i := 1; s[id]; i++ {
		id = base + "-" + strconv.Itoa(i)
	}
	s[id] = true
	return id
}

// sanitizeID makes s a valid XML id: letters, digits, '-', '_', '.', not
// starting with a digit, '-' or '.'.
func sanitizeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || !isIDStart(out[0]) {
		out = "_" + out
	}
	return out
}

func isIDStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// ValidID reports whether s can be used as an XML id as it is.
func ValidID(s string) bool { return s != "" && sanitizeID(s) == s }

// Default ids, shared by the generator and by import (which leaves an id
// out of the spec when it is the default).

func defaultCloneID(c spec.Clone) string { return c.Resource + "-clone" }

func cloneID(c spec.Clone) string {
	if c.ID != "" {
		return c.ID
	}
	return defaultCloneID(c)
}

func defaultOpID(rsc string, op spec.Op) string {
	return rsc + "-" + op.Name + "-interval-" + opInterval(op)
}

func opInterval(op spec.Op) string {
	if op.Interval == "" {
		return "0s"
	}
	return op.Interval
}

func defaultLocationID(l spec.Location) string {
	rsc := l.Resource
	if rsc == "" {
		rsc = l.ResourcePattern
	}
	if len(l.Rules) > 0 || l.Node == "" {
		return sanitizeID("location-" + rsc)
	}
	return sanitizeID("location-" + rsc + "-" + l.Node + "-" + l.Score)
}

func colocationScore(c spec.Colocation) string {
	if c.Score == "" {
		return "INFINITY"
	}
	return c.Score
}

func defaultColocationID(c spec.Colocation) string {
	if len(c.Sets) > 0 {
		return sanitizeID("pcs_rsc_colocation_" + setsName(c.Sets))
	}
	return sanitizeID("colocation-" + c.Resource + "-" + c.With + "-" + colocationScore(c))
}

func defaultOrderID(o spec.Order) string {
	if len(o.Sets) > 0 {
		return sanitizeID("pcs_rsc_order_" + setsName(o.Sets))
	}
	kind := strings.ToLower(o.Kind)
	if kind == "" {
		kind = "mandatory"
	}
	return sanitizeID("order-" + o.First + "-" + o.Then + "-" + kind)
}

// setsName is set_a_b_set_c for sets [a b] [c].
func setsName(sets []spec.ResourceSet) string {
	var parts []string
	for _, s := range sets {
		parts = append(parts, "set")
		parts = append(parts, s.Resources...)
	}
	return strings.Join(parts, "_")
}

func nodeID(i int, n spec.Node) string {
	if n.ID != "" {
		return n.ID
	}
	return strconv.Itoa(i + 1)
}
