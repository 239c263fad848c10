package cib

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/cib/preset"
	"github.com/goha-ha/goha/cib/spec"
	"github.com/goha-ha/goha/internal/lab"
)

// labRunner runs cibadmin inside a lab node (the live CIB is there) and
// every other tool (crm_diff works on files) on the host.
type labRunner struct {
	l    *lab.Lab
	node string
}

func (r labRunner) Run(ctx context.Context, stdin []byte, env []string, name string, args ...string) ([]byte, error) {
	if name == "cibadmin" {
		return r.l.Exec(ctx, r.node, append([]string{name}, args...)...)
	}
	return pcmk.Exec{}.Run(ctx, stdin, env, name, args...)
}

// TestLabApplyDiff applies a preset's spec to a running 2-node lab cluster
// (fenced by fence_goha_lab), checks that diff then reports no drift,
// changes one field, checks diff shows exactly that change, applies it and
// checks diff is clean again and import gives the spec back.
func TestLabApplyDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 2-node lab cluster (about 30 s); not with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("a lab cluster needs root")
	}
	for _, tool := range []string{"corosync", "pacemakerd", "cibadmin", "crm_diff", "nsenter", "unshare"} {
		if !pcmk.Installed(tool) && !fileExists("/usr/sbin/"+tool) {
			t.Skipf("%s is not installed (apt-get install pacemaker corosync util-linux)", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "goha")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/goha")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build goha: %v\n%s", err, out)
	}
	if _, err := lab.TakeTurn(); err != nil {
		t.Fatal(err)
	}
	name := "cibt" + time.Now().Format("150405")
	l, err := lab.Up(ctx, lab.Config{Name: name, Nodes: 2, Binary: bin, OCFAgents: []string{"vip"}, Logf: t.Logf})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := l.Down(dctx); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	nodes := l.Nodes()
	s, err := preset.Build("osm", preset.Options{Nodes: nodes, Addresses: []string{"10.0.0.1", "10.0.0.2"},
		VIPs: []string{"192.0.2.100"}, Fence: "lab", Lab: name})
	if err != nil {
		t.Fatal(err)
	}
	tools := pcmk.Tools{R: labRunner{l, nodes[0]}, TempDir: t.TempDir()}
	tg, _ := ParseTarget("2.1")

	apply := func(s *spec.Spec) []string {
		t.Helper()
		live, liveXML := query(ctx, t, tools)
		merged, err := Merge(live, Generate(s, tg), false)
		if err != nil {
			t.Fatal(err)
		}
		mergedXML, _ := XML(merged)
		patch, err := tools.Diff(ctx, liveXML, mergedXML)
		if err != nil {
			t.Fatal(err)
		}
		if patch != nil {
			if err := tools.Patch(ctx, patch); err != nil {
				t.Fatal(err)
			}
		}
		return strs(DiffConfig(live, merged))
	}
	drift := func(s *spec.Spec) []string {
		t.Helper()
		live, _ := query(ctx, t, tools)
		merged, err := Merge(live, Generate(s, tg), false)
		if err != nil {
			t.Fatal(err)
		}
		return strs(DiffConfig(live, merged))
	}

	if applied := apply(s); len(applied) == 0 {
		t.Fatal("applying the preset to a fresh lab changed nothing")
	}
	if d := drift(s); len(d) != 0 {
		t.Fatalf("drift right after apply:\n%s", strings.Join(d, "\n"))
	}
	s.Primitives[0].Params = s.Primitives[0].Params.Set("ip", "192.0.2.101")
	want := `~ resources/group[osm-group]/primitive[vip]/instance_attributes[vip-instance_attributes]/nvpair[vip-instance_attributes-ip]: value "192.0.2.100" -> "192.0.2.101"`
	if d := drift(s); strings.Join(d, "\n") != want {
		t.Fatalf("diff after one change:\n%s\nwant:\n%s", strings.Join(d, "\n"), want)
	}
	apply(s)
	if d := drift(s); len(d) != 0 {
		t.Fatalf("drift after applying the change:\n%s", strings.Join(d, "\n"))
	}
	live, _ := query(ctx, t, tools)
	back, _, err := Import(live)
	if err != nil {
		t.Fatal(err)
	}
	s.Pacemaker = back.Pacemaker
	// dc-deadtime is the lab's own (it seeds every node's CIB with it), not
	// the spec's; the spec leaves it alone, as it must.
	if v, _ := back.Properties.Get("dc-deadtime"); v != "5s" {
		t.Errorf("the lab's dc-deadtime=5s was lost: %q", v)
	}
	back.Properties = back.Properties.Without("dc-deadtime")
	a, _ := spec.Marshal(s)
	b, _ := spec.Marshal(back)
	if string(a) != string(b) {
		t.Errorf("import of the live CIB differs from the spec:\n%s\n---\n%s", a, b)
	}
}

func query(ctx context.Context, t *testing.T, tools pcmk.Tools) (*etree.Document, []byte) {
	t.Helper()
	xml, err := tools.Query(ctx)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		t.Fatal(err)
	}
	return doc, xml
}

func strs(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
