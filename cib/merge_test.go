package cib

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/cib/spec"
)

const mergeSpec = `nodes:
  - name: n1
  - name: n2
  - name: n3
properties:
  stonith-enabled: "true"
rsc_defaults:
  resource-stickiness: "100"
primitives:
  - id: vip
    agent: ocf:heartbeat:IPaddr2
    params:
      ip: 192.0.2.10
  - id: web
    agent: ocf:heartbeat:Dummy
groups:
  - id: g
    members: [vip, web]
locations:
  - resource: g
    node: n1
    score: "100"
fencing:
  devices:
    - id: f1
      agent: fence_virsh
      hosts: [n1, n2, n3]
      params: {ip: 192.0.2.1, username: root}
`

func mustSpec(t *testing.T, src string) *spec.Spec {
	t.Helper()
	s, _, err := spec.Parse([]byte(src), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// liveFrom is the CIB a running cluster would show after the spec was
// applied and the cluster ran: versions, managed properties, node ids of
// corosync, a resource made by hand, and a status section.
func liveFrom(t *testing.T, s *spec.Spec) *etree.Document {
	t.Helper()
	tg, _ := ParseTarget("2.1")
	doc := Generate(s, tg)
	root := doc.Root()
	root.CreateAttr("epoch", "42")
	root.CreateAttr("crm_feature_set", "3.16.1")
	root.CreateAttr("validate-with", "pacemaker-3.9")
	props := root.FindElement("configuration/crm_config/cluster_property_set")
	p := props.CreateElement("nvpair")
	p.CreateAttr("id", "cib-bootstrap-options-dc-version")
	p.CreateAttr("name", "dc-version")
	p.CreateAttr("value", "2.1.5")
	node := root.FindElement("configuration/nodes/node[@uname='n2']")
	ia := node.CreateElement("instance_attributes")
	ia.CreateAttr("id", "nodes-2")
	sb := ia.CreateElement("nvpair")
	sb.CreateAttr("id", "nodes-2-standby")
	sb.CreateAttr("name", "standby")
	sb.CreateAttr("value", "off")
	extra := root.FindElement("configuration/resources").CreateElement("primitive")
	extra.CreateAttr("id", "by-hand")
	extra.CreateAttr("class", "ocf")
	extra.CreateAttr("provider", "heartbeat")
	extra.CreateAttr("type", "Dummy")
	st := root.SelectElement("status")
	ns := st.CreateElement("node_state")
	ns.CreateAttr("id", "1")
	ns.CreateAttr("uname", "n1")
	return doc
}

func changes(t *testing.T, live, desired *etree.Document, prune bool) (*etree.Document, []string) {
	t.Helper()
	merged, err := Merge(live, desired, prune)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range DiffConfig(live, merged) {
		out = append(out, c.String())
	}
	return merged, out
}

func TestMergeNoDrift(t *testing.T) {
	s := mustSpec(t, mergeSpec)
	tg, _ := ParseTarget("2.1")
	merged, got := changes(t, liveFrom(t, s), Generate(s, tg), false)
	if len(got) != 0 {
		t.Fatalf("changes for an unchanged spec: %v", got)
	}
	if merged.Root().SelectAttrValue("epoch", "") != "42" || merged.Root().SelectElement("status").SelectElement("node_state") == nil {
		t.Error("merge lost the live epoch or status")
	}
}

func TestMergeOneChange(t *testing.T) {
	s := mustSpec(t, mergeSpec)
	live := liveFrom(t, s)
	changed := mustSpec(t, strings.Replace(mergeSpec, "192.0.2.10", "192.0.2.11", 1))
	tg, _ := ParseTarget("2.1")
	merged, got := changes(t, live, Generate(changed, tg), false)
	want := []string{`~ resources/group[g]/primitive[vip]/instance_attributes[vip-instance_attributes]/nvpair[vip-instance_attributes-ip]: value "192.0.2.10" -> "192.0.2.11"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	conf := merged.Root().SelectElement("configuration")
	if conf.FindElement("resources/primitive[@id='by-hand']") == nil {
		t.Error("merge removed a resource the spec does not mention")
	}
	if conf.FindElement("crm_config/cluster_property_set/nvpair[@name='dc-version']") == nil {
		t.Error("merge removed dc-version")
	}
}

func TestMergeChangesOfEveryKind(t *testing.T) {
	s := mustSpec(t, mergeSpec)
	live := liveFrom(t, s)
	src := strings.Replace(mergeSpec, "members: [vip, web]", "members: [web, vip]", 1)
	src = strings.Replace(src, `resource-stickiness: "100"`, `resource-stickiness: "200"`, 1)
	src = strings.Replace(src, "locations:\n", "locations:\n  - resource: g\n    node: n2\n    score: \"50\"\n", 1)
	tg, _ := ParseTarget("2.1")
	_, got := changes(t, live, Generate(mustSpec(t, src), tg), false)
	want := []string{
		`~ resources/group[g]: order primitive[vip] primitive[web] -> primitive[web] primitive[vip]`,
		`+ constraints/rsc_location[location-g-n2-50]: rsc="g" node="n2" score="50"`,
		`~ rsc_defaults/meta_attributes[rsc_defaults-meta_attributes]/nvpair[rsc_defaults-meta_attributes-resource-stickiness]: value "100" -> "200"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMergePrune(t *testing.T) {
	s := mustSpec(t, mergeSpec)
	tg, _ := ParseTarget("2.1")
	merged, got := changes(t, liveFrom(t, s), Generate(s, tg), true)
	want := []string{
		"- nodes/node[2]/instance_attributes[nodes-2]",
		"- resources/primitive[by-hand]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if merged.Root().FindElement("configuration/crm_config/cluster_property_set/nvpair[@name='dc-version']") == nil {
		t.Error("prune removed a property Pacemaker maintains")
	}
}

// TestMergePatch applies the merge as goha apply does, with crm_diff
// --no-version and cibadmin --patch (on a CIB file), and checks the result
// is the merge.
func TestMergePatch(t *testing.T) {
	if !pcmk.Installed("crm_diff") || !pcmk.Installed("cibadmin") {
		t.Skip("crm_diff or cibadmin is not installed (apt-get install pacemaker-cli-utils)")
	}
	s := mustSpec(t, mergeSpec)
	live := liveFrom(t, s)
	changed := mustSpec(t, strings.Replace(mergeSpec, "192.0.2.10", "192.0.2.11", 1))
	tg, _ := ParseTarget("2.1")
	merged, _ := changes(t, live, Generate(changed, tg), false)
	liveXML, _ := XML(live)
	mergedXML, _ := XML(merged)
	tools := pcmk.Tools{R: pcmk.Exec{}, TempDir: t.TempDir()}
	patch, err := tools.Diff(context.Background(), liveXML, mergedXML)
	if err != nil || patch == nil {
		t.Fatalf("crm_diff: patch %q, %v", patch, err)
	}
	if strings.Contains(string(patch), "epoch") {
		t.Errorf("the patch carries versions:\n%s", patch)
	}
	dir := t.TempDir()
	lf, pf := filepath.Join(dir, "live.xml"), filepath.Join(dir, "patch.xml")
	os.WriteFile(lf, liveXML, 0o644)
	os.WriteFile(pf, patch, 0o644)
	if _, err := (pcmk.Exec{}).Run(context.Background(), nil, []string{"CIB_file=" + lf}, "cibadmin", "--patch", "--xml-file", pf); err != nil {
		t.Fatalf("cibadmin --patch: %v", err)
	}
	patched := etree.NewDocument()
	if err := patched.ReadFromFile(lf); err != nil {
		t.Fatal(err)
	}
	if e := patched.Root().SelectAttrValue("epoch", ""); e != "43" {
		t.Errorf("epoch after the patch = %s, want 43 (the live one, plus one)", e)
	}
	if d := DiffConfig(patched, merged); len(d) != 0 {
		t.Errorf("patched CIB differs from the merge: %v", d)
	}
	if d := DiffConfig(patched, live); len(d) != 1 {
		t.Errorf("patched CIB has %d changes, want 1: %v", len(d), d)
	}
}
