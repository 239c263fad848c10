package drbd

// Component test: the agent binary, as Pacemaker runs it, against a
// SIMULATOR of drbd-utils, not real DRBD: the DRBD kernel module cannot be
// loaded on the machines these tests run on. internal/drbdsim is that
// simulator (drbdadm, drbdsetup and a fake cibadmin in one program, state
// kept in a directory across calls, drbd-utils' output formats and exit
// codes); the test injects the peer's side through drbdsim.Update. Node
// attributes go to internal/fakecrm's crm_attribute. ocf-tester runs
// against the agent over the simulator.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goha-ha/goha/agents/drbd/internal/drbdsim"
	"github.com/goha-ha/goha/internal/agenttest"
	"github.com/goha-ha/goha/internal/fakecrm"
	"github.com/goha-ha/goha/internal/testbuild"
)

var (
	buildOnce          sync.Once
	agentPath, simPath string
	buildErr           error
	buildDir           string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries builds the agent alone (internal/drbdcmd) and the simulator
// once per run.
func binaries(t *testing.T) (agent, sim string) {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "goha-drbd-"); buildErr != nil {
			return
		}
		// ocf-tester runs meta-data as nobody.
		if buildErr = os.Chmod(buildDir, 0o755); buildErr != nil {
			return
		}
		if agentPath, buildErr = testbuild.Main(buildDir, "drbd", "./agents/drbd/internal/drbdcmd"); buildErr != nil {
			return
		}
		simPath, buildErr = testbuild.Main(buildDir, "drbdsim", "./agents/drbd/internal/drbdsim/drbdsimcmd")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return agentPath, simPath
}

// lab is one test's simulated node "alpha" with its peer "beta".
type lab struct {
	t         *testing.T
	dir, conf string
	state     string // the simulator's state directory
	path      string // PATH for the agent: simulator, fake crm_attribute, system
	attrs     *fakecrm.Store
	agent     string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root (ocf-tester runs meta-data as nobody)")
	}
	agent, sim := binaries(t)
	dir, err := os.MkdirTemp("", "goha-drbd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, dir: dir, conf: filepath.Join(dir, "drbd.conf"), state: filepath.Join(dir, "sim"), agent: agent}
	bin := filepath.Join(dir, "simbin")
	for _, d := range []string{l.state, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"drbdadm", "drbdsetup", "cibadmin"} {
		if err := os.Symlink(sim, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(l.conf, []byte("# the simulator reads its resources from "+l.state+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l.attrs, err = fakecrm.Install(filepath.Join(dir, "crm")); err != nil {
		t.Fatal(err)
	}
	l.path = bin + ":" + l.attrs.BinDir + ":/usr/sbin:/usr/bin:/sbin:/bin"
	l.define(drbdsim.Resource{Name: "r0", NodeID: 0, Minor: 0, Disk: "UpToDate",
		Peers: []drbdsim.Peer{{Name: "beta", NodeID: 1, Up: true, Link: true, Role: "Secondary", Disk: "UpToDate"}}})
	return l
}

func (l *lab) define(r drbdsim.Resource) {
	l.t.Helper()
	if err := drbdsim.Define(l.state, r); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) update(name string, change func(*drbdsim.Resource)) {
	l.t.Helper()
	if err := drbdsim.Update(l.state, name, change); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) sim(name string) drbdsim.Resource {
	l.t.Helper()
	r, err := drbdsim.Load(l.state, name)
	if err != nil {
		l.t.Fatal(err)
	}
	return r
}

func (l *lab) score() string {
	l.t.Helper()
	v, _, err := l.attrs.Get("alpha", "master-r0")
	if err != nil {
		l.t.Fatal(err)
	}
	return v
}

// environ is the agent's environment: agenttest.Env for resource r0:0 on
// alpha, with the simulator first on PATH and its state directory; extra
// DRBD_* and UP_TO_DATE_NODES entries (a handler's environment) pass as
// they are, other NAME=VALUE entries come last as OCF_RESKEY_NAME.
func (l *lab) environ(extra ...string) []string {
	params := []string{"CRM_meta_on_node=alpha", "CRM_meta_timeout=20000", "drbd_resource=r0", "drbdconf=" + l.conf, "wfc_timeout=1"}
	raw := []string{"PATH=" + l.path, drbdsim.EnvDir + "=" + l.state}
	for _, e := range extra {
		if strings.HasPrefix(e, "DRBD_") || strings.HasPrefix(e, "UP_TO") {
			raw = append(raw, e)
		} else {
			params = append(params, e)
		}
	}
	return append(agenttest.Env(l.dir, "r0:0", params...), raw...)
}

func (l *lab) run(action string, extra ...string) agenttest.Result {
	l.t.Helper()
	return agenttest.Run(l.t, 60*time.Second, l.environ(extra...), l.agent, action)
}

func TestComponentLifecycle(t *testing.T) {
	l := newLab(t)
	agenttest.Expect(t, "validate-all", l.run("validate-all"), 0, "")
	agenttest.Expect(t, "validate-all of an undefined resource", l.run("validate-all", "drbd_resource=r9"), 2, "'r9' not defined in your config")
	agenttest.Expect(t, "validate-all without the config file", l.run("validate-all", "drbdconf=/nonexistent/drbd.conf"), 5, "parameter drbdconf")
	agenttest.Expect(t, "validate-all without drbdadm", l.run("validate-all", "drbdadm=/nonexistent/drbdadm"), 5, "parameter drbdadm")

	agenttest.Expect(t, "probe before start", l.run("monitor"), 7, "")
	agenttest.Expect(t, "start", l.run("start"), 0, "")
	if r := l.sim("r0"); !r.Up || r.Role != "Secondary" {
		t.Fatalf("after start the simulator has %+v", r)
	}
	if s := l.score(); s != "10000" {
		t.Fatalf("score after start: %q\n%s", s, l.attrs.Calls())
	}
	agenttest.Expect(t, "monitor", l.run("monitor", recurring), 0, "")
	agenttest.Expect(t, "second start", l.run("start"), 0, "")
	agenttest.Expect(t, "promote", l.run("promote"), 0, "")
	if r := l.sim("r0"); r.Role != "Primary" {
		t.Fatalf("after promote the simulator has %+v", r)
	}
	agenttest.Expect(t, "monitor of the Primary", l.run("monitor", recurring), 8, "")
	agenttest.Expect(t, "probe of the Primary", l.run("monitor"), 8, "")
	agenttest.Expect(t, "demote", l.run("demote"), 0, "")
	if r := l.sim("r0"); r.Role != "Secondary" {
		t.Fatalf("after demote the simulator has %+v", r)
	}
	agenttest.Expect(t, "stop", l.run("stop"), 0, "")
	if r := l.sim("r0"); r.Up {
		t.Fatalf("after stop the simulator has %+v", r)
	}
	if s := l.score(); s != "" {
		t.Fatalf("score after stop: %q", s)
	}
	agenttest.Expect(t, "monitor after stop", l.run("monitor", recurring), 7, "")
	agenttest.Expect(t, "second stop", l.run("stop"), 0, "")

	// A Primary whose device is held open cannot be stopped: stop must
	// say so rather than report a stop that did not happen.
	agenttest.Expect(t, "start", l.run("start"), 0, "")
	agenttest.Expect(t, "promote", l.run("promote"), 0, "")
	l.update("r0", func(r *drbdsim.Resource) { r.InUse = true })
	agenttest.Expect(t, "stop of a Primary in use", l.run("stop", "OCF_RESKEY_CRM_meta_timeout=5000"), 1, "(-12) Device is held open by someone")
	if r := l.sim("r0"); !r.Up || r.Role != "Primary" {
		t.Fatalf("failed stop changed the simulator: %+v", r)
	}
	l.update("r0", func(r *drbdsim.Resource) { r.InUse = false })
	agenttest.Expect(t, "stop", l.run("stop"), 0, "")
}

func TestComponentPeerStates(t *testing.T) {
	l := newLab(t)
	agenttest.Expect(t, "start", l.run("start"), 0, "")

	// The peer becomes Primary: no score here, and promote is refused
	// without asking DRBD.
	l.update("r0", func(r *drbdsim.Resource) { r.Peers[0].Role = "Primary" })
	agenttest.Expect(t, "post-promote notification of beta", l.run("notify", "OCF_RESKEY_CRM_meta_notify_type=post",
		"OCF_RESKEY_CRM_meta_notify_operation=promote", "OCF_RESKEY_CRM_meta_notify_promote_uname=beta"), 0, "")
	if s := l.score(); s != "" {
		t.Fatalf("score while beta is Primary: %q", s)
	}
	agenttest.Expect(t, "promote while beta is Primary", l.run("promote", "OCF_RESKEY_CRM_meta_timeout=3000"), 1, "peer beta is Primary")
	if r := l.sim("r0"); r.Role != "Secondary" {
		t.Fatalf("promote changed the role: %+v", r)
	}
	if strings.Contains(drbdsim.Calls(l.state), "primary r0") {
		t.Fatalf("drbdadm primary ran while beta is Primary:\n%s", drbdsim.Calls(l.state))
	}
	l.update("r0", func(r *drbdsim.Resource) { r.Peers[0].Role = "Secondary" })
	agenttest.Expect(t, "post-demote notification of beta", l.run("notify", "OCF_RESKEY_CRM_meta_notify_type=post",
		"OCF_RESKEY_CRM_meta_notify_operation=demote", "OCF_RESKEY_CRM_meta_notify_demote_uname=beta"), 0, "")
	if s := l.score(); s != "10000" {
		t.Fatalf("score after beta's demote: %q", s)
	}

	// The replication link is lost: still UpToDate, but beta's disk is
	// unknown.
	l.update("r0", func(r *drbdsim.Resource) { r.Peers[0].Link = false })
	agenttest.Expect(t, "monitor after link loss", l.run("monitor", recurring), 0, "")
	if s := l.score(); s != "1000" {
		t.Fatalf("score after link loss: %q", s)
	}
	agenttest.Expect(t, "stop", l.run("stop"), 0, "")

	// Outdated local data is never promoted, whatever the peer.
	l.update("r0", func(r *drbdsim.Resource) { r.Disk = "Outdated" })
	agenttest.Expect(t, "start Outdated", l.run("start"), 0, "")
	if s := l.score(); s != "" {
		t.Fatalf("score of Outdated data: %q", s)
	}
	agenttest.Expect(t, "promote Outdated", l.run("promote"), 1, "disk is Outdated")
	agenttest.Expect(t, "stop", l.run("stop"), 0, "")

	// Consistent data without a reachable peer: DRBD itself refuses with
	// exit 17, and promote gives up at once.
	l.update("r0", func(r *drbdsim.Resource) { r.Disk = "Consistent" })
	agenttest.Expect(t, "start Consistent", l.run("start"), 0, "")
	if s := l.score(); s != "0" {
		t.Fatalf("score of Consistent data: %q", s)
	}
	began := time.Now()
	agenttest.Expect(t, "promote Consistent", l.run("promote"), 1, "(-2) Need access to UpToDate data")
	if time.Since(began) > 10*time.Second {
		t.Errorf("promote retried after exit 17 for %s", time.Since(began))
	}

	// The link comes back: the simulator resyncs from beta, and the score
	// follows on the next monitor.
	l.update("r0", func(r *drbdsim.Resource) { r.Peers[0].Link = true })
	agenttest.Expect(t, "monitor after resync", l.run("monitor", recurring), 0, "")
	if s := l.score(); s != "10000" {
		t.Fatalf("score after resync: %q", s)
	}

	// stop_outdates_secondary: stopping while beta is Primary marks the
	// data Outdated in the (simulated) meta-data.
	l.update("r0", func(r *drbdsim.Resource) { r.Peers[0].Role = "Primary" })
	agenttest.Expect(t, "stop with beta Primary", l.run("stop", "stop_outdates_secondary=true", "OCF_RESKEY_CRM_meta_notify_master_uname=beta"), 0, "")
	if r := l.sim("r0"); r.Up || r.Disk != "Outdated" {
		t.Fatalf("stop_outdates_secondary left %+v", r)
	}
}

// componentCIB is a two-node cluster with the clone, as the fake cibadmin
// keeps it. Its status gives beta the higher promotion score (beta cannot
// see alpha's disk either, but believes its own UpToDate), so only the
// fencing constraint keeps Pacemaker from promoting beta's stale data.
const componentCIB = `<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="1" uname="alpha"/>
      <node id="2" uname="beta"/>
    </nodes>
    <resources>
      <clone id="ms-r0">
        <meta_attributes id="ms-r0-meta">
          <nvpair id="ms-r0-promotable" name="promotable" value="true"/>
          <nvpair id="ms-r0-notify" name="notify" value="true"/>
        </meta_attributes>
        <primitive id="r0" class="ocf" provider="goha" type="drbd">
          <instance_attributes id="r0-ia">
            <nvpair id="r0-res" name="drbd_resource" value="r0"/>
          </instance_attributes>
        </primitive>
      </clone>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="alpha" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="1">
        <instance_attributes id="status-1">
          <nvpair id="status-1-master-r0" name="master-r0" value="1000"/>
        </instance_attributes>
      </transient_attributes>
    </node_state>
    <node_state id="2" uname="beta" in_ccm="true" crmd="online" join="member" expected="member">
      <transient_attributes id="2">
        <instance_attributes id="status-2">
          <nvpair id="status-2-master-r0" name="master-r0" value="10000"/>
        </instance_attributes>
      </transient_attributes>
    </node_state>
  </status>
</cib>
`

// promotedBy asks Pacemaker's scheduler (crm_simulate, offline on the
// fake cibadmin's CIB) which node it would promote, after crm_verify has
// accepted the CIB; "" when the tools are not installed.
func (l *lab) promotedBy(t *testing.T) string {
	t.Helper()
	verify, err1 := exec.LookPath("crm_verify")
	simulate, err2 := exec.LookPath("crm_simulate")
	if err1 != nil || err2 != nil {
		t.Log("crm_verify or crm_simulate (pacemaker-cli-utils) not installed: not checking what Pacemaker makes of the CIB")
		return ""
	}
	cib := filepath.Join(l.state, "cib.xml")
	if out, err := exec.Command(verify, "-x", cib).CombinedOutput(); err != nil {
		t.Fatalf("crm_verify rejects the CIB: %v\n%s", err, out)
	}
	out, err := exec.Command(simulate, "-x", cib, "-s").CombinedOutput()
	if err != nil {
		t.Fatalf("crm_simulate: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Promote +r0:\d +\( *Stopped -> Promoted (\w+) *\)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("crm_simulate promotes nothing:\n%s", out)
	}
	t.Logf("crm_simulate: Pacemaker would promote %s", m[1])
	return m[1]
}

func TestComponentFencePeer(t *testing.T) {
	l := newLab(t)
	if err := drbdsim.SetCIB(l.state, componentCIB); err != nil {
		t.Fatal(err)
	}
	handler := func(command string) agenttest.Result {
		return agenttest.Run(t, 60*time.Second, l.environ("DRBD_RESOURCE=r0", "DRBD_CONF="+l.conf, "DRBD_MY_NODE_ID=0", "DRBD_PEER_NODE_ID=1",
			"DRBD_NODE_ID_0=alpha", "DRBD_NODE_ID_1=beta", "UP_TO_DATE_NODES=0x00000001"), l.agent, command, "--node", "alpha")
	}
	constraint := func() string {
		t.Helper()
		cib, err := drbdsim.CIB(l.state)
		if err != nil {
			t.Fatal(err)
		}
		c := cib.FindElement("//constraints/rsc_location")
		if c == nil {
			return ""
		}
		d := cib.Copy()
		d.SetRoot(c.Copy())
		s, _ := d.WriteToString()
		return s
	}

	agenttest.Expect(t, "start", l.run("start"), 0, "")
	agenttest.Expect(t, "promote", l.run("promote"), 0, "")
	l.update("r0", func(r *drbdsim.Resource) { r.Peers[0].Link = false })
	agenttest.Expect(t, "fence-peer after link loss", handler(FenceCommand), FencePeerFenced, "placed constraint drbd-fence-by-handler-r0-ms-r0")
	c := constraint()
	for _, want := range []string{`rsc="ms-r0"`, `role="Promoted"`, `score="-INFINITY"`, `attribute="#uname" operation="ne" value="alpha"`} {
		if !strings.Contains(c, want) {
			t.Fatalf("constraint lacks %s:\n%s", want, c)
		}
	}
	if got := l.promotedBy(t); got != "" && got != "alpha" {
		t.Fatalf("with the constraint Pacemaker would promote %s, not alpha", got)
	}
	agenttest.Expect(t, "fence-peer again", handler(FenceCommand), FencePeerFenced, "")
	if again := constraint(); again != c {
		t.Fatalf("second fence-peer changed the constraint:\n%s\n%s", c, again)
	}

	agenttest.Expect(t, "unfence-peer while beta is unreachable", handler(UnfenceCommand), FenceFailed, "peer beta is Connecting")
	// beta comes back Outdated, the resync has not run yet.
	l.update("r0", func(r *drbdsim.Resource) { r.Peers[0].Link, r.Peers[0].Disk, r.SyncPaused = true, "Outdated", true })
	agenttest.Expect(t, "unfence-peer before the resync", handler(UnfenceCommand), FenceFailed, "not UpToDate")
	if constraint() == "" {
		t.Fatal("unfence-peer removed the constraint before the resync")
	}
	l.update("r0", func(r *drbdsim.Resource) { r.SyncPaused = false })
	agenttest.Expect(t, "unfence-peer after the resync", handler(UnfenceCommand), 0, "removed drbd-fence-by-handler-r0-ms-r0")
	if c := constraint(); c != "" {
		t.Fatalf("constraint left after unfence:\n%s", c)
	}
	if got := l.promotedBy(t); got != "" && got != "beta" {
		t.Fatalf("without the constraint Pacemaker would promote %s, not beta (the higher score)", got)
	}
	agenttest.Expect(t, "unfence-peer again", handler(UnfenceCommand), 0, "no fencing constraint")

	// An Outdated node that loses its link places nothing.
	agenttest.Expect(t, "demote", l.run("demote"), 0, "")
	agenttest.Expect(t, "stop", l.run("stop"), 0, "")
	l.update("r0", func(r *drbdsim.Resource) { r.Disk, r.Peers[0].Link = "Outdated", false })
	agenttest.Expect(t, "start Outdated", l.run("start"), 0, "")
	agenttest.Expect(t, "fence-peer from Outdated data", handler(FenceCommand), FenceFailed, "my disk is Outdated")
	if c := constraint(); c != "" {
		t.Fatalf("an Outdated node placed:\n%s", c)
	}
	agenttest.Expect(t, "stop", l.run("stop"), 0, "")
	if !strings.Contains(drbdsim.Calls(l.state), "cibadmin --modify --allow-create -o constraints") {
		t.Fatalf("the handler did not go through cibadmin:\n%s", drbdsim.Calls(l.state))
	}
}

func TestComponentOCFTester(t *testing.T) {
	l := newLab(t)
	tester, err := exec.LookPath("ocf-tester")
	if err != nil {
		t.Skip("component test: ocf-tester (resource-agents) is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tester, "-n", "r0", "-o", "drbd_resource=r0", "-o", "drbdconf="+l.conf, l.agent)
	cmd.Env = []string{"PATH=" + l.path, "OCF_ROOT=/usr/lib/ocf", "HA_RSCTMP=" + l.dir, drbdsim.EnvDir + "=" + l.state,
		"OCF_RESKEY_CRM_meta_on_node=alpha"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester: %v\n%s", err, out)
	}
	t.Logf("ocf-tester:\n%s", out)
	if r := l.sim("r0"); r.Up {
		t.Errorf("ocf-tester left the resource up: %+v", r)
	}
	for _, want := range []string{"drbdadm -c " + l.conf + " primary r0", "drbdadm -c " + l.conf + " secondary r0", "drbdadm -c " + l.conf + " down r0"} {
		if !strings.Contains(drbdsim.Calls(l.state), want) {
			t.Errorf("ocf-tester's run never called %q", want)
		}
	}
}
