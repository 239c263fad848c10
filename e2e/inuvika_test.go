package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/nsnet"
)

// The Inuvika OVD stack: one group (VIP, the data directory's sync, the web
// server, the session manager's SNAT rule) that prefers n1, may fail over
// to n2 and never runs on n3, the quorum node. An rsync daemon runs on n1
// and n2 as the receiving side of ocf:goha:sync: the group's sync ships the
// session manager's data from the active node to the other one, and
// whichever node is passive must accept it, so the receiver is a clone on
// both rather than a resource that follows the group.
const (
	inuvikaGroup     = "inuvika"
	inuvikaSync      = "sync"
	inuvikaRsyncd    = "rsyncd"
	inuvikaPreferred = "n1"
	inuvikaStandby   = "n2"
	inuvikaQuorum    = "n3"

	// Inside every node: the node's own files (a bind mount of its host
	// directory, so they survive its crashes) and a fresh runtime directory
	// for apache at each boot.
	inuvikaDir        = "/run/inuvika"
	inuvikaData       = inuvikaDir + "/data"
	inuvikaApacheConf = inuvikaDir + "/apache2.conf"
	inuvikaRsyncdConf = inuvikaDir + "/rsyncd.conf"
	inuvikaApacheRun  = "/run/apache2-inuvika"
	inuvikaModule     = "ovd"
	inuvikaModules    = "/usr/lib/apache2/modules"
	inuvikaSyncLog    = "/run/resource-agents/sync-" + inuvikaSync + ".log"

	// inuvikaFarm is the OVD server farm the SNAT rule points at: a
	// documentation network, routed nowhere in the lab.
	inuvikaFarm = "198.51.100.0/24"
	// inuvikaTable is ocf:goha:osm's table for a resource named osm.
	inuvikaTable = "goha_osm_osm"

	// Scores: n1's preference beats the group's stickiness (4 members of
	// 10 each), so the group fails back; a node whose sync daemon cannot
	// reach its peer (the attribute ocf:goha:sync publishes) is held on to
	// until the peer has caught up, so that failback never starts from a
	// stale copy.
	inuvikaPreferScore  = 100
	inuvikaStickiness   = 10
	inuvikaCatchUpScore = 500
	// inuvikaNaiveEnv, when set, builds the stack without the catch-up
	// rule and with ocf:goha:sync's default retry_max and io_timeout, so
	// that the agent alone must keep the files written while the preferred
	// node was away: its merge before the first push does.
	inuvikaNaiveEnv = "GOHA_INUVIKA_NAIVE"
)

var inuvikaMembers = []string{"vip", inuvikaSync, "apache", "osm"}

// inuvikaTimeouts are the start and stop timeouts of each agent's meta-data.
var inuvikaTimeouts = map[string][2]string{
	"vip": {"20s", "20s"}, "sync": {"120s", "30s"}, "apache": {"40s", "60s"}, "osm": {"60s", "60s"},
}

// inuvikaNeeds skips the test in -short mode and unless the lab and the
// stack's programs are installed.
func inuvikaNeeds(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the Inuvika stack scenario builds a 3-node lab (about a minute); skipped in -short mode")
	}
	labNeeds(t)
	var missing []string
	for _, p := range []string{"/usr/sbin/apache2", "/usr/bin/rsync", "/usr/lib/ocf/resource.d/heartbeat/rsyncd",
		inuvikaModules + "/mod_status.so", inuvikaModules + "/mod_mpm_event.so"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Skipf("the Inuvika stack needs %s (apache2, rsync, resource-agents)", strings.Join(missing, ", "))
	}
}

// inuvikaHook gives each node its own apache configuration and page (which
// names the node), an rsync daemon configuration, and an empty data
// directory.
func inuvikaHook() lab.NodeHook {
	return lab.NodeHookFunc(func(ctx context.Context, n lab.NodeInfo) ([]lab.Mount, error) {
		root := filepath.Join(n.Dir, "inuvika")
		for _, d := range []string{"data", "htdocs", "apache"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				return nil, fmt.Errorf("inuvika node %s: %w", n.Name, err)
			}
		}
		subnet := netip.PrefixFrom(n.Addr, 24).Masked()
		files := map[string]string{
			"apache2.conf":      inuvikaApacheConfig(n.Name),
			"htdocs/index.html": inuvikaPage(n.Name),
			"rsyncd.conf":       inuvikaRsyncdConfig(subnet),
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
				return nil, fmt.Errorf("inuvika node %s: %w", n.Name, err)
			}
		}
		return []lab.Mount{
			{Source: root, Target: inuvikaDir, Dir: true},
			{Target: inuvikaApacheRun, Tmpfs: true, Dir: true, Mode: 0o755},
		}, nil
	})
}

// inuvikaPage is the page a node's apache serves at /index.html.
func inuvikaPage(node string) string {
	return "<html><body>inuvika session manager on " + node + "</body></html>\n"
}

func inuvikaApacheConfig(node string) string {
	return fmt.Sprintf(`ServerRoot %[1]s/apache
ServerName %[2]s
Listen 80
LoadModule mpm_event_module %[3]s/mod_mpm_event.so
LoadModule authz_core_module %[3]s/mod_authz_core.so
LoadModule authz_host_module %[3]s/mod_authz_host.so
LoadModule status_module %[3]s/mod_status.so
DefaultRuntimeDir %[4]s
PidFile %[4]s/httpd.pid
ErrorLog %[1]s/apache/error.log
User www-data
Group www-data
StartServers 1
DocumentRoot %[1]s/htdocs
<Directory %[1]s/htdocs>
  Require all granted
</Directory>
<Location "/server-status">
  SetHandler server-status
  Require local
</Location>
`, inuvikaDir, node, inuvikaModules, inuvikaApacheRun)
}

func inuvikaRsyncdConfig(subnet netip.Prefix) string {
	return fmt.Sprintf(`pid file = /run/rsyncd-inuvika.pid
use chroot = no
log file = %[1]s/rsyncd.log
[%[2]s]
  path = %[3]s
  read only = no
  uid = root
  gid = root
  hosts allow = %[4]s
`, inuvikaDir, inuvikaModule, inuvikaData, subnet)
}

// inuvikaResources is the CIB of the stack: the receiver clone and the
// group. The sync resource names the other node as its peer through
// per-node instance attributes, since its parameters are the same
// wherever it runs. Unless naive, a peer that came back is retried every
// 2 s, so that it catches up soon after it returns.
func inuvikaResources(vip netip.Addr, naive bool) (clone, group string) {
	clone = fmt.Sprintf(`<clone id="%[1]s-clone">
  <primitive id="%[1]s" class="ocf" provider="heartbeat" type="rsyncd">
    <instance_attributes id="%[1]s-ia">
      <nvpair id="%[1]s-ia-conffile" name="conffile" value="%[2]s"/>
    </instance_attributes>
    <operations>
      <op id="%[1]s-monitor" name="monitor" interval="10s" timeout="20s"/>
    </operations>
  </primitive>
</clone>`, inuvikaRsyncd, inuvikaRsyncdConf)

	// Each primitive gets its agent's start and stop timeouts, as pcs
	// would copy them from the meta-data.
	prim := func(id, typ string, params [][2]string, monitor string, extra string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `  <primitive id="%s" class="ocf" provider="goha" type="%s">`+"\n", id, typ)
		fmt.Fprintf(&b, `    <instance_attributes id="%s-ia">`+"\n", id)
		for _, p := range params {
			fmt.Fprintf(&b, `      <nvpair id="%s-ia-%s" name="%s" value="%s"/>`+"\n", id, p[0], p[0], p[1])
		}
		b.WriteString("    </instance_attributes>\n")
		b.WriteString(extra)
		fmt.Fprintf(&b, `    <operations>
      <op id="%[1]s-monitor" name="monitor" interval="%[2]s" timeout="20s"/>
      <op id="%[1]s-start" name="start" interval="0s" timeout="%[3]s"/>
      <op id="%[1]s-stop" name="stop" interval="0s" timeout="%[4]s"/>
    </operations>
  </primitive>
`, id, monitor, inuvikaTimeouts[typ][0], inuvikaTimeouts[typ][1])
		return b.String()
	}
	var peers strings.Builder
	for _, p := range [][2]string{
		{inuvikaPreferred, inuvikaStandby},
		{inuvikaStandby, inuvikaPreferred},
		{inuvikaQuorum, inuvikaPreferred + " " + inuvikaStandby}, // never runs there
	} {
		fmt.Fprintf(&peers, `    <instance_attributes id="%[1]s-on-%[2]s" score="10">
      <rule id="%[1]s-on-%[2]s-rule" score="INFINITY">
        <expression id="%[1]s-on-%[2]s-expr" attribute="#uname" operation="eq" value="%[2]s"/>
      </rule>
      <nvpair id="%[1]s-on-%[2]s-peers" name="peers" value="%[3]s"/>
    </instance_attributes>
`, inuvikaSync, p[0], p[1])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<group id="%[1]s">
  <meta_attributes id="%[1]s-meta">
    <nvpair id="%[1]s-meta-stickiness" name="resource-stickiness" value="%[2]d"/>
  </meta_attributes>
`, inuvikaGroup, inuvikaStickiness)
	b.WriteString(prim("vip", "vip", [][2]string{{"ip", vip.String()}, {"cidr_netmask", "24"}, {"nic", "eth0"}}, "2s", ""))
	syncParams := [][2]string{{"directory", inuvikaData}, {"transport", "daemon"}, {"rsync_module", inuvikaModule}, {"debounce", "100"}}
	if !naive {
		syncParams = append(syncParams, [2]string{"io_timeout", "5"}, [2]string{"retry_max", "2"})
	}
	b.WriteString(prim(inuvikaSync, "sync", syncParams, "3s", peers.String()))
	b.WriteString(prim("apache", "apache", [][2]string{{"configfile", inuvikaApacheConf}}, "5s", ""))
	b.WriteString(prim("osm", "osm", [][2]string{{"farm_network", inuvikaFarm}, {"snat_address", vip.String()}}, "5s", ""))
	b.WriteString("</group>")
	return clone, b.String()
}

// inuvikaConstraints keep the stack off the quorum node, make n1 its home,
// and (unless naive) hold the group where its sync daemon reports a peer
// it cannot reach.
func inuvikaConstraints(naive bool) []string {
	c := []string{
		fmt.Sprintf(`<rsc_location id="%[1]s-avoids-%[2]s" rsc="%[1]s" node="%[2]s" score="-INFINITY"/>`, inuvikaGroup, inuvikaQuorum),
		fmt.Sprintf(`<rsc_location id="%[1]s-avoids-%[2]s" rsc="%[1]s-clone" node="%[2]s" score="-INFINITY"/>`, inuvikaRsyncd, inuvikaQuorum),
		fmt.Sprintf(`<rsc_location id="%[1]s-prefers-%[2]s" rsc="%[1]s" node="%[2]s" score="%[3]d"/>`, inuvikaGroup, inuvikaPreferred, inuvikaPreferScore),
	}
	if !naive {
		c = append(c, fmt.Sprintf(`<rsc_location id="%[1]s-until-caught-up" rsc="%[1]s">
  <rule id="%[1]s-until-caught-up-rule" score="%[2]d">
    <expression id="%[1]s-until-caught-up-expr" attribute="%[3]s-peers-down" operation="defined"/>
  </rule>
</rsc_location>`, inuvikaGroup, inuvikaCatchUpScore, inuvikaSync))
	}
	return c
}

// TestInuvika runs the Inuvika OVD stack on a 3-node lab with fencing:
// the group starts on n1 and serves apache's page on the VIP to a client;
// a file written into the data directory on n1 appears on n2; a power cut
// of n1 moves everything to n2 (page from n2, SNAT table only there, the
// file kept); files written on n2 meanwhile are on n1 once n1 is back and
// has taken the group back, and still on n2. With GOHA_INUVIKA_NAIVE set
// the stack lacks the catch-up rule and fast retries: the same checks then
// rest on ocf:goha:sync's merge at takeover alone.
func TestInuvika(t *testing.T) {
	inuvikaNeeds(t)
	l := startLab(t, lab.Config{
		Name: fmt.Sprintf("inu%d", os.Getpid()%1000000), Nodes: 3,
		OCFAgents: []string{"vip", "apache", "osm", "sync"}, Hooks: []lab.NodeHook{inuvikaHook()},
		OnlineTimeout: 2 * time.Minute,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	vip, err := l.VIP(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Client(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	web := &inuvikaWeb{ns: clientNetNS(t, l, "c1"), url: "http://" + vip.String() + "/index.html"}

	naive := os.Getenv(inuvikaNaiveEnv) != ""
	if naive {
		t.Logf("%s set: no catch-up rule, sync's default retries", inuvikaNaiveEnv)
	}
	defer func() {
		if t.Failed() {
			inuvikaDump(t, l)
		}
	}()
	begin := time.Now()
	clone, group := inuvikaResources(vip, naive)
	inuvikaCIB(t, ctx, l, "resources", clone)
	inuvikaCIB(t, ctx, l, "resources", group)
	for _, c := range inuvikaConstraints(naive) {
		inuvikaCIB(t, ctx, l, "constraints", c)
	}
	inuvikaWaitGroup(t, ctx, l, inuvikaPreferred, 2*time.Minute, "cold start")
	t.Logf("cold start: group %s on %s %s after the resources were created", inuvikaGroup, inuvikaPreferred, time.Since(begin).Round(100*time.Millisecond))

	written := map[string]string{} // data file -> content, every file the test wrote
	write := func(t *testing.T, node, name string) {
		t.Helper()
		content := fmt.Sprintf("%s written on %s at %s\n", name, node, time.Now().Format(time.RFC3339Nano))
		inuvikaWrite(t, ctx, l, node, name, content)
		written[name] = content
	}

	t.Run("serves and syncs on n1", func(t *testing.T) {
		if err := web.waitPage(ctx, inuvikaPreferred, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		inuvikaCheckSNAT(t, ctx, l, vip, inuvikaPreferred)
		write(t, inuvikaPreferred, "before-crash")
		inuvikaWaitFiles(t, ctx, l, inuvikaStandby, written, 30*time.Second)
	})
	if t.Failed() {
		return
	}

	var crashed time.Time
	var oldInit int
	t.Run("crash n1", func(t *testing.T) {
		oldInit = initPID(t, l, inuvikaPreferred)
		crashed = time.Now()
		if err := l.Crash(ctx, inuvikaPreferred); err != nil {
			t.Fatal(err)
		}
		served := make(chan time.Duration, 1)
		go func() {
			defer close(served)
			if err := web.waitPage(ctx, inuvikaStandby, 3*time.Minute); err == nil {
				served <- time.Since(crashed)
			}
		}()
		inuvikaWaitGroup(t, ctx, l, inuvikaStandby, 3*time.Minute, "failover")
		t.Logf("group %s on %s %s after the crash of %s", inuvikaGroup, inuvikaStandby, time.Since(crashed).Round(100*time.Millisecond), inuvikaPreferred)
		d, ok := <-served
		if !ok {
			t.Fatalf("the VIP did not serve %s's page after the crash of %s", inuvikaStandby, inuvikaPreferred)
		}
		t.Logf("crash of %s to the VIP serving %s's page again: %s", inuvikaPreferred, inuvikaStandby, d.Round(10*time.Millisecond))
		if !naive {
			writeStackScenario(t, "inuvika: power cut of the active node", "the VIP serves the web page from the other node (s)",
				"ocf:goha:vip, apache, osm, sync", d, "3 lab nodes (the group prefers n1, fails over to n2), token 3000 ms, fencing on (fence_goha_lab); "+
					"an HTTP GET through the VIP from a lab client every 100 ms")
		}
		// n1 may be off, or fenced and booting without its stack: it must
		// hold no SNAT table either way.
		inuvikaCheckSNAT(t, ctx, l, vip, inuvikaStandby)
		inuvikaWaitFiles(t, ctx, l, inuvikaStandby, written, time.Second)
		for i := 1; i <= 3; i++ {
			write(t, inuvikaStandby, fmt.Sprintf("during-outage-%d", i))
		}
	})
	if t.Failed() {
		return
	}

	t.Run("n1 returns and takes the stack back", func(t *testing.T) {
		waitFenced(t, ctx, l, inuvikaStandby, inuvikaPreferred, oldInit)
		t.Logf("%s fenced and rebooted %s after the crash", inuvikaPreferred, time.Since(crashed).Round(100*time.Millisecond))
		wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
		if err := l.WaitOnline(wctx); err != nil {
			wcancel()
			t.Fatal(err)
		}
		wcancel()
		online := time.Now()
		t.Logf("%s online again %s after the crash", inuvikaPreferred, online.Sub(crashed).Round(100*time.Millisecond))
		inuvikaWaitGroup(t, ctx, l, inuvikaPreferred, 3*time.Minute, "failback")
		t.Logf("group %s back on %s %s after the crash, %s after %s was online", inuvikaGroup, inuvikaPreferred,
			time.Since(crashed).Round(100*time.Millisecond), time.Since(online).Round(100*time.Millisecond), inuvikaPreferred)
		inuvikaLogSync(t, ctx, l, inuvikaStandby)
		if err := web.waitPage(ctx, inuvikaPreferred, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		inuvikaCheckSNAT(t, ctx, l, vip, inuvikaPreferred)
		// Every file, the ones written on n2 while n1 was away included,
		// is on both nodes: n1 got them before it took over, and its own
		// full sync at start deleted none of them on n2.
		inuvikaWaitFiles(t, ctx, l, inuvikaPreferred, written, 5*time.Second)
		inuvikaWaitFiles(t, ctx, l, inuvikaStandby, written, 5*time.Second)
		write(t, inuvikaPreferred, "after-failback")
		inuvikaWaitFiles(t, ctx, l, inuvikaStandby, written, 30*time.Second)
	})
}

// inuvikaCIB adds one element to a section of the CIB, on the first node
// that answers.
func inuvikaCIB(t *testing.T, ctx context.Context, l *lab.Lab, section, xml string) {
	t.Helper()
	var last error
	for _, n := range l.Nodes() {
		out, err := l.Exec(ctx, n, "cibadmin", "--create", "-o", section, "--xml-text", xml)
		if err == nil {
			return
		}
		last = fmt.Errorf("on %s: %v\n%s", n, err, out)
	}
	t.Fatalf("cibadmin --create -o %s:\n%s\n%v", section, xml, last)
}

// inuvikaWaitGroup waits until every member of the group is started on
// node, as some node that answers sees it.
func inuvikaWaitGroup(t *testing.T, ctx context.Context, l *lab.Lab, node string, timeout time.Duration, what string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "no node answered"
	for {
		for _, n := range l.Nodes() {
			cctx, c := context.WithTimeout(wctx, 10*time.Second)
			v, err := l.View(cctx, n)
			c()
			if err != nil {
				continue
			}
			var where []string
			all := true
			for _, m := range inuvikaMembers {
				where = append(where, fmt.Sprintf("%s %s on %q", m, v.Roles[m], v.Where[m]))
				if v.Roles[m] != "Started" || v.Where[m] != node {
					all = false
				}
			}
			if all {
				return
			}
			last = n + " sees " + strings.Join(where, ", ")
			break
		}
		select {
		case <-wctx.Done():
			t.Fatalf("%s: group %s not started on %s: %s", what, inuvikaGroup, node, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// inuvikaCheckSNAT checks that the SNAT rule to the farm, from the VIP,
// exists on active and on no other node that is up. A node that is off has
// no rules.
func inuvikaCheckSNAT(t *testing.T, ctx context.Context, l *lab.Lab, vip netip.Addr, active string) {
	t.Helper()
	for _, n := range l.Nodes() {
		out, err := l.Exec(ctx, n, "nft", "-j", "list", "ruleset")
		if err != nil {
			if n != active && initPID(t, l, n) == 0 {
				t.Logf("SNAT: %s is off", n)
				continue
			}
			t.Errorf("nft on %s: %v", n, err)
			continue
		}
		has, err := snatRule(out, inuvikaTable, vip)
		switch {
		case err != nil:
			t.Errorf("nft ruleset of %s: %v", n, err)
		case n == active && !has:
			t.Errorf("no SNAT rule to %s from %s on the active node %s:\n%s", inuvikaFarm, vip, n, out)
		case n != active && has:
			t.Errorf("SNAT rule on %s, which is not the active node %s", n, active)
		case has:
			t.Logf("SNAT: %s has table %s (snat to %s)", n, inuvikaTable, vip)
		default:
			t.Logf("SNAT: %s has no table %s", n, inuvikaTable)
		}
	}
}

// snatRule reports whether the output of `nft -j list ruleset` holds a
// rule in table that rewrites the source to addr.
func snatRule(out []byte, table string, addr netip.Addr) (bool, error) {
	var rs struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &rs); err != nil {
		return false, fmt.Errorf("parse nft -j: %w", err)
	}
	for _, obj := range rs.Nftables {
		raw, ok := obj["rule"]
		if !ok {
			continue
		}
		var rule struct {
			Table string            `json:"table"`
			Expr  []json.RawMessage `json:"expr"`
		}
		if err := json.Unmarshal(raw, &rule); err != nil {
			return false, fmt.Errorf("parse nft rule: %w", err)
		}
		if rule.Table != table {
			continue
		}
		for _, e := range rule.Expr {
			var x struct {
				SNAT *struct {
					Addr any `json:"addr"`
				} `json:"snat"`
			}
			if json.Unmarshal(e, &x) == nil && x.SNAT != nil && fmt.Sprint(x.SNAT.Addr) == addr.String() {
				return true, nil
			}
		}
	}
	return false, nil
}

// inuvikaWrite writes a file into the data directory of node.
func inuvikaWrite(t *testing.T, ctx context.Context, l *lab.Lab, node, name, content string) {
	t.Helper()
	cmd, err := l.Command(ctx, node, "tee", inuvikaData+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = strings.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write %s on %s: %v\n%s", name, node, err, out)
	}
}

// inuvikaWaitFiles waits until node's data directory holds every file of
// want with its content.
func inuvikaWaitFiles(t *testing.T, ctx context.Context, l *lab.Lab, node string, want map[string]string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for name, content := range want {
			out, err := l.Exec(ctx, node, "cat", inuvikaData+"/"+name)
			if err != nil || string(out) != content {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			t.Logf("%s holds all %d files", node, len(want))
			return
		}
		if time.Now().After(deadline) {
			ls, _ := l.Exec(ctx, node, "ls", "-l", inuvikaData)
			t.Fatalf("%s lacks %s after %s; it has:\n%s", node, strings.Join(missing, ", "), timeout, ls)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inuvikaWeb fetches the stack's page through the VIP from a client's
// network namespace.
type inuvikaWeb struct {
	ns, url string
}

// get fetches the page once, in-process, with a connection opened inside
// the client's namespace.
func (w *inuvikaWeb) get(ctx context.Context) (string, error) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext:       nsnet.Dialer(w.ns, 500*time.Millisecond),
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", w.url, resp.Status)
	}
	return string(body), nil
}

// waitPage waits until the VIP serves node's page.
func (w *inuvikaWeb) waitPage(ctx context.Context, node string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		page, err := w.get(ctx)
		if err == nil && page == inuvikaPage(node) {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("page %q", page)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not serve %s's page within %s: %s", w.url, node, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inuvikaLogSync logs what the sync daemon of node said about its peers
// (in the node's Pacemaker log, or in its own log without one): how the
// returning node was caught up before the group left.
func inuvikaLogSync(t *testing.T, ctx context.Context, l *lab.Lab, node string) {
	t.Helper()
	out, _ := l.Exec(ctx, node, "grep", "-h", "-s", "-e", "sync("+inuvikaSync, inuvikaSyncLog, "/var/log/pacemaker/pacemaker.log")
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "caught up") || strings.Contains(line, "stopping") || strings.Contains(line, "(1 in a row)") {
			t.Logf("%s: %s", node, line)
		}
	}
}

// inuvikaDump logs what explains a failure: the cluster's view, the sync
// daemons' logs and reports, and the peers-down attribute.
func inuvikaDump(t *testing.T, l *lab.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range []string{inuvikaPreferred, inuvikaStandby} {
		if out, err := l.Exec(ctx, n, "crm_mon", "-1", "-A", "-f"); err == nil {
			t.Logf("crm_mon on %s:\n%s", n, out)
		}
		for _, f := range []string{inuvikaSyncLog, "/run/resource-agents/sync-sync.state", inuvikaDir + "/rsyncd.log"} {
			if out, err := l.Exec(ctx, n, "tail", "-n", "40", f); err == nil {
				t.Logf("%s on %s:\n%s", f, n, out)
			}
		}
		if out, err := l.Exec(ctx, n, "ls", "-l", inuvikaData); err == nil {
			t.Logf("%s on %s:\n%s", inuvikaData, n, out)
		}
	}
}

// TestInuvikaSNATRule checks the reading of `nft -j list ruleset` on output taken
// from nft 1.0.6.
func TestInuvikaSNATRule(t *testing.T) {
	const ruleset = `{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, ` +
		`{"table": {"family": "inet", "name": "goha_osm_osm", "handle": 1}}, ` +
		`{"chain": {"family": "inet", "table": "goha_osm_osm", "name": "goha_osm_snat", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, ` +
		`{"rule": {"family": "inet", "table": "goha_osm_osm", "chain": "goha_osm_snat", "handle": 2, "expr": [` +
		`{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "198.51.100.0", "len": 24}}}}, ` +
		`{"snat": {"family": "ip", "addr": "10.213.1.200"}}]}}]}`
	vip := netip.MustParseAddr("10.213.1.200")
	for _, tc := range []struct {
		name, out, table string
		addr             netip.Addr
		want, err        bool
	}{
		{"the rule", ruleset, "goha_osm_osm", vip, true, false},
		{"another address", ruleset, "goha_osm_osm", netip.MustParseAddr("10.213.1.201"), false, false},
		{"another table", ruleset, "goha_osm_other", vip, false, false},
		{"empty ruleset", `{"nftables": [{"metainfo": {"version": "1.0.6"}}]}`, "goha_osm_osm", vip, false, false},
		{"not json", "table inet x {}", "goha_osm_osm", vip, false, true},
	} {
		got, err := snatRule([]byte(tc.out), tc.table, tc.addr)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: snatRule = %v, %v; want %v, error %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}
