package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		path, msg  string
	}{
		{"unknown field", "nodes:\n  - name: a\n    colour: red\n", 3, "nodes[0].colour", `unknown field "colour" in node`},
		{"unknown top-level", "nodes:\n  - name: a\nresources: []\n", 3, "resources", `unknown field "resources" in spec`},
		{"list for a value", "primitives:\n  - id: a\n    agent: ocf:x:y\n    params:\n      ip: [1, 2]\n", 5, "primitives[0].params.ip", "the value must be a plain value"},
		{"twice", "properties:\n  a: 1\n  a: 2\n", 3, "properties.a", "a is given twice"},
		{"wrong type", "fencing:\n  levels:\n    - node: a\n      index: first\n", 4, "fencing.levels[0].index", "cannot unmarshal"},
		{"not a mapping", "- a\n- b\n", 1, "spec", "must be a mapping"},
		{"two documents", "nodes: []\n---\nnodes: []\n", 2, "spec", "one YAML document"},
		{"empty", "", 0, "spec", "empty"},
		{"syntax", "nodes:\n  - name: a\n   bad: indent\n", 1, "", "did not find expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tt.yaml), "s.yaml")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			f := pe.Problems[0]
			if f.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", f.Line, tt.line, err)
			}
			if tt.path != "" && f.Path != tt.path {
				t.Errorf("path = %q, want %q (%v)", f.Path, tt.path, err)
			}
			if !strings.Contains(f.Msg, tt.msg) {
				t.Errorf("msg = %q, want it to contain %q", f.Msg, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "s.yaml:") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseKeepsOrderAndPositions(t *testing.T) {
	src := "nodes:\n  - name: a\nproperties:\n  zeta: \"1\"\n  alpha: true\n  empty:\n"
	s, pos, err := Parse([]byte(src), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := NVList{{"zeta", "1"}, {"alpha", "true"}, {"empty", ""}}
	if len(s.Properties) != len(want) {
		t.Fatalf("properties = %v", s.Properties)
	}
	for i := range want {
		if s.Properties[i] != want[i] {
			t.Errorf("properties[%d] = %v, want %v", i, s.Properties[i], want[i])
		}
	}
	for path, line := range map[string]int{"nodes[0]": 2, "nodes[0].name": 2, "properties.alpha": 5, "properties.missing": 3, "nodes[0].attributes.x": 2} {
		if l, _ := pos.Find(path); l != line {
			t.Errorf("Find(%s) = line %d, want %d", path, l, line)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	s := &Spec{
		Nodes:      []Node{{Name: "a", Attributes: NVList{{"x", "true"}, {"n", "007"}}}},
		Properties: NVList{{"stonith-enabled", "true"}, {"b", ""}},
		Primitives: []Primitive{{ID: "p", Agent: "ocf:heartbeat:Dummy", Ops: []Op{{Name: "monitor", Interval: "10s"}}}},
	}
	data, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := Parse(data, "m.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	again, _ := Marshal(back)
	if string(again) != string(data) {
		t.Errorf("marshal(parse(marshal(s))) differs:\n%s\n---\n%s", data, again)
	}
	if v, _ := back.Nodes[0].Attributes.Get("n"); v != "007" {
		t.Errorf("a string that looks like a number came back as %q", v)
	}
}

func TestFindingsFormat(t *testing.T) {
	fs := Findings{{Severity: Warning, Path: "b", Msg: "w"}, {Severity: Error, Path: "a", Msg: "e"}}
	fs.Locate(Positions{"a": {Line: 2, Column: 3}})
	got := fs.Format("f.yaml")
	want := "f.yaml: warning: b: w\nf.yaml:2:3: error: a: e\n"
	if got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
	if !fs.HasErrors() {
		t.Error("HasErrors = false")
	}
}
