package cib

import (
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/spec"
)

// TestImportPCS imports a CIB written by pcs (plus a legacy <master>, a
// bundle, a tag and a ticket) and checks what becomes of each part.
func TestImportPCS(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromFile("testdata/import/pcs.xml"); err != nil {
		t.Fatal(err)
	}
	s, warnings, err := Import(doc)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := spec.Marshal(s)
	got := string(data)
	for _, want := range []string{
		`pacemaker: "2.1"`,
		"  - name: n2\n    attributes:\n      standby: \"on\"\n",
		"groups:\n  - id: g\n    members:\n      - vip\n",
		"  - resource: d\n    promotable: true\n",
		"  - id: old-ms\n    resource: old\n    promotable: true\n    meta:\n      master-max: \"1\"\n",
		// pcs's op ids are the defaults and are left out; a legacy
		// role is read as the current name, and a custom id is kept.
		"      - name: monitor\n        interval: 10s\n        timeout: 20s\n",
		"      - id: old-monitor-10s\n        name: monitor\n        interval: 10s\n        role: Promoted\n",
		"      hosts:\n        - n1\n",
		"  - resource: vip\n    node: n1\n    score: \"100\"\n",
		"  - resource: vip\n    with: d-clone\n    role: Started\n    with_role: Promoted\n",
		"  - id: order_set_vpdepe\n    sets:\n",
		"rsc_defaults:\n  resource-stickiness: \"100\"\n",
		"  - id: al\n    path: /usr/bin/x\n    recipients:\n      - value: /tmp/x\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("imported spec lacks\n%s\nin\n%s", want, got)
		}
	}
	if strings.Contains(got, "dc-version") {
		t.Error("a property Pacemaker maintains was imported")
	}
	w := strings.Join(warnings, "\n")
	for _, want := range []string{`<bundle> "b"`, `<tags>`, `<rsc_ticket> "tk"`} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning about %s in:\n%s", want, w)
		}
	}
	// The imported spec generates a CIB that imports to the same spec.
	tg, _ := ParseTarget(s.Pacemaker)
	again, _, err := Import(Generate(s, tg))
	if err != nil {
		t.Fatal(err)
	}
	data2, _ := spec.Marshal(again)
	if string(data2) != got {
		t.Errorf("import(generate(import(pcs))) differs:\n%s\n---\n%s", got, data2)
	}
}

func TestImportRejects(t *testing.T) {
	for _, src := range []string{"<nope/>", "<cib/>"} {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(src); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Import(doc); err == nil {
			t.Errorf("Import(%s) accepted", src)
		}
	}
}

func TestParseStatus(t *testing.T) {
	const mon = `<pacemaker-result api-version="2.25" request="crm_mon">
  <resources>
    <resource id="vip" resource_agent="ocf:goha:vip" role="Started" active="true" nodes_running_on="1"><node name="n2" id="2" cached="true"/></resource>
    <clone id="db-clone" multi_state="true">
      <resource id="db" role="Master" active="true"><node name="n1" id="1" cached="true"/></resource>
      <resource id="db" role="Slave" active="true"><node name="n2" id="2" cached="true"/></resource>
      <resource id="db" role="Stopped" active="false" nodes_running_on="0"/>
    </clone>
    <group id="g" number_resources="1">
      <resource id="fs" role="Started" active="true"><node name="n2" id="2" cached="true"/></resource>
    </group>
  </resources>
</pacemaker-result>`
	p, err := ParseStatus([]byte(mon))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range p {
		got = append(got, strings.Join(strings.Fields(i.String()), " "))
	}
	want := []string{"vip Started n2", "db-clone/db Stopped -", "db-clone/db Promoted n1", "db-clone/db Unpromoted n2", "g/fs Started n2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("placement:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if u := p.Unplaced(); len(u) != 1 || u[0].Resource != "db" {
		t.Errorf("Unplaced = %v", u)
	}
	after := Placement{p[0], p[1], {Resource: "db", Parent: "db-clone", Role: "Promoted", Node: "n2"}, p[3], p[4]}
	after[0].Node = "n1"
	m := moves(p, after)
	wantMoves := []string{"db-clone/db: Promoted@n1 Stopped Unpromoted@n2 -> Promoted@n2 Stopped Unpromoted@n2", "vip: Started@n2 -> Started@n1"}
	if strings.Join(m, "|") != strings.Join(wantMoves, "|") {
		t.Errorf("moves = %q, want %q", m, wantMoves)
	}
	if _, err := ParseStatus([]byte("<x/>")); err == nil {
		t.Error("ParseStatus accepted output without resources")
	}
}
