package cib_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goha-ha/goha/cib"
	"github.com/goha-ha/goha/cib/preset"
	"github.com/goha-ha/goha/cib/spec"
)

// schemas3 is where make deps unpacks Pacemaker 3.0's Relax NG schemas;
// GOHA_PCMK3_SCHEMAS overrides it.
func schemas3(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GOHA_PCMK3_SCHEMAS")
	if dir == "" {
		dir = filepath.Join("..", ".tools", "pacemaker-schemas-3.0")
	}
	rng := filepath.Join(dir, "pacemaker-4.0.rng")
	if _, err := os.Stat(rng); err != nil {
		t.Skipf("no Pacemaker 3.0 schemas at %s (make deps fetches them): %v", dir, err)
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (apt-get install libxml2-utils)")
	}
	return rng
}

// validate3 checks a CIB against pacemaker-4.0.rng, the schema Pacemaker
// 3.0's own validation uses; this machine's Pacemaker 2.1 cannot.
func validate3(t *testing.T, rng string, xml []byte) error {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cib.xml")
	if err := os.WriteFile(f, xml, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--relaxng", rng, f).CombinedOutput()
	if err != nil {
		return &schemaError{string(out)}
	}
	return nil
}

type schemaError struct{ out string }

func (e *schemaError) Error() string { return strings.TrimSpace(e.out) }

// TestPacemaker3Schema generates every golden spec and every preset for
// Pacemaker 3 and validates the CIB against Pacemaker 3.0's schema. A spec
// goha's check refuses for Pacemaker 3 (more than one rule in a location)
// must fail the schema too, which shows the check and the schema agree.
func TestPacemaker3Schema(t *testing.T) {
	rng := schemas3(t)
	tg, err := cib.ParseTarget("3")
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]*spec.Spec{}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden specs: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := spec.Parse(data, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		specs[filepath.Base(f)] = s
	}
	for _, p := range preset.All() {
		s, err := preset.Build(p.Name, preset.Options{Pacemaker: "3"})
		if err != nil {
			t.Fatalf("preset %s: %v", p.Name, err)
		}
		specs["preset "+p.Name] = s
	}
	refused := 0
	for name, s := range specs {
		t.Run(name, func(t *testing.T) {
			fs := cib.Check(context.Background(), s, cib.CheckOptions{Target: tg})
			xml, err := cib.XML(cib.Generate(s, tg))
			if err != nil {
				t.Fatal(err)
			}
			err = validate3(t, rng, xml)
			if fs.HasErrors() {
				refused++
				if err == nil {
					t.Errorf("goha's check refuses it for Pacemaker 3, but the schema accepts it:\n%s", fs.Format(name))
				}
				return
			}
			if err != nil {
				t.Errorf("pacemaker-4.0.rng rejects the CIB goha generates for Pacemaker 3: %v", err)
			}
		})
	}
	if refused == 0 {
		t.Error("no spec exercised a refusal: the constraints golden spec has a location with several rules")
	}
}
