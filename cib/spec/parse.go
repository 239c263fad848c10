package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a position in the spec file.
type Pos struct{ Line, Column int }

// Positions maps a field path (nodes[1].attributes.rack) to where it is
// written.
type Positions map[string]Pos

// Find returns the position of path or, when that field is not written
// (a missing required field), of its closest written parent.
func (p Positions) Find(path string) (line, col int) {
	for path != "" {
		if pos, ok := p[path]; ok {
			return pos.Line, pos.Column
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0, 0
}

// pathAt returns the deepest field written on line (a mapping key rather
// than a list item), or "".
func (p Positions) pathAt(line int) string {
	best, bestItem := "", ""
	for path, pos := range p {
		if pos.Line != line {
			continue
		}
		b := &best
		if strings.HasSuffix(path, "]") {
			b = &bestItem
		}
		if len(path) > len(*b) || len(path) == len(*b) && path < *b {
			*b = path
		}
	}
	if best == "" {
		return bestItem
	}
	return best
}

// ParseError is a spec that cannot be read: one or more problems, each
// with its line.
type ParseError struct {
	File     string
	Problems Findings
}

func (e *ParseError) Error() string {
	return strings.TrimSuffix(e.Problems.Format(e.File), "\n")
}

// Parse reads a spec. Unknown fields are errors; every error names its
// line and, where it can be told, the field.
func Parse(data []byte, file string) (*Spec, Positions, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, parseErr(file, nil, fmt.Errorf("the spec is empty"))
		}
		return nil, nil, parseErr(file, nil, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, nil, parseErr(file, nil, fmt.Errorf("line %d: a spec is one YAML document", extra.Line))
	}
	pos := Positions{}
	walk(&root, "", pos, 0)
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil, nil, parseErr(file, nil, fmt.Errorf("line %d: the spec must be a mapping (nodes:, primitives:, ...)", doc.Line))
	}
	var s Spec
	// Decoding again through a decoder is what enables KnownFields.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&s); err != nil {
		return nil, nil, parseErr(file, pos, err)
	}
	return &s, pos, nil
}

// walk records the position of every mapping key and sequence item. depth
// bounds recursion for hostile input (aliases are not followed).
func walk(n *yaml.Node, path string, pos Positions, depth int) {
	if depth > 200 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walk(c, path, pos, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			pos[p] = Pos{k.Line, k.Column}
			walk(n.Content[i+1], p, pos, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			pos[p] = Pos{c.Line, c.Column}
			walk(c, p, pos, depth+1)
		}
	}
}

var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type spec\.(\w+)$`)
)

// parseErr turns a yaml error into findings with lines and field paths.
func parseErr(file string, pos Positions, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	pe := &ParseError{File: file}
	for _, m := range msgs {
		f := Finding{Severity: Error, Path: "spec", Msg: m}
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			f.Line, _ = strconv.Atoi(sm[1])
			f.Msg = sm[2]
			if p := pos.pathAt(f.Line); p != "" {
				f.Path = p
				f.Column = pos[p].Column
			}
		}
		if um := unknownRE.FindStringSubmatch(f.Msg); um != nil {
			f.Msg = fmt.Sprintf("unknown field %q in %s", um[1], strings.ToLower(um[2]))
		}
		f.Msg = strings.ReplaceAll(f.Msg, "spec.", "")
		pe.Problems = append(pe.Problems, f)
	}
	return pe
}

// Marshal writes a spec as YAML, fields in the order of the model.
func Marshal(s *Spec) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	return b.Bytes(), nil
}
