package spec

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// NV is one name/value pair.
type NV struct {
	Name  string
	Value string
}

// NVList is an ordered set of name/value pairs, written in YAML as a
// mapping. The order is kept so that output follows the spec.
type NVList []NV

// Get returns the value of name and whether it is set.
func (l NVList) Get(name string) (string, bool) {
	for _, nv := range l {
		if nv.Name == name {
			return nv.Value, true
		}
	}
	return "", false
}

// Without returns the list less the pairs called name.
func (l NVList) Without(names ...string) NVList {
	var out NVList
outer:
	for _, nv := range l {
		for _, n := range names {
			if nv.Name == n {
				continue outer
			}
		}
		out = append(out, nv)
	}
	return out
}

// Set replaces name's value or appends the pair.
func (l NVList) Set(name, value string) NVList {
	for i := range l {
		if l[i].Name == name {
			l[i].Value = value
			return l
		}
	}
	return append(l, NV{name, value})
}

// UnmarshalYAML reads a mapping of scalars, keeping its order.
func (l *NVList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		*l = nil
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping of name: value", n.Line)
	}
	out := make(NVList, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a name must be a plain value", k.Line)
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: the value must be a plain value, not a list or mapping", v.Line, k.Value)
		}
		if seen[k.Value] {
			return fmt.Errorf("line %d: %s is given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		val := v.Value
		if v.Tag == "!!null" {
			val = ""
		}
		out = append(out, NV{k.Value, val})
	}
	*l = out
	return nil
}

// MarshalYAML writes the list as a mapping in its order.
func (l NVList) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, nv := range l {
		n.Content = append(n.Content, scalar(nv.Name), scalar(nv.Value))
	}
	return n, nil
}

// scalar is a string node, quoted where a YAML reader would take it for
// something else: "true" and "100" (yaml.v3 quotes those itself), and the
// YAML 1.1 booleans yes/no/on/off that other tools still read as such.
func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch strings.ToLower(s) {
	case "yes", "no", "on", "off", "y", "n":
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}
