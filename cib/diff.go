package cib

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Change is one difference between two configurations.
type Change struct {
	// Op is "+" (added), "-" (removed) or "~" (changed).
	Op string
	// Path locates the element: resources/primitive[vip]/instance_attributes[...].
	Path string
	// Detail says what changed in a "~" change.
	Detail string
}

func (c Change) String() string {
	if c.Detail == "" {
		return c.Op + " " + c.Path
	}
	return c.Op + " " + c.Path + ": " + c.Detail
}

// DiffConfig compares the configuration sections of two CIBs. Elements are
// matched by tag and id (by tag and position when they have no id).
func DiffConfig(old, new *etree.Document) []Change {
	oc := old.Root().SelectElement("configuration")
	nc := new.Root().SelectElement("configuration")
	var out []Change
	diffChildren(oc, nc, "", &out)
	return out
}

// key names a child: tag[id], or the tag alone when it is the only one
// without an id, else tag#position.
func key(e *etree.Element, pos, of int) string {
	if v := id(e); v != "" {
		return e.Tag + "[" + v + "]"
	}
	if of == 1 {
		return e.Tag
	}
	return e.Tag + "#" + strconv.Itoa(pos)
}

func keyed(e *etree.Element) ([]string, map[string]*etree.Element) {
	var order []string
	m := map[string]*etree.Element{}
	if e == nil {
		return nil, m
	}
	total := map[string]int{}
	for _, c := range e.ChildElements() {
		if id(c) == "" {
			total[c.Tag]++
		}
	}
	count := map[string]int{}
	for _, c := range e.ChildElements() {
		k := key(c, count[c.Tag], total[c.Tag])
		count[c.Tag]++
		order = append(order, k)
		m[k] = c
	}
	return order, m
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "/" + k
}

func diffChildren(old, new *etree.Element, path string, out *[]Change) {
	oo, om := keyed(old)
	no, nm := keyed(new)
	for _, k := range oo {
		if _, ok := nm[k]; !ok {
			*out = append(*out, Change{Op: "-", Path: join(path, k)})
		}
	}
	for _, k := range no {
		o, ok := om[k]
		if !ok {
			*out = append(*out, Change{Op: "+", Path: join(path, k), Detail: describeElement(nm[k])})
			continue
		}
		diffElement(o, nm[k], join(path, k), out)
	}
	// Order matters inside groups (start order) and among resource refs.
	var common, commonNew []string
	for _, k := range oo {
		if _, ok := nm[k]; ok {
			common = append(common, k)
		}
	}
	for _, k := range no {
		if _, ok := om[k]; ok {
			commonNew = append(commonNew, k)
		}
	}
	if new != nil && (new.Tag == "group" || new.Tag == "resource_set") && strings.Join(common, ",") != strings.Join(commonNew, ",") {
		*out = append(*out, Change{Op: "~", Path: path, Detail: fmt.Sprintf("order %s -> %s", strings.Join(common, " "), strings.Join(commonNew, " "))})
	}
}

func diffElement(old, new *etree.Element, path string, out *[]Change) {
	var details []string
	oa := map[string]string{}
	for _, a := range old.Attr {
		oa[a.Key] = a.Value
	}
	na := map[string]string{}
	for _, a := range new.Attr {
		na[a.Key] = a.Value
	}
	for _, k := range keysOfBoth(oa, na) {
		ov, inOld := oa[k]
		nv, inNew := na[k]
		switch {
		case !inOld:
			details = append(details, fmt.Sprintf("%s=%q added", k, nv))
		case !inNew:
			details = append(details, fmt.Sprintf("%s=%q removed", k, ov))
		case ov != nv:
			details = append(details, fmt.Sprintf("%s %q -> %q", k, ov, nv))
		}
	}
	if len(details) > 0 {
		*out = append(*out, Change{Op: "~", Path: path, Detail: strings.Join(details, ", ")})
	}
	diffChildren(old, new, path, out)
}

// describeElement summarises an added element: its attributes, and for a
// set its pairs.
func describeElement(e *etree.Element) string {
	var parts []string
	for _, a := range e.Attr {
		if a.Key != "id" {
			parts = append(parts, fmt.Sprintf("%s=%q", a.Key, a.Value))
		}
	}
	return strings.Join(parts, " ")
}

// keysOfBoth returns the keys found in either map, sorted.
func keysOfBoth[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
