package cib

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/spec"
)

// FuzzSpec feeds arbitrary input through the whole pipeline: parse, check,
// generate, import. None of it may panic; every parse error must carry a
// line or name the spec. Seeds: the golden specs and testdata/fuzz/FuzzSpec.
func FuzzSpec(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	tg, _ := ParseTarget("2.1")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, pos, err := spec.Parse(data, "fuzz.yaml")
		if err != nil {
			if pe, ok := err.(*spec.ParseError); ok {
				for _, p := range pe.Problems {
					if p.Path == "" {
						t.Fatalf("a parse error names no field: %v", err)
					}
				}
			}
			return
		}
		fs := Check(context.Background(), s, CheckOptions{Target: tg, Agents: agentsFixture})
		fs.Locate(pos)
		_ = fs.Format("fuzz.yaml")
		xml, err := XML(Generate(s, tg))
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(xml); err != nil {
			t.Fatalf("generated XML does not parse: %v", err)
		}
		if _, _, err := Import(doc); err != nil {
			t.Fatalf("import of a generated CIB: %v", err)
		}
	})
}

// BenchmarkGenerateLarge parses, checks (against cached meta-data) and
// generates the spec of goha cib bench-spec --nodes 32 --primitives 1000
// --constraints 3000.
func BenchmarkGenerateLarge(b *testing.B) {
	data, err := spec.Marshal(Synthetic(32, 1000, 3000))
	if err != nil {
		b.Fatal(err)
	}
	tg, _ := ParseTarget("2.1")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s, pos, err := spec.Parse(data, "bench.yaml")
		if err != nil {
			b.Fatal(err)
		}
		fs := Check(context.Background(), s, CheckOptions{Target: tg, Agents: agentsFixture})
		fs.Locate(pos)
		if fs.HasErrors() {
			b.Fatalf("the synthetic spec does not validate:\n%s", fs.Format("bench.yaml"))
		}
		if _, err := XML(Generate(s, tg)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSyntheticValid keeps the benchmark's spec valid at small sizes.
func TestSyntheticValid(t *testing.T) {
	tg, _ := ParseTarget("2.1")
	for _, size := range [][3]int{{2, 10, 10}, {3, 60, 90}, {32, 1000, 3000}} {
		s := Synthetic(size[0], size[1], size[2])
		if n := len(s.Locations) + len(s.Colocations) + len(s.Orders); n != size[2] {
			t.Errorf("%v: %d constraints", size, n)
		}
		if len(s.Primitives) != size[1] || len(s.Nodes) != size[0] {
			t.Errorf("%v: %d primitives, %d nodes", size, len(s.Primitives), len(s.Nodes))
		}
		for _, f := range Check(context.Background(), s, CheckOptions{Target: tg, Agents: agentsFixture}) {
			if f.Severity == spec.Error {
				t.Errorf("%v: %s", size, f)
			}
		}
	}
}
