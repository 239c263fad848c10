package lab

import (
	"encoding/xml"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func nodesOf(n int) []Member {
	var ms []Member
	for i := 1; i <= n; i++ {
		ms = append(ms, Member{Name: NodeName(i), ID: i, Addr: NodeAddr(4, i)})
	}
	return ms
}

func TestCorosyncConf(t *testing.T) {
	tests := []struct {
		name    string
		nodes   int
		token   time.Duration
		want    []string
		notWant []string
	}{
		{
			name: "one node", nodes: 1, token: 3 * time.Second,
			want:    []string{"cluster_name: goha-x", "transport: knet", "token: 3000", "ring0_addr: 10.213.4.1", "name: n1", "nodeid: 1", "provider: corosync_votequorum"},
			notWant: []string{"two_node", "n2"},
		},
		{
			name: "two nodes use two_node", nodes: 2, token: 3 * time.Second,
			want: []string{"two_node: 1", "name: n2", "ring0_addr: 10.213.4.2", "nodeid: 2"},
		},
		{
			name: "three nodes", nodes: 3, token: 5 * time.Second,
			want:    []string{"token: 5000", "name: n3", "ring0_addr: 10.213.4.3"},
			notWant: []string{"two_node"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := CorosyncConf("goha-x", tt.token, nodesOf(tt.nodes))
			for _, w := range tt.want {
				if !strings.Contains(conf, w) {
					t.Errorf("missing %q in:\n%s", w, conf)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(conf, w) {
					t.Errorf("unexpected %q in:\n%s", w, conf)
				}
			}
			checkCorosyncSyntax(t, conf)
			if got := strings.Count(conf, "    node {"); got != tt.nodes {
				t.Errorf("%d node sections, want %d", got, tt.nodes)
			}
		})
	}
}

// checkCorosyncSyntax enforces what corosync's parser wants: one key per
// line, "section {" alone on its line, balanced braces.
func checkCorosyncSyntax(t *testing.T, conf string) {
	t.Helper()
	depth := 0
	for i, l := range strings.Split(conf, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasSuffix(l, "{"):
			name := strings.TrimSpace(strings.TrimSuffix(l, "{"))
			if name == "" || strings.ContainsAny(name, " :{}") {
				t.Errorf("line %d: bad section opener %q", i+1, l)
			}
			depth++
		case l == "}":
			depth--
			if depth < 0 {
				t.Fatalf("line %d: unbalanced }", i+1)
			}
		default:
			k, v, ok := strings.Cut(l, ": ")
			if !ok || k == "" || v == "" || strings.ContainsAny(l, "{}") {
				t.Errorf("line %d: not one key: value: %q", i+1, l)
			}
		}
	}
	if depth != 0 {
		t.Errorf("unbalanced braces (depth %d)", depth)
	}
}

func TestHostsFile(t *testing.T) {
	got := HostsFile([]Member{
		{Name: "n1", Addr: netip.MustParseAddr("10.213.1.1")},
		{Name: "c1", Addr: netip.MustParseAddr("10.213.1.101")},
	})
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.213.1.1\tn1\n10.213.1.101\tc1\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestInitialCIB(t *testing.T) {
	type nvpair struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	type cib struct {
		ValidateWith string   `xml:"validate-with,attr"`
		Props        []nvpair `xml:"configuration>crm_config>cluster_property_set>nvpair"`
		Primitives   []struct {
			ID     string   `xml:"id,attr"`
			Class  string   `xml:"class,attr"`
			Type   string   `xml:"type,attr"`
			Params []nvpair `xml:"instance_attributes>nvpair"`
		} `xml:"configuration>resources>primitive"`
	}
	tests := []struct {
		name      string
		fencing   bool
		stonith   string
		resources int
	}{
		{"fencing", true, "true", 1},
		{"no fencing", false, "false", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cib
			if err := xml.Unmarshal([]byte(InitialCIB("db", []string{"n1", "n2", "n3"}, tt.fencing)), &c); err != nil {
				t.Fatal(err)
			}
			if c.ValidateWith == "" {
				t.Error("no validate-with")
			}
			props := map[string]string{}
			for _, p := range c.Props {
				props[p.Name] = p.Value
			}
			if props["stonith-enabled"] != tt.stonith {
				t.Errorf("stonith-enabled = %q, want %q", props["stonith-enabled"], tt.stonith)
			}
			if props["dc-deadtime"] == "" {
				t.Error("no dc-deadtime")
			}
			if len(c.Primitives) != tt.resources {
				t.Fatalf("%d primitives, want %d", len(c.Primitives), tt.resources)
			}
			if tt.resources == 0 {
				return
			}
			p := c.Primitives[0]
			params := map[string]string{}
			for _, nv := range p.Params {
				params[nv.Name] = nv.Value
			}
			want := map[string]string{"lab": "db", "pcmk_host_list": "n1 n2 n3"}
			if p.ID != FenceResourceID || p.Class != "stonith" || p.Type != "fence_goha_lab" || !reflect.DeepEqual(params, want) {
				t.Errorf("fence device = %+v, params %v", p, params)
			}
		})
	}
}

func TestParseCrmMon(t *testing.T) {
	b, err := os.ReadFile("testdata/crm_mon.xml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseCrmMon(b)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Quorum || v.DC != "n3" {
		t.Errorf("quorum %v DC %q, want true n3", v.Quorum, v.DC)
	}
	if !reflect.DeepEqual(v.Online, []string{"n1", "n2"}) || !reflect.DeepEqual(v.Offline, []string{"n3"}) {
		t.Errorf("online %v offline %v", v.Online, v.Offline)
	}
	if v.Roles[FenceResourceID] != "Started" || v.Where[FenceResourceID] != "n2" {
		t.Errorf("fence device %q on %q", v.Roles[FenceResourceID], v.Where[FenceResourceID])
	}

	noDC := `<pacemaker-result><summary><current_dc present="false"/></summary><nodes><node name="n1" online="false"/></nodes></pacemaker-result>`
	v, err = ParseCrmMon([]byte(noDC))
	if err != nil {
		t.Fatal(err)
	}
	if v.Quorum || v.DC != "" || len(v.Online) != 0 {
		t.Errorf("no DC: got %+v", v)
	}
	if _, err := ParseCrmMon([]byte("not xml <")); err == nil {
		t.Error("garbage: want an error")
	}
}
