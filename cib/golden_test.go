package cib

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/cib/spec"
)

var update = flag.Bool("update", false, "rewrite the golden CIB files")

var targets = []string{"2.0", "2.1", "3"}

func loadSpec(t testing.TB, path string) (*spec.Spec, spec.Positions) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, pos, err := spec.Parse(data, filepath.Base(path))
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return s, pos
}

func goldenSpecs(t *testing.T) []string {
	files, err := filepath.Glob("testdata/golden/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden specs: %v", err)
	}
	return files
}

// TestGolden generates every golden spec for every target and compares the
// CIB with the checked-in file (go test -run Golden -update rewrites them).
func TestGolden(t *testing.T) {
	for _, file := range goldenSpecs(t) {
		s, pos := loadSpec(t, file)
		for _, rel := range targets {
			name := strings.TrimSuffix(filepath.Base(file), ".yaml") + "@" + rel
			t.Run(name, func(t *testing.T) {
				tg, err := ParseTarget(rel)
				if err != nil {
					t.Fatal(err)
				}
				fs := Check(context.Background(), s, CheckOptions{Target: tg})
				fs.Locate(pos)
				for _, f := range fs {
					if f.Severity == spec.Error && !(rel == "3" && strings.Contains(f.Msg, "one rule per location")) {
						t.Errorf("check: %s", f)
					}
				}
				got, err := XML(Generate(s, tg))
				if err != nil {
					t.Fatal(err)
				}
				golden := strings.TrimSuffix(file, ".yaml") + "." + rel + ".xml"
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("generated CIB differs from %s:\n%s", golden, got)
				}
			})
		}
	}
}

// TestGoldenVerify runs Pacemaker's own validation on the golden CIBs the
// installed Pacemaker has a schema for.
func TestGoldenVerify(t *testing.T) {
	if !pcmk.Installed("crm_verify") {
		t.Skip("crm_verify is not installed (apt-get install pacemaker-cli-utils)")
	}
	tools := pcmk.Tools{R: pcmk.Exec{}}
	verified := 0
	for _, file := range goldenSpecs(t) {
		s, _ := loadSpec(t, file)
		for _, rel := range targets {
			tg, _ := ParseTarget(rel)
			if !pcmk.KnowsSchema(tg.Schema) {
				continue
			}
			res, err := Verify(context.Background(), tools, s, Generate(s, tg))
			if err != nil || !res.Valid || res.Output != "" {
				t.Errorf("%s for %s: crm_verify: %v\n%s", file, rel, err, res.Output)
			}
			verified++
		}
	}
	if verified == 0 {
		t.Fatal("the installed Pacemaker knows none of the target schemas")
	}
}

// TestRoundTrip checks import(generate(spec)) == spec for every golden
// spec and target whose role spelling the spec uses.
func TestRoundTrip(t *testing.T) {
	for _, file := range goldenSpecs(t) {
		s, _ := loadSpec(t, file)
		for _, rel := range targets {
			t.Run(filepath.Base(file)+"@"+rel, func(t *testing.T) {
				tg, _ := ParseTarget(rel)
				xml, err := XML(Generate(s, tg))
				if err != nil {
					t.Fatal(err)
				}
				doc := etree.NewDocument()
				if err := doc.ReadFromBytes(xml); err != nil {
					t.Fatal(err)
				}
				back, warnings, err := Import(doc)
				if err != nil {
					t.Fatal(err)
				}
				if len(warnings) > 0 {
					t.Errorf("import warnings: %v", warnings)
				}
				want := *s
				want.Pacemaker = rel
				if rel == "2.0" {
					want = withNumberType(want)
				}
				if !reflect.DeepEqual(back, &want) {
					a, _ := spec.Marshal(&want)
					b, _ := spec.Marshal(back)
					t.Errorf("import(generate(spec)) differs:\n--- spec\n%s\n--- imported\n%s", a, b)
				}
				again, err := XML(Generate(back, tg))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, xml) {
					t.Errorf("generate(import(generate(spec))) differs from generate(spec)")
				}
			})
		}
	}
}

// withNumberType is s as a Pacemaker 2.0 CIB gives it back: integer
// expressions are written as number there.
func withNumberType(s spec.Spec) spec.Spec {
	data, _ := spec.Marshal(&s)
	out, _, _ := spec.Parse(data, "copy")
	var fix func(r *spec.Rule)
	fix = func(r *spec.Rule) {
		for i := range r.Expressions {
			x := &r.Expressions[i]
			if x.Type == "integer" {
				x.Type = "number"
			}
			if x.Rule != nil {
				fix(x.Rule)
			}
		}
	}
	for i := range out.Locations {
		for j := range out.Locations[i].Rules {
			fix(&out.Locations[i].Rules[j])
		}
	}
	return *out
}
