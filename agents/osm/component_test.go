package osm

// Component tests: the agent binary against the real kernel's nftables,
// always inside network namespaces the test creates and deletes, so the
// host's ruleset is never read or changed. What the agent did is checked
// with nft(8), independently of the agent's own netlink code. The service
// is a sleep(1) run by start-stop-daemon(8), which answers LSB status.
// They need root, ip(8) and nft(8); without them they skip and say why.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/agenttest"

	"github.com/vishvananda/netns"

	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/internal/testbuild"
)

const (
	ssd   = "/sbin/start-stop-daemon"
	sleep = "/usr/bin/sleep"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root to create network namespaces and nftables tables")
	}
	for _, prog := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("component test: needs %s (iproute2, nftables): %v", prog, err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	agent.Remove()
	os.Exit(code)
}

// agent is the agent alone (agents/osm/internal/osmcmd), built once per run, so the
// test does not depend on the agent being registered in cmd/goha.
var agent = &testbuild.Once{Name: "osm", Pkg: "./agents/osm/internal/osmcmd"}

func agentBinary(t *testing.T) string { return agent.Path(t) }

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var nsSeq atomic.Int32

// newNamespace creates a network namespace with lo up, deleted when the
// test ends (with every nftables table in it).
func newNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("osm-%d-%d", os.Getpid(), nsSeq.Add(1))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// nft runs nft(8) in namespace ns, reading script from stdin if given.
func nft(t *testing.T, ns, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
	if script != "" {
		cmd.Stdin = strings.NewReader(script)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v\n%s\n%s", strings.Join(args, " "), err, script, out)
	}
	return string(out)
}

// ruleset is `nft -j list ruleset` in ns, reduced to what the tests check.
type nftRuleset struct {
	Tables []string // "family name"
	Chains []nftChain
	Rules  []nftRule
}

type nftChain struct {
	Family, Table, Name, Type, Hook string
	Prio                            int
}

type nftRule struct {
	Family, Table, Chain, Comment string
	Expr                          []json.RawMessage
}

func listRuleset(t *testing.T, ns string) nftRuleset {
	t.Helper()
	var doc struct {
		Nftables []struct {
			Table *struct{ Family, Name string }
			Chain *nftChain
			Rule  *nftRule
		}
	}
	out := nft(t, ns, "", "-j", "list", "ruleset")
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("nft -j list ruleset: %v\n%s", err, out)
	}
	var rs nftRuleset
	for _, o := range doc.Nftables {
		switch {
		case o.Table != nil:
			rs.Tables = append(rs.Tables, o.Table.Family+" "+o.Table.Name)
		case o.Chain != nil:
			rs.Chains = append(rs.Chains, *o.Chain)
		case o.Rule != nil:
			rs.Rules = append(rs.Rules, *o.Rule)
		}
	}
	return rs
}

func (rs nftRuleset) rulesOf(family, table string) []nftRule {
	var out []nftRule
	for _, r := range rs.Rules {
		if r.Family == family && r.Table == table {
			out = append(out, r)
		}
	}
	return out
}

func (rs nftRuleset) hasTable(family, name string) bool {
	for _, tb := range rs.Tables {
		if tb == family+" "+name {
			return true
		}
	}
	return false
}

// resource is one osm resource of a test: where it runs and its parameters.
type resource struct {
	ns, dir string
	params  []string // NAME=VALUE
}

func (res *resource) run(t *testing.T, action string, extra ...string) agenttest.Result {
	t.Helper()
	env := agenttest.Env(res.dir, "sm", append(append([]string{}, res.params...), extra...)...)
	return agenttest.Run(t, 90*time.Second, env, "ip", "netns", "exec", res.ns, agentBinary(t), action)
}

// foreignRules are another tool's tables that every test puts next to the
// agent's: a filter table and a nat table hooked where the agent's is.
const foreignRules = `
table ip other {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept comment "someone else's"
	}
}
table inet nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "lo" ip daddr 203.0.113.0/24 masquerade
	}
}
`

func addForeign(t *testing.T, ns string) string {
	t.Helper()
	nft(t, ns, foreignRules, "-f", "-")
	return foreignSnapshot(t, ns)
}

func foreignSnapshot(t *testing.T, ns string) string {
	t.Helper()
	return nft(t, ns, "", "-a", "list", "table", "ip", "other") + nft(t, ns, "", "-a", "list", "table", "inet", "nat")
}

func TestComponentRuleOnly(t *testing.T) {
	requireRoot(t)
	ns := newNamespace(t)
	foreign := addForeign(t, ns)
	res := &resource{ns: ns, dir: t.TempDir(), params: []string{
		"farm_network=10.20.0.0/20", "snat_address=192.0.2.10", "out_interface=lo"}}
	want := `ip daddr 10.20.0.0/20 oifname "lo" snat ip to 192.0.2.10 comment "goha:osm sm"`

	agenttest.Expect(t, "probe before start", res.run(t, "monitor"), 7, "")
	agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
	rs := listRuleset(t, ns)
	if !rs.hasTable("inet", "goha_osm_sm") {
		t.Fatalf("no table inet goha_osm_sm after start: %v", rs.Tables)
	}
	var chains []nftChain
	for _, c := range rs.Chains {
		if c.Table == "goha_osm_sm" {
			chains = append(chains, c)
		}
	}
	if len(chains) != 1 || chains[0] != (nftChain{"inet", "goha_osm_sm", "goha_osm_snat", "nat", "postrouting", 100}) {
		t.Fatalf("chains of the agent's table: %+v", chains)
	}
	if rules := rs.rulesOf("inet", "goha_osm_sm"); len(rules) != 1 || rules[0].Comment != "goha:osm sm" {
		t.Fatalf("rules of the agent's table: %+v", rules)
	}
	if text := nft(t, ns, "", "list", "table", "inet", "goha_osm_sm"); !strings.Contains(text, want) {
		t.Fatalf("nft shows\n%s\nwant the rule %s", text, want)
	}
	agenttest.Expect(t, "monitor", res.run(t, "monitor", recurring), 0, "")
	agenttest.Expect(t, "probe", res.run(t, "monitor"), 0, "")

	agenttest.Expect(t, "second start", res.run(t, "start"), 0, "")
	if rules := listRuleset(t, ns).rulesOf("inet", "goha_osm_sm"); len(rules) != 1 {
		t.Fatalf("rules after a second start: %+v", rules)
	}

	nft(t, ns, "", "delete", "table", "inet", "goha_osm_sm")
	agenttest.Expect(t, "monitor after the table was deleted", res.run(t, "monitor", recurring), 7, "")

	agenttest.Expect(t, "start again", res.run(t, "start"), 0, "")
	nft(t, ns, "", "flush", "chain", "inet", "goha_osm_sm", "goha_osm_snat")
	nft(t, ns, "", "add", "rule", "inet", "goha_osm_sm", "goha_osm_snat", "ip", "daddr", "10.20.0.0/20", "counter", "snat", "ip", "to", "192.0.2.99")
	r := res.run(t, "monitor", recurring)
	agenttest.Expect(t, "monitor of an edited rule", r, 1, `lacks ["oifname \"lo\"" "snat ip to 192.0.2.10"], has ["expression counter" "snat ip to 192.0.2.99"] instead`)
	agenttest.Expect(t, "start repairs the edited rule", res.run(t, "start"), 0, "")
	if text := nft(t, ns, "", "list", "table", "inet", "goha_osm_sm"); !strings.Contains(text, want) || strings.Contains(text, "192.0.2.99") {
		t.Fatalf("after start over an edited table nft shows\n%s", text)
	}
	agenttest.Expect(t, "monitor after repair", res.run(t, "monitor", recurring), 0, "")

	agenttest.Expect(t, "stop", res.run(t, "stop"), 0, "")
	if rs := listRuleset(t, ns); rs.hasTable("inet", "goha_osm_sm") || len(rs.Tables) != 2 {
		t.Fatalf("tables after stop: %v, want the two foreign ones only", rs.Tables)
	}
	if after := foreignSnapshot(t, ns); after != foreign {
		t.Fatalf("foreign tables changed:\nbefore\n%s\nafter\n%s", foreign, after)
	}
	agenttest.Expect(t, "second stop", res.run(t, "stop"), 0, "")
	agenttest.Expect(t, "monitor after stop", res.run(t, "monitor", recurring), 7, "")
	agenttest.Expect(t, "probe after stop", res.run(t, "monitor"), 7, "")
}

func TestComponentIPv6(t *testing.T) {
	requireRoot(t)
	ns := newNamespace(t)
	res := &resource{ns: ns, dir: t.TempDir(), params: []string{
		"farm_network=fd00:20::/52", "snat_address=fd00:1::10", "table=ovd_snat"}}
	agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
	want := `ip6 daddr fd00:20::/52 snat ip6 to fd00:1::10 comment "goha:osm sm"`
	if text := nft(t, ns, "", "list", "table", "inet", "ovd_snat"); !strings.Contains(text, want) {
		t.Fatalf("nft shows\n%s\nwant the rule %s", text, want)
	}
	agenttest.Expect(t, "monitor", res.run(t, "monitor", recurring), 0, "")
	agenttest.Expect(t, "monitor with another address", res.run(t, "monitor", recurring, "snat_address=fd00:1::11"), 1,
		`lacks ["snat ip6 to fd00:1::11"], has ["snat ip6 to fd00:1::10"] instead`)
	agenttest.Expect(t, "stop", res.run(t, "stop"), 0, "")
	if rs := listRuleset(t, ns); len(rs.Tables) != 0 {
		t.Fatalf("tables after stop: %v", rs.Tables)
	}
}

func TestComponentForeignTableOfTheName(t *testing.T) {
	requireRoot(t)
	ns := newNamespace(t)
	addForeign(t, ns)
	// table=nat names the other tool's table: the agent must refuse it.
	res := &resource{ns: ns, dir: t.TempDir(), params: []string{
		"farm_network=10.20.0.0/16", "snat_address=192.0.2.10", "table=nat"}}
	before := foreignSnapshot(t, ns)
	agenttest.Expect(t, "probe", res.run(t, "monitor"), 7, "")
	agenttest.Expect(t, "start", res.run(t, "start"), 6, "parameter table: table inet nat exists and was not made by this agent")
	agenttest.Expect(t, "stop", res.run(t, "stop"), 0, "left alone")
	if after := foreignSnapshot(t, ns); after != before {
		t.Fatalf("foreign tables changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// daemon is the test's service: sleep(1) kept by start-stop-daemon in a
// pid file.
type daemon struct{ pidFile string }

func (d daemon) params() []string {
	match := "--pidfile " + d.pidFile + " --exec " + sleep
	return []string{
		"start_command=" + ssd + " --start --background --make-pidfile " + match + " -- 3600",
		"stop_command=" + ssd + " --stop --oknodo --retry TERM/5/KILL/5 --remove-pidfile " + match,
		"status_command=" + ssd + " --status " + match,
	}
}

func (d daemon) pid(t *testing.T) int {
	t.Helper()
	pid, err := proc.ReadPidFile(d.pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if pid > 0 && !proc.Alive(pid) {
		return 0
	}
	return pid
}

// kill ends, by pid, a sleep the agent left behind.
func (d daemon) kill(t *testing.T) {
	if pid, _ := proc.ReadPidFile(d.pidFile); pid > 0 && proc.Alive(pid) {
		t.Errorf("the service (pid %d) was left running; killing it", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func requireStartStopDaemon(t *testing.T) {
	t.Helper()
	for _, prog := range []string{ssd, sleep} {
		if _, err := os.Stat(prog); err != nil {
			t.Skipf("component test: needs %s (dpkg, coreutils): %v", prog, err)
		}
	}
}

func TestComponentService(t *testing.T) {
	requireRoot(t)
	requireStartStopDaemon(t)
	ns := newNamespace(t)
	dir := t.TempDir()
	d := daemon{pidFile: filepath.Join(dir, "ovd.pid")}
	t.Cleanup(func() { d.kill(t) })
	res := &resource{ns: ns, dir: dir, params: append([]string{
		"farm_network=10.20.0.0/16", "snat_address=192.0.2.10"}, d.params()...)}

	agenttest.Expect(t, "probe before start", res.run(t, "monitor"), 7, "")
	agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
	pid := d.pid(t)
	if pid == 0 || !listRuleset(t, ns).hasTable("inet", "goha_osm_sm") {
		t.Fatalf("after start: service pid %d, tables %v", pid, listRuleset(t, ns).Tables)
	}
	agenttest.Expect(t, "monitor", res.run(t, "monitor", recurring), 0, "")
	agenttest.Expect(t, "second start", res.run(t, "start"), 0, "already runs")
	if again := d.pid(t); again != pid {
		t.Fatalf("second start changed the service: pid %d, was %d", again, pid)
	}

	nft(t, ns, "", "delete", "table", "inet", "goha_osm_sm")
	agenttest.Expect(t, "monitor after the table was deleted", res.run(t, "monitor", recurring), 1,
		"the service runs but the SNAT table goha_osm_sm is missing")
	agenttest.Expect(t, "start puts the table back", res.run(t, "start"), 0, "")
	agenttest.Expect(t, "monitor", res.run(t, "monitor", recurring), 0, "")

	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
	agenttest.Expect(t, "monitor after the service was killed", res.run(t, "monitor", recurring), 1,
		"the service is stopped while its SNAT rule is in place (status_command exited with 1")

	agenttest.Expect(t, "start after the kill", res.run(t, "start"), 0, "")
	pid = d.pid(t)
	agenttest.Expect(t, "stop", res.run(t, "stop"), 0, "")
	if proc.Alive(pid) || listRuleset(t, ns).hasTable("inet", "goha_osm_sm") {
		t.Fatalf("after stop: service pid %d alive %v, tables %v", pid, proc.Alive(pid), listRuleset(t, ns).Tables)
	}
	agenttest.Expect(t, "monitor after stop", res.run(t, "monitor", recurring), 7, "")
	agenttest.Expect(t, "second stop", res.run(t, "stop"), 0, "")

	r := res.run(t, "start", "start_command=/nonexistent/ovd start")
	agenttest.Expect(t, "start with a missing program", r, 5, "parameter start_command: program /nonexistent/ovd not found")
	r = res.run(t, "start", "start_command="+ssd+" --start --pidfile "+d.pidFile+" --startas /bin/false --exec "+sleep)
	agenttest.Expect(t, "start whose command fails", r, 1, "start_command exited with")
	agenttest.Expect(t, "stop after a failed start", res.run(t, "stop"), 0, "")
	if rs := listRuleset(t, ns); len(rs.Tables) != 0 {
		t.Fatalf("tables after stop: %v", rs.Tables)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !proc.Alive(pid) {
			return
		}
	}
	t.Fatalf("pid %d did not go away", pid)
}

// inNamespace runs fn on a thread that has joined namespace ns; sockets
// fn opens stay in ns.
func inNamespace(t *testing.T, ns string, fn func() error) error {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("cannot return to the test's network namespace: %v", err))
		}
	}()
	return fn()
}

// TestComponentSNAT proves the rule does its job: a node and a farm
// server joined by a veth; the server sees connections from the node's
// own address before start and after stop, from the VIP in between.
func TestComponentSNAT(t *testing.T) {
	requireRoot(t)
	node, farm := newNamespace(t), newNamespace(t)
	id := fmt.Sprintf("osm%d%d", os.Getpid()%100000, nsSeq.Add(1))
	run(t, "ip", "link", "add", id+"a", "netns", node, "type", "veth", "peer", "name", id+"b", "netns", farm)
	run(t, "ip", "-n", node, "link", "set", id+"a", "up")
	run(t, "ip", "-n", farm, "link", "set", id+"b", "up")
	run(t, "ip", "-n", node, "addr", "add", "198.51.100.1/24", "dev", id+"a")
	run(t, "ip", "-n", node, "addr", "add", "198.51.100.10/24", "dev", id+"a") // the VIP, secondary
	run(t, "ip", "-n", farm, "addr", "add", "198.51.100.2/24", "dev", id+"b")

	var ln net.Listener
	if err := inNamespace(t, farm, func() (err error) { ln, err = net.Listen("tcp", "198.51.100.2:0"); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sources := make(chan string, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			c.Close()
			sources <- host
		}
	}()
	source := func() string {
		t.Helper()
		err := inNamespace(t, node, func() error {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err != nil {
			t.Fatalf("connect to the farm: %v", err)
		}
		select {
		case s := <-sources:
			return s
		case <-time.After(5 * time.Second):
			t.Fatal("the farm server saw no connection")
		}
		return ""
	}

	res := &resource{ns: node, dir: t.TempDir(), params: []string{
		"farm_network=198.51.100.0/24", "snat_address=198.51.100.10", "out_interface=" + id + "a"}}
	if s := source(); s != "198.51.100.1" {
		t.Fatalf("before start the farm sees %s, want the node's own 198.51.100.1", s)
	}
	agenttest.Expect(t, "start", res.run(t, "start"), 0, "")
	if s := source(); s != "198.51.100.10" {
		t.Fatalf("after start the farm sees %s, want the VIP 198.51.100.10", s)
	}
	agenttest.Expect(t, "stop", res.run(t, "stop"), 0, "")
	if s := source(); s != "198.51.100.1" {
		t.Fatalf("after stop the farm sees %s, want the node's own 198.51.100.1", s)
	}
}

func TestComponentOCFTester(t *testing.T) {
	requireRoot(t)
	requireStartStopDaemon(t)
	tester, err := exec.LookPath("ocf-tester")
	if err != nil {
		t.Skip("component test: needs ocf-tester (resource-agents)")
	}
	for _, tc := range []struct {
		name    string
		service bool
	}{{"rule-only", false}, {"with-service", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			before := addForeign(t, ns)
			dir := t.TempDir()
			params := []string{"farm_network=10.20.0.0/16", "snat_address=192.0.2.10"}
			d := daemon{pidFile: filepath.Join(dir, "ovd.pid")}
			if tc.service {
				t.Cleanup(func() { d.kill(t) })
				params = append(params, d.params()...)
			}
			args := []string{"netns", "exec", ns, "env", "HA_RSCTMP=" + dir, tester, "-n", "sm"}
			for _, p := range params {
				args = append(args, "-o", p)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "ip", append(args, agentBinary(t))...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Errorf("ocf-tester: %v\n%s", err, out)
			}
			if rs := listRuleset(t, ns); len(rs.Tables) != 2 {
				t.Errorf("tables after ocf-tester: %v, want the two foreign ones only", rs.Tables)
			}
			if after := foreignSnapshot(t, ns); after != before {
				t.Errorf("foreign tables changed:\nbefore\n%s\nafter\n%s", before, after)
			}
			if pid := d.pid(t); tc.service && pid != 0 {
				t.Errorf("ocf-tester left the service running: pid %s", strconv.Itoa(pid))
			}
		})
	}
}
