package preset_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goha-ha/goha/agents"
	"github.com/goha-ha/goha/cib"
	"github.com/goha-ha/goha/cib/meta"
	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/cib/preset"
	"github.com/goha-ha/goha/cib/spec"
)

// checkClean fails on any error finding of goha's own validation.
func checkClean(t *testing.T, s *spec.Spec) {
	t.Helper()
	tg, _ := cib.ParseTarget("2.1")
	for _, f := range cib.Check(context.Background(), s, cib.CheckOptions{Target: tg}) {
		if f.Severity == spec.Error {
			t.Errorf("check: %s", f)
		}
	}
}

func TestPresetsWithoutFlags(t *testing.T) {
	for _, p := range preset.All() {
		t.Run(p.Name, func(t *testing.T) {
			s, err := preset.Build(p.Name, preset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, s)
			if v, _ := s.Properties.Get("stonith-enabled"); v != "true" {
				t.Errorf("stonith-enabled = %q, want true", v)
			}
			if len(s.Fencing.Devices) == 0 {
				t.Error("no fence device")
			}
			// The spec survives YAML and the CIB round trip.
			data, err := spec.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := spec.Parse(data, p.Name+".yaml"); err != nil {
				t.Fatalf("the preset's YAML does not parse: %v\n%s", err, data)
			}
		})
	}
}

// TestPresetStructure checks each preset has the structure of its guide.
func TestPresetStructure(t *testing.T) {
	has := func(s *spec.Spec) map[string]string {
		m := map[string]string{}
		for _, p := range s.Primitives {
			m[p.ID] = p.Agent
		}
		for _, c := range s.Clones {
			kind := "clone"
			if c.Promotable {
				kind = "promotable"
			}
			m["clone:"+c.Resource] = kind
		}
		for _, g := range s.Groups {
			m["group:"+g.ID] = strings.Join(g.Members, ",")
		}
		return m
	}
	tests := []struct {
		preset string
		want   map[string]string
		check  func(t *testing.T, s *spec.Spec)
	}{
		{"openuds", map[string]string{"galera": "ocf:goha:galera", "clone:galera": "promotable", "haproxy": "ocf:goha:haproxy", "vip": "ocf:goha:vip"}, func(t *testing.T, s *spec.Spec) {
			if len(s.Nodes) != 3 {
				t.Errorf("%d nodes, want 3", len(s.Nodes))
			}
		}},
		{"filefabric", map[string]string{"clone:mysql": "promotable", "db-vip": "ocf:goha:vip", "memcached-vip": "ocf:goha:vip"}, func(t *testing.T, s *spec.Spec) {
			if v, _ := s.RscDefaults.Get("resource-stickiness"); v != "INFINITY" {
				t.Errorf("resource-stickiness = %q: File Fabric must not fail back", v)
			}
			if s.Colocations[0].WithRole != "Promoted" || s.Colocations[0].With != "mysql-clone" {
				t.Errorf("the DB VIP does not follow the promoted MySQL: %+v", s.Colocations[0])
			}
		}},
		{"vprotect", map[string]string{"clone:ping": "clone", "clone:drbd": "promotable", "group:vprotect": "vdo,fs,vip,vprotect-node,vprotect-server"}, func(t *testing.T, s *spec.Spec) {
			r := s.Locations[0].Rules[0]
			if r.Score != "-INFINITY" || r.Expressions[0].Attribute != "pingd" || r.Expressions[0].Op != "not_defined" {
				t.Errorf("no ping rule: %+v", r)
			}
			if s.Orders[0].FirstAction != "promote" || s.Orders[0].Then != "vprotect" {
				t.Errorf("no promote-then-start order: %+v", s.Orders[0])
			}
		}},
		{"osm", map[string]string{"group:osm-group": "vip,apache,osm,sync"}, func(t *testing.T, s *spec.Spec) {
			l := s.Locations[0]
			if l.Node != "osm1" || l.Score != "100" {
				t.Errorf("no preferred node: %+v", l)
			}
			if v, _ := s.RscDefaults.Get("resource-stickiness"); v != "50" {
				t.Errorf("stickiness %q does not let the group fail back", v)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			s, err := preset.Build(tt.preset, preset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := has(s)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			tt.check(t, s)
		})
	}
}

// TestPresetDefaultsFollowGuides checks that a preset built without flags
// carries its guide's values where the resources use them, and that a flag
// still wins over the guide.
func TestPresetDefaultsFollowGuides(t *testing.T) {
	param := func(s *spec.Spec, id, name string) string {
		for _, p := range s.Primitives {
			if p.ID == id {
				v, _ := p.Params.Get(name)
				return v
			}
		}
		return ""
	}
	tests := []struct {
		preset string
		id     string
		param  string
		want   string
	}{
		{"openuds", "galera", "wsrep_cluster_address", "gcomm://192.168.1.69,192.168.1.67,192.168.1.70"},
		{"openuds", "vip", "ip", "192.168.1.189"},
		{"filefabric", "db-vip", "cidr_netmask", "24"},
		{"vprotect", "vip", "ip", "10.40.1.100"},
		{"vprotect", "vip", "cidr_netmask", "22"},
		{"vprotect", "ping", "host_list", "10.40.0.1"},
		{"vprotect", "drbd", "drbd_resource", "replicate"},
		{"vprotect", "fs", "device", "/dev/mapper/vdo_data"},
		{"vprotect", "fs", "directory", "/vprotect_data"},
		{"osm", "vip", "ip", "192.168.0.200"},
		{"osm", "osm", "farm_network", "192.168.0.0/24"},
		{"osm", "sync", "peers", "192.168.0.201 192.168.0.202"},
	}
	for _, tt := range tests {
		s, err := preset.Build(tt.preset, preset.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := param(s, tt.id, tt.param); got != tt.want {
			t.Errorf("%s: %s %s = %q, want %q", tt.preset, tt.id, tt.param, got, tt.want)
		}
	}
	s, err := preset.Build("vprotect", preset.Options{Netmask: "24"})
	if err != nil {
		t.Fatal(err)
	}
	if got := param(s, "vip", "cidr_netmask"); got != "24" {
		t.Errorf("--netmask 24 gave cidr_netmask %q: the flag must win over the guide's /22", got)
	}
}

func TestPresetOptions(t *testing.T) {
	for _, fence := range []string{"ipmilan", "redfish", "virsh", "vmware", "sbd", "lab"} {
		t.Run("fence-"+fence, func(t *testing.T) {
			for _, name := range []string{"vprotect", "openuds"} {
				s, err := preset.Build(name, preset.Options{Fence: fence})
				if err != nil {
					t.Fatal(err)
				}
				checkClean(t, s)
			}
		})
	}
	s, err := preset.Build("osm", preset.Options{Nodes: []string{"a", "b"}, Addresses: []string{"10.1.0.1", "10.1.0.2"}, VIPs: []string{"10.1.0.9"}, Netmask: "16"})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, s)
	if s.Nodes[0].Name != "a" || s.Locations[0].Node != "a" {
		t.Errorf("node names not used: %+v %+v", s.Nodes, s.Locations)
	}
	if ip, _ := s.Primitives[0].Params.Get("ip"); ip != "10.1.0.9" {
		t.Errorf("VIP = %q", ip)
	}
	for _, bad := range []preset.Options{
		{Nodes: []string{"a"}},
		{Addresses: []string{"10.0.0.1"}},
		{VIPs: []string{"10.0.0.1", "10.0.0.2"}},
		{Fence: "telepathy"},
		{Fence: "virsh", FenceAddrs: []string{"h1", "h2"}},
	} {
		if _, err := preset.Build("osm", bad); err == nil {
			t.Errorf("Build(osm, %+v) accepted", bad)
		}
	}
	if _, err := preset.Build("nope", preset.Options{}); err == nil {
		t.Error("an unknown preset was accepted")
	}
}

// TestPresetsVerifyAndSimulate runs every preset through crm_verify and
// crm_simulate: valid, every resource placed with all nodes up, and
// everything still placed after the first node fails.
func TestPresetsVerifyAndSimulate(t *testing.T) {
	for _, tool := range []string{"crm_verify", "crm_simulate", "crm_mon"} {
		if !pcmk.Installed(tool) {
			t.Skipf("%s is not installed (apt-get install pacemaker pacemaker-cli-utils)", tool)
		}
	}
	tools := pcmk.Tools{R: pcmk.Exec{}, TempDir: t.TempDir()}
	tg, _ := cib.ParseTarget("2.1")
	for _, p := range preset.All() {
		t.Run(p.Name, func(t *testing.T) {
			s, err := preset.Build(p.Name, preset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			doc := cib.Generate(s, tg)
			res, err := cib.Verify(context.Background(), tools, s, doc)
			if err != nil || !res.Valid || res.Skipped != "" || res.Output != "" {
				t.Fatalf("crm_verify: %+v %v", res, err)
			}
			first := s.Nodes[0].Name
			sim, err := cib.Simulate(context.Background(), tools, s, doc, []string{first}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if u := sim.Initial.Unplaced(); len(u) > 0 {
				t.Errorf("not placed with every node up: %v", u)
			}
			prims := map[string]bool{}
			for _, i := range sim.Initial {
				prims[i.Resource] = true
			}
			for _, pr := range s.Primitives {
				if !prims[pr.ID] {
					t.Errorf("%s is missing from the simulation", pr.ID)
				}
			}
			for _, i := range sim.After {
				if i.Node == first {
					t.Errorf("%s still runs on the failed node %s", i.Resource, first)
				}
			}
			// After the failure only the failed node's clone instances
			// may be stopped.
			for _, i := range sim.After {
				if i.Node == "" && !strings.Contains(i.Parent, "clone") {
					t.Errorf("%s/%s is stopped after %s failed", i.Parent, i.Resource, first)
				}
			}
			if len(sim.Moves) == 0 {
				t.Error("nothing moved when the first node failed")
			}
		})
	}
}

// TestPresetsMatchGohaAgents checks every preset against the meta-data of
// the goha agents it uses: each parameter exists and none that is required
// is missing, so a preset never names a parameter an agent does not take.
func TestPresetsMatchGohaAgents(t *testing.T) {
	own := meta.Own(agents.All())
	tg, _ := cib.ParseTarget("2.1")
	for _, p := range preset.All() {
		t.Run(p.Name, func(t *testing.T) {
			s, err := preset.Build(p.Name, preset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			gohaAgents := 0
			for _, pr := range s.Primitives {
				if strings.HasPrefix(pr.Agent, "ocf:goha:") {
					gohaAgents++
					if _, ok := own[pr.Agent]; !ok {
						t.Errorf("%s uses %s, which goha does not have", pr.ID, pr.Agent)
					}
				}
			}
			if gohaAgents == 0 {
				t.Fatal("the preset uses no goha agent")
			}
			for _, f := range cib.Check(context.Background(), s, cib.CheckOptions{Target: tg, Agents: own}) {
				if f.Severity == spec.Error && !strings.Contains(f.Msg, "not installed") {
					t.Errorf("%s", f)
				}
			}
		})
	}
}
