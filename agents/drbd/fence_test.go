package drbd

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

func envOf(vars map[string]string) (func(string) string, []string) {
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	return func(k string) string { return vars[k] }, environ
}

func TestParseFenceEnv(t *testing.T) {
	getenv, environ := envOf(map[string]string{
		"DRBD_RESOURCE": "data", "DRBD_CONF": "/etc/drbd.conf", "DRBD_MY_NODE_ID": "0", "DRBD_PEER_NODE_ID": "1",
		"DRBD_NODE_ID_0": "alpha", "DRBD_NODE_ID_1": "beta", "DRBD_NODE_ID_2": "gamma", "DRBD_NODE_ID_x": "junk",
		"UP_TO_DATE_NODES": "0x00000005",
	})
	got, err := ParseFenceEnv(getenv, environ)
	if err != nil {
		t.Fatal(err)
	}
	want := FenceEnv{Resource: "data", Conf: "/etc/drbd.conf", MyNodeID: 0, PeerNodeID: 1,
		Nodes: map[int]string{0: "alpha", 1: "beta", 2: "gamma"}, UpToDate: 5, HasMask: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []map[string]string{
		{},
		{"DRBD_RESOURCE": "data", "DRBD_MY_NODE_ID": "x"},
		{"DRBD_RESOURCE": "data", "DRBD_PEER_NODE_ID": "32"},
		{"DRBD_RESOURCE": "data", "UP_TO_DATE_NODES": "5"},
		{"DRBD_RESOURCE": "data", "UP_TO_DATE_NODES": "0xzz"},
	} {
		getenv, environ := envOf(bad)
		if _, err := ParseFenceEnv(getenv, environ); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	// DRBD 8.4 passes neither node ids nor the mask.
	getenv, environ = envOf(map[string]string{"DRBD_RESOURCE": "data"})
	if e, err := ParseFenceEnv(getenv, environ); err != nil || e.MyNodeID != -1 || e.PeerNodeID != -1 || e.HasMask {
		t.Errorf("8.4 environment: %+v, %v", e, err)
	}
}

func TestDecideFence(t *testing.T) {
	env := FenceEnv{Resource: "data", MyNodeID: 0, PeerNodeID: 1, Nodes: map[int]string{0: "alpha", 1: "beta"}, UpToDate: 1, HasMask: true}
	three := FenceEnv{Resource: "data", MyNodeID: 0, PeerNodeID: 1, Nodes: map[int]string{0: "alpha", 1: "beta", 2: "gamma"}, UpToDate: 5, HasMask: true}
	tests := []struct {
		name  string
		env   FenceEnv
		up    bool
		s     Status
		exit  int
		keep  []string
		inWhy string
	}{
		{"not up", env, false, Status{}, FenceFailed, nil, "not up"},
		{"Primary UpToDate, link lost", env, true, twoNode(Primary, UpToDate, "Connecting", "Unknown", DUnknown), FencePeerFenced, []string{"alpha"}, "only alpha"},
		{"Secondary UpToDate, link lost", env, true, twoNode(Secondary, UpToDate, "Connecting", "Unknown", DUnknown), FencePeerFenced, []string{"alpha"}, "UpToDate"},
		{"Consistent", env, true, twoNode(Primary, Consistent, "Connecting", "Unknown", DUnknown), FencePeerFenced, []string{"alpha"}, "Consistent"},
		{"Outdated self", env, true, twoNode(Secondary, Outdated, "Connecting", "Unknown", DUnknown), FenceFailed, nil, "my disk is Outdated"},
		{"Inconsistent self", env, true, twoNode(Secondary, Inconsistent, "Connecting", "Unknown", DUnknown), FenceFailed, nil, "Inconsistent"},
		{"Diskless self", env, true, twoNode(Primary, Diskless, "Connecting", "Unknown", DUnknown), FenceFailed, nil, "Diskless"},
		{"peer already Outdated", env, true, twoNode(Primary, UpToDate, "Connecting", "Unknown", Outdated), FencePeerOutdated, nil, "already Outdated"},
		{"peer already Inconsistent", env, true, twoNode(Primary, UpToDate, Connected, Secondary, Inconsistent), FencePeerOutdated, nil, "already Inconsistent"},
		{"peer Diskless is not outdated data", env, true, twoNode(Primary, UpToDate, Connected, Secondary, Diskless), FencePeerFenced, []string{"alpha"}, ""},
		{"three nodes: gamma is UpToDate too", three, true, Status{Name: "data", Role: Primary,
			Devices: []Device{{DiskState: UpToDate}},
			Connections: []Connection{
				{PeerNodeID: 1, Name: "beta", ConnectionState: "Connecting", PeerDevices: []PeerDevice{{PeerDiskState: DUnknown}}},
				{PeerNodeID: 2, Name: "gamma", ConnectionState: Connected, PeerRole: Secondary, PeerDevices: []PeerDevice{{PeerDiskState: UpToDate}}}}},
			FencePeerFenced, []string{"alpha", "gamma"}, ""},
		{"DRBD 8.4: no ids, host name only", FenceEnv{Resource: "data", MyNodeID: -1, PeerNodeID: -1}, true,
			twoNode(Primary, UpToDate, "Connecting", "Unknown", DUnknown), FencePeerFenced, []string{"alpha"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecideFence(tt.env, "alpha", tt.up, tt.s)
			if d.Exit != tt.exit || d.Constrain != (tt.keep != nil) || !slices.Equal(d.Keep, tt.keep) || !strings.Contains(d.Why, tt.inWhy) {
				t.Errorf("got %+v, want exit %d keep %v why ~%q", d, tt.exit, tt.keep, tt.inWhy)
			}
		})
	}
}

// TestDecideFenceAllStates: whatever the peer looks like, a node fences
// exactly when its own data is UpToDate or Consistent and the peer's is not
// already known to be worse.
func TestDecideFenceAllStates(t *testing.T) {
	env := FenceEnv{Resource: "data", MyNodeID: 0, PeerNodeID: 1}
	for _, role := range []string{Primary, Secondary} {
		for _, disk := range allDisks {
			for _, conn := range allConns {
				for _, peerDisk := range allDisks {
					d := DecideFence(env, "alpha", true, twoNode(role, disk, conn, "Unknown", peerDisk))
					peerWorse := peerDisk == Outdated || peerDisk == Inconsistent
					var want int
					switch {
					case !goodDisks[disk]:
						want = FenceFailed
					case peerWorse:
						want = FencePeerOutdated
					default:
						want = FencePeerFenced
					}
					if d.Exit != want || d.Constrain != (want == FencePeerFenced) {
						t.Errorf("%s %s, peer %s %s: %+v, want exit %d", role, disk, conn, peerDisk, d, want)
					}
				}
			}
		}
	}
}

func TestDecideUnfence(t *testing.T) {
	tests := []struct {
		name string
		up   bool
		s    Status
		ok   bool
	}{
		{"down", false, Status{}, false},
		{"resync done", true, twoNode(Primary, UpToDate, Connected, Secondary, UpToDate), true},
		{"peer still syncing", true, twoNode(Primary, UpToDate, Connected, Secondary, Inconsistent), false},
		{"peer not connected", true, twoNode(Primary, UpToDate, "Connecting", "Unknown", DUnknown), false},
		{"single node", true, Status{Role: Primary, Devices: []Device{{DiskState: UpToDate}}}, true},
		{"self not UpToDate", true, twoNode(Secondary, Inconsistent, Connected, Primary, UpToDate), false},
	}
	for _, tt := range tests {
		if ok, why := DecideUnfence(tt.up, tt.s); ok != tt.ok {
			t.Errorf("%s: %v (%s), want %v", tt.name, ok, why, tt.ok)
		}
	}
}

func xmlOf(t *testing.T, e *etree.Element) string {
	t.Helper()
	d := etree.NewDocument()
	d.SetRoot(e)
	s, err := d.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConstraint(t *testing.T) {
	got := xmlOf(t, Constraint("data", "ms-data", "Promoted", []string{"alpha", "gamma"}))
	want := `<rsc_location id="drbd-fence-by-handler-data-ms-data" rsc="ms-data">` +
		`<rule id="drbd-fence-by-handler-data-ms-data-rule" role="Promoted" score="-INFINITY" boolean-op="and">` +
		`<expression id="drbd-fence-by-handler-data-ms-data-expr-0" attribute="#uname" operation="ne" value="alpha"/>` +
		`<expression id="drbd-fence-by-handler-data-ms-data-expr-1" attribute="#uname" operation="ne" value="gamma"/>` +
		`</rule></rsc_location>`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

const testCIB = `<cib validate-with="pacemaker-3.9" epoch="5" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes/>
    <resources>
      <clone id="ms-data">
        <meta_attributes id="ms-data-meta">
          <nvpair id="ms-data-promotable" name="promotable" value="true"/>
          <nvpair id="ms-data-notify" name="notify" value="true"/>
        </meta_attributes>
        <primitive id="data" class="ocf" provider="goha" type="drbd">
          <instance_attributes id="data-ia">
            <nvpair id="data-res" name="drbd_resource" value="data"/>
          </instance_attributes>
        </primitive>
      </clone>
      <clone id="plain-clone">
        <primitive id="other" class="ocf" provider="linbit" type="drbd">
          <instance_attributes id="other-ia">
            <nvpair id="other-res" name="drbd_resource" value="other"/>
          </instance_attributes>
        </primitive>
      </clone>
      <master id="ms-old">
        <primitive id="old" class="ocf" provider="linbit" type="drbd">
          <instance_attributes id="old-ia">
            <nvpair id="old-res" name="drbd_resource" value="old"/>
          </instance_attributes>
        </primitive>
      </master>
      <primitive id="fs" class="ocf" provider="heartbeat" type="Filesystem"/>
    </resources>
    <constraints>
      <rsc_location id="drbd-fence-by-handler-data-ms-data" rsc="ms-data"/>
      <rsc_location id="drbd-fence-by-handler-database-x" rsc="x"/>
      <rsc_location id="loc-fs" rsc="fs" node="alpha" score="100"/>
    </constraints>
  </configuration>
  <status/>
</cib>`

func parseCIB(t *testing.T, s string) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFindClone(t *testing.T) {
	cib := parseCIB(t, testCIB)
	tests := []struct {
		resource, clone, role, err string
	}{
		{"data", "ms-data", "Promoted", ""},
		{"old", "ms-old", "Promoted", ""},
		{"other", "", "Promoted", "no promotable clone"},
		{"missing", "", "Promoted", "no promotable clone"},
	}
	for _, tt := range tests {
		clone, role, err := FindClone(cib, tt.resource)
		if clone != tt.clone || role != tt.role || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %q %q %v", tt.resource, clone, role, err)
		}
	}
	two := parseCIB(t, strings.Replace(testCIB, `value="old"`, `value="data"`, 1))
	if _, _, err := FindClone(two, "data"); err == nil || !strings.Contains(err.Error(), "ms-data, ms-old") {
		t.Errorf("two clones: %v", err)
	}
	if ids := FenceConstraintIDs(cib, "data"); !slices.Equal(ids, []string{"drbd-fence-by-handler-data-ms-data"}) {
		t.Errorf("constraint ids: %v", ids)
	}
}

func TestPromotedRole(t *testing.T) {
	for in, want := range map[string]string{
		"pacemaker-3.7": "Promoted", "pacemaker-3.10": "Promoted", "pacemaker-4.0": "Promoted",
		"pacemaker-3.6": "Master", "pacemaker-2.10": "Master", "": "Master", "pacemaker-next": "Master",
	} {
		if got := promotedRole(in); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

// fakeTools is drbdTools over a fixed state and a record of commands.
type fakeTools struct {
	s        Status
	up       bool
	statErr  error
	cmds     []string
	fail     map[string]error // command -> its error
	onAdm    func(cmd string) // changes the state as DRBD would
	statHook func(*fakeTools) // runs before each Status
	calls    map[string]int   // how often each command ran
}

func (f *fakeTools) Status(context.Context) (Status, bool, error) {
	if f.statHook != nil {
		f.statHook(f)
	}
	return f.s, f.up, f.statErr
}

func (f *fakeTools) Adm(_ context.Context, cmd string) error {
	f.cmds = append(f.cmds, cmd)
	if err := f.fail[cmd]; err != nil {
		return err
	}
	if f.onAdm != nil {
		f.onAdm(cmd)
	}
	return nil
}

// fakeCIB keeps a CIB in memory.
type fakeCIB struct {
	doc      *etree.Document
	queryErr error
	ops      []string
}

func (f *fakeCIB) Query(context.Context) (*etree.Document, error) {
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	return f.doc.Copy(), nil
}

func (f *fakeCIB) Put(_ context.Context, c *etree.Element) error {
	id := c.SelectAttrValue("id", "")
	cons := f.doc.FindElement("//constraints")
	for _, old := range cons.ChildElements() {
		if old.SelectAttrValue("id", "") == id {
			cons.RemoveChild(old)
		}
	}
	cons.AddChild(c.Copy())
	f.ops = append(f.ops, "put "+id)
	return nil
}

func (f *fakeCIB) Delete(_ context.Context, id string) error {
	cons := f.doc.FindElement("//constraints")
	for _, old := range cons.ChildElements() {
		if old.SelectAttrValue("id", "") == id {
			cons.RemoveChild(old)
		}
	}
	f.ops = append(f.ops, "delete "+id)
	return nil
}

func TestHandler(t *testing.T) {
	env := FenceEnv{Resource: "data", MyNodeID: 0, PeerNodeID: 1, Nodes: map[int]string{0: "alpha", 1: "beta"}, UpToDate: 1, HasMask: true}
	empty := strings.Replace(testCIB, `<rsc_location id="drbd-fence-by-handler-data-ms-data" rsc="ms-data"/>`, "", 1)
	t.Run("fence places the constraint, twice is the same", func(t *testing.T) {
		c := &fakeCIB{doc: parseCIB(t, empty)}
		h := handler{env: env, self: "alpha", cib: c, tools: &fakeTools{up: true, s: twoNode(Primary, UpToDate, "Connecting", "Unknown", DUnknown)}}
		for range 2 {
			if code, msg := h.fence(context.Background()); code != FencePeerFenced {
				t.Fatalf("fence: %d %s", code, msg)
			}
		}
		locs := c.doc.FindElements("//rsc_location[@id='drbd-fence-by-handler-data-ms-data']")
		if len(locs) != 1 || locs[0].FindElement("rule/expression[@value='alpha']") == nil || locs[0].FindElement("rule[@role='Promoted']") == nil {
			t.Fatalf("constraints: %v", c.ops)
		}
	})
	t.Run("fence by an Outdated node places nothing", func(t *testing.T) {
		c := &fakeCIB{doc: parseCIB(t, empty)}
		h := handler{env: env, self: "alpha", cib: c, tools: &fakeTools{up: true, s: twoNode(Secondary, Outdated, "Connecting", "Unknown", DUnknown)}}
		if code, _ := h.fence(context.Background()); code != FenceFailed || len(c.ops) != 0 {
			t.Fatalf("fence: %d, %v", code, c.ops)
		}
	})
	t.Run("fence without the CIB fails", func(t *testing.T) {
		c := &fakeCIB{doc: parseCIB(t, empty), queryErr: errors.New("cib not connected")}
		h := handler{env: env, self: "alpha", cib: c, tools: &fakeTools{up: true, s: twoNode(Primary, UpToDate, "Connecting", "Unknown", DUnknown)}}
		if code, msg := h.fence(context.Background()); code != FenceFailed || !strings.Contains(msg, "cib not connected") {
			t.Fatalf("fence: %d %s", code, msg)
		}
	})
	t.Run("fence of a resource no clone manages fails", func(t *testing.T) {
		c := &fakeCIB{doc: parseCIB(t, empty)}
		e := env
		e.Resource = "other"
		h := handler{env: e, self: "alpha", cib: c, tools: &fakeTools{up: true, s: twoNode(Primary, UpToDate, "Connecting", "Unknown", DUnknown)}}
		if code, msg := h.fence(context.Background()); code != FenceFailed || !strings.Contains(msg, "no promotable clone") {
			t.Fatalf("fence: %d %s", code, msg)
		}
	})
	t.Run("unfence waits for the resync, then removes", func(t *testing.T) {
		c := &fakeCIB{doc: parseCIB(t, testCIB)}
		tools := &fakeTools{up: true, s: twoNode(Primary, UpToDate, Connected, Secondary, Inconsistent)}
		h := handler{env: env, self: "alpha", cib: c, tools: tools}
		if code, _ := h.unfence(context.Background()); code != FenceFailed || len(c.ops) != 0 {
			t.Fatalf("unfence during resync: %d %v", code, c.ops)
		}
		tools.s = twoNode(Primary, UpToDate, Connected, Secondary, UpToDate)
		if code, msg := h.unfence(context.Background()); code != 0 || !slices.Equal(c.ops, []string{"delete drbd-fence-by-handler-data-ms-data"}) {
			t.Fatalf("unfence: %d %s %v", code, msg, c.ops)
		}
		if code, msg := h.unfence(context.Background()); code != 0 || !strings.Contains(msg, "no fencing constraint") {
			t.Fatalf("second unfence: %d %s", code, msg)
		}
		if c.doc.FindElement("//rsc_location[@id='drbd-fence-by-handler-database-x']") == nil {
			t.Fatal("unfence removed another resource's constraint")
		}
	})
}

func TestRunHandlerArguments(t *testing.T) {
	var out, errb strings.Builder
	getenv, environ := envOf(map[string]string{})
	if code := runHandler([]string{FenceCommand}, getenv, environ, &out, &errb); code != FenceFailed || !strings.Contains(errb.String(), "DRBD_RESOURCE is not set") {
		t.Errorf("no environment: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := runHandler([]string{FenceCommand, "--bogus"}, getenv, environ, &out, &errb); code != FenceFailed {
		t.Errorf("bad flag: %d %s", code, errb.String())
	}
}
