package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/goha-ha/goha/internal/bench"
	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/labmariadb"
	"github.com/goha-ha/goha/internal/nsnet"
)

// The OpenUDS front: two HAProxy servers (a clone of ocf:goha:haproxy on n1
// and n2) behind a floating address (ocf:goha:vip, placed only where haproxy
// runs), with the seed's frontends: the UDS broker over http on 80 and over
// https on 443 (a self-signed certificate made by the test), the tunnel
// servers on 1443 and 10443, and the Galera nodes on 3306. Galera runs as
// ocf:goha:galera on n1, n2 and n3, and HAProxy checks each node through
// `goha galera-health` on port 9200, so a node that is not Synced leaves the
// pool. As in the guide, every haproxy binds the VIP itself with
// net.ipv4.ip_nonlocal_bind=1, so the passive one is ready the moment the
// address arrives.
//
// The broker and the tunnel servers are the test's own small servers in a
// lab client namespace ("uds"), standing for the separate machines the
// guide runs them on: they stay up throughout, so every failure a client
// sees comes from the front.
const (
	openudsDir        = "/run/openuds" // a bind mount of the test's directory in every node
	openudsCfg        = openudsDir + "/haproxy.cfg"
	openudsPEM        = openudsDir + "/uds.pem"
	openudsLB         = "lb"
	openudsLBClone    = openudsLB + "-clone"
	openudsVIP        = "vip"
	openudsHealth     = "galera-health"
	openudsHealthPort = 9200
	openudsServers    = "uds" // the client namespace of the broker and tunnel servers
	openudsClient     = "c1"  // the client namespace of the users
	openudsPreferred  = "n1"  // where the VIP starts
	openudsQuorum     = "n3"  // a Galera node without haproxy

	brokerPort = 8000
)

// openudsFrontend is one of the seed's frontends and how a client checks it.
type openudsFrontend struct {
	name    string
	port    int
	kind    string // "http", "https" or "tcp"
	backend int    // port of the test's server behind it; 0 for Galera
}

var openudsFrontends = []openudsFrontend{
	{"http", 80, "http", brokerPort},
	{"https", 443, "https", brokerPort},
	{"tunnel", 1443, "tcp", 4443},
	{"tunnel-html5", 10443, "tcp", 14443},
}

// openudsConfig is the haproxy.cfg both HAProxy servers run: the seed's
// frontends on the VIP, the broker and tunnel servers at servers, and the
// Galera nodes checked on their galera-health port. One Galera node takes
// the writes and the others are backups, so that writers do not conflict.
func openudsConfig(vip, servers netip.Addr, galera []netip.Addr) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 1m
    timeout server 1m
    timeout check 2s
    default-server inter 1s fall 2 rise 2

frontend http
    bind %[1]s:80
    mode http
    default_backend broker

frontend https
    bind %[1]s:443 ssl crt %[2]s
    mode http
    default_backend broker

backend broker
    mode http
    option httpchk GET /check
    server broker %[3]s:%[4]d check
`, vip, openudsPEM, servers, brokerPort)
	for _, f := range openudsFrontends[2:] {
		fmt.Fprintf(&b, "\nfrontend %[1]s\n    bind %[2]s:%[3]d\n    default_backend %[1]s\n\nbackend %[1]s\n    server tunnel %[4]s:%[5]d check\n",
			f.name, vip, f.port, servers, f.backend)
	}
	fmt.Fprintf(&b, "\nfrontend galera\n    bind %s:3306\n    default_backend galera\n\nbackend galera\n"+
		"    option httpchk GET /\n    http-check expect status 200\n"+
		"    default-server port %d inter 1s fall 2 rise 2 on-marked-down shutdown-sessions\n", vip, openudsHealthPort)
	for i, a := range galera {
		backup := ""
		if i > 0 {
			backup = " backup"
		}
		fmt.Fprintf(&b, "    server n%d %s:3306 check%s\n", i+1, a, backup)
	}
	return b.String()
}

// selfSigned writes a PEM file with a new self-signed certificate for host
// and its key, as haproxy's crt wants it, and returns the certificate.
func selfSigned(t *testing.T, path, host string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host, Organization: []string{"goha e2e"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if a, err := netip.ParseAddr(host); err == nil {
		tmpl.IPAddresses = []net.IP{a.AsSlice()}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// serveUDS runs the broker (http, answering "broker <path>") and the tunnel
// servers (each line echoed back after "tunnel <port>: ") in the network
// namespace ns, until the test ends.
func serveUDS(t *testing.T, ns string, addr netip.Addr) {
	t.Helper()
	listen := func(port int) net.Listener {
		ln, err := nsnet.Listen(ns, "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
		if err != nil {
			t.Fatalf("listen in %s: %v", ns, err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "broker %s", r.URL.Path)
	})}
	go srv.Serve(listen(brokerPort))
	t.Cleanup(func() { srv.Close() })
	for _, f := range openudsFrontends[2:] {
		ln, port := listen(f.backend), f.backend
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					sc := bufio.NewScanner(c)
					for sc.Scan() {
						if _, err := fmt.Fprintf(c, "tunnel %d: %s\n", port, sc.Text()); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
}

// openudsProbe checks one frontend through the VIP once, from the users'
// namespace, with a fresh connection: the broker's answer over http or
// https (served with the test's certificate), or a line echoed by the
// tunnel server.
func openudsProbe(ctx context.Context, ns string, vip netip.Addr, f openudsFrontend, cert *x509.Certificate) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addr := netip.AddrPortFrom(vip, uint16(f.port)).String()
	switch f.kind {
	case "http", "https":
		tr := &http.Transport{DisableKeepAlives: true, DialContext: nsnet.Dialer(ns, 500*time.Millisecond)}
		if f.kind == "https" {
			pool := x509.NewCertPool()
			pool.AddCert(cert)
			tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		}
		defer tr.CloseIdleConnections()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.kind+"://"+addr+"/login", nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || string(body) != "broker /login" {
			return fmt.Errorf("%s: %s %q", f.name, resp.Status, body)
		}
		return nil
	}
	c, err := nsnet.Dial(ctx, ns, "tcp", addr, 500*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	if _, err := fmt.Fprintf(c, "hello %d\n", f.port); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if want := fmt.Sprintf("tunnel %d: hello %d\n", f.backend, f.port); line != want {
		return fmt.Errorf("%s: read %q (%v), want %q", f.name, line, err, want)
	}
	return nil
}

// openudsDB opens the database through the VIP as the writer's user, from
// the users' namespace, one connection at a time and none kept idle, so
// each query shows where HAProxy sends a new client.
func openudsDB(t *testing.T, l *lab.Lab, ns string, vip netip.Addr) *sql.DB {
	t.Helper()
	user, password, err := labmariadb.WriterCredentials(l, "n1")
	if err != nil {
		t.Fatal(err)
	}
	network := "openuds-" + ns
	mysql.RegisterDialContext(network, func(ctx context.Context, addr string) (net.Conn, error) {
		return nsnet.Dial(ctx, ns, "tcp", addr, time.Second)
	})
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, password, network, netip.AddrPortFrom(vip, 3306).String()
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0)
	t.Cleanup(func() { db.Close() })
	return db
}

// dbServedBy waits until a new connection through the VIP lands on node.
func dbServedBy(t *testing.T, ctx context.Context, db *sql.DB, node string, timeout time.Duration, why string) time.Duration {
	t.Helper()
	begin := time.Now()
	last := ""
	for {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		var host string
		err := db.QueryRowContext(qctx, "SELECT @@hostname").Scan(&host)
		cancel()
		if err == nil && host == node {
			return time.Since(begin)
		}
		last = fmt.Sprintf("%q, %v", host, err)
		if time.Since(begin) > timeout {
			t.Fatalf("%s: a client through the VIP did not reach %s within %s (last: %s)", why, node, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestOpenUDSFront(t *testing.T) {
	galeraNeeds(t)
	for _, p := range []string{"/usr/sbin/haproxy", "/usr/lib/ocf/resource.d/heartbeat/anything"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("the OpenUDS front needs %s (make deps installs haproxy and resource-agents)", p)
		}
	}
	t.Cleanup(func() {
		if err := labmariadb.RemoveSharedTemplate(); err != nil {
			t.Errorf("remove template: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	l := startLab(t, lab.Config{
		Name: fmt.Sprintf("uds%d", os.Getpid()%1000000), Nodes: 3, Binary: labBinary(t),
		OCFAgents: []string{"vip", "galera", "haproxy"}, Hooks: []lab.NodeHook{labmariadb.Hook()},
		Mounts:        []lab.Mount{{Source: dir, Target: openudsDir, Dir: true, ReadOnly: true}},
		OnlineTimeout: 2 * time.Minute, Logf: t.Logf,
	})
	t.Cleanup(func() {
		if t.Failed() {
			openudsDump(t, l)
		}
	})
	st, err := l.State()
	if err != nil {
		t.Fatal(err)
	}
	vip, err := l.VIP(0)
	if err != nil {
		t.Fatal(err)
	}
	servers, err := l.Client(ctx, openudsServers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Client(ctx, openudsClient); err != nil {
		t.Fatal(err)
	}
	serveUDS(t, clientNetNS(t, l, openudsServers), servers)
	var galera []netip.Addr
	for _, n := range l.Nodes() {
		a, err := l.Addr(n)
		if err != nil {
			t.Fatal(err)
		}
		galera = append(galera, a)
	}
	cert := selfSigned(t, filepath.Join(dir, filepath.Base(openudsPEM)), vip.String())
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(openudsCfg)), []byte(openudsConfig(vip, servers, galera)), 0o644); err != nil {
		t.Fatal(err)
	}
	pcs := func(args ...string) {
		t.Helper()
		if out, err := l.Exec(ctx, "n1", append([]string{"pcs"}, args...)...); err != nil {
			t.Fatalf("pcs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range []string{"n1", "n2"} {
		if out, err := l.Exec(ctx, n, "sysctl", "-w", "net.ipv4.ip_nonlocal_bind=1"); err != nil {
			t.Fatalf("ip_nonlocal_bind on %s: %v\n%s", n, err, out)
		}
	}

	begin := time.Now()
	if err := labmariadb.Create(ctx, l, labmariadb.AgentGoha); err != nil {
		t.Fatal(err)
	}
	pcs("resource", "create", openudsHealth, "ocf:heartbeat:anything", "binfile="+st.Binary,
		fmt.Sprintf("cmdline_options=galera-health --listen :%d --defaults-file %s --socket %s", openudsHealthPort, labmariadb.CheckConfigFile, labmariadb.Socket),
		"op", "monitor", "interval=10s", "clone")
	pcs("resource", "create", openudsLB, "ocf:goha:haproxy", "config="+openudsCfg, "op", "monitor", "interval=5s", "clone")
	pcs("constraint", "location", openudsLBClone, "avoids", openudsQuorum)
	// The VIP starts only once its constraints exist, so that it starts on
	// its preferred node rather than wherever it was first placed, where
	// its stickiness would keep it.
	pcs("resource", "create", openudsVIP, "ocf:goha:vip", "ip="+vip.String(), "cidr_netmask=24", "nic=eth0",
		"op", "monitor", "interval=2s", "meta", "resource-stickiness=100", "--disabled")
	pcs("constraint", "colocation", "add", openudsVIP, "with", openudsLBClone, "INFINITY")
	pcs("constraint", "location", openudsVIP, "prefers", openudsPreferred+"=50")
	pcs("resource", "enable", openudsVIP)
	if err := labmariadb.WaitAllPromoted(ctx, l, l.Nodes()); err != nil {
		t.Fatal(err)
	}
	ns := clientNetNS(t, l, openudsClient)
	db := openudsDB(t, l, ns, vip)
	dbServedBy(t, ctx, db, "n1", 2*time.Minute, "cold start")
	for _, f := range openudsFrontends {
		if err := openudsWait(ctx, ns, vip, f, cert, time.Minute); err != nil {
			t.Fatalf("cold start: %v", err)
		}
	}
	if holder := vipHolder(t, ctx, l, ""); holder != openudsPreferred {
		t.Fatalf("the VIP runs on %s, want %s (its preferred node)", holder, openudsPreferred)
	}
	t.Logf("cold start: every frontend answers through the VIP on %s %s after the resources were created",
		openudsPreferred, time.Since(begin).Round(100*time.Millisecond))

	w, err := labmariadb.NewAddressWriter(ctx, l, openudsClient, "vip", vip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAcked(ctx, 20); err != nil {
		t.Fatal(err)
	}

	t.Run("desynced node leaves the pool", func(t *testing.T) {
		// A Desynced node still answers SQL and a TCP check, but it is not
		// Synced: galera-health says 503, HAProxy takes it out and new
		// clients go to the first backup; once it is Synced again, back.
		desync := func(on string) {
			t.Helper()
			if out, err := l.Exec(ctx, "n1", "mariadb", "-e", "SET GLOBAL wsrep_desync="+on); err != nil {
				t.Fatalf("wsrep_desync=%s on n1: %v\n%s", on, err, out)
			}
		}
		desync("ON")
		left := dbServedBy(t, ctx, db, "n2", 30*time.Second, "n1 desynced")
		desync("OFF")
		back := dbServedBy(t, ctx, db, "n1", 30*time.Second, "n1 synced again")
		t.Logf("HAProxy sent new clients to n2 %s after n1 was desynced, and back to n1 %s after it was synced",
			left.Round(100*time.Millisecond), back.Round(100*time.Millisecond))
		if err := w.WaitAcked(ctx, 20); err != nil {
			t.Fatalf("writes through the VIP did not go on: %v (%s)", err, w.Stats())
		}
	})
	if t.Failed() {
		return
	}

	t.Run("crash of the VIP node", func(t *testing.T) {
		old := vipHolder(t, ctx, l, "")
		oldInit := initPID(t, l, old)
		var mu sync.Mutex
		back := map[string]time.Duration{}
		var wg sync.WaitGroup
		crashed := time.Now()
		if err := l.Crash(ctx, old); err != nil {
			t.Fatal(err)
		}
		for _, f := range openudsFrontends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := openudsWait(ctx, ns, vip, f, cert, 3*time.Minute); err == nil {
					mu.Lock()
					back[f.name] = time.Since(crashed)
					mu.Unlock()
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			if err := w.WaitAcked(wctx, 1); err == nil {
				mu.Lock()
				back["galera write"] = time.Since(crashed)
				mu.Unlock()
			}
		}()
		wg.Wait()
		holder := vipHolder(t, ctx, l, old)
		var times []string
		for _, name := range []string{"http", "https", "tunnel", "tunnel-html5", "galera write"} {
			d, ok := back[name]
			if !ok {
				t.Errorf("%s through the VIP did not work again within 3 minutes of the crash of %s", name, old)
				continue
			}
			times = append(times, fmt.Sprintf("%s %.1f s", name, d.Seconds()))
		}
		t.Logf("crash of %s: the VIP moved to %s; first success through it after the crash: %s",
			old, holder, strings.Join(times, ", "))
		if len(back) == len(openudsFrontends)+1 {
			var slowest time.Duration
			for _, d := range back {
				slowest = max(slowest, d)
			}
			writeStackScenario(t, "openuds front: power cut of the VIP node", "every frontend answers through the VIP again (s)",
				"ocf:goha:haproxy, vip, galera", slowest, "3 lab nodes (haproxy clone on 2, Galera on 3), token 3000 ms, fencing on "+
					"(fence_goha_lab); the slowest of http, https, two tunnels and a Galera write, each probed every 100 ms: "+strings.Join(times, ", "))
		}
		dbServedBy(t, ctx, db, "n2", 30*time.Second, "n1 crashed")

		waitFenced(t, ctx, l, holder, old, oldInit)
		waitRejoin(t, ctx, l)
		if err := labmariadb.WaitAllPromoted(ctx, l, l.Nodes()); err != nil {
			t.Fatal(err)
		}
		openudsWaitClone(t, ctx, l, old)
		if now := vipHolder(t, ctx, l, ""); now != holder {
			t.Errorf("the VIP went back to %s when it rejoined; stickiness should keep it on %s", now, holder)
		}
		if err := w.WaitAcked(ctx, 20); err != nil {
			t.Fatalf("writes through the VIP did not go on: %v (%s)", err, w.Stats())
		}
		stats := w.Stop()
		if _, err := labmariadb.VerifyReplicated(ctx, l, l.Nodes(), w.Acked()); err != nil {
			t.Fatalf("after the crash of %s: %v", old, err)
		}
		t.Logf("writer through the VIP: %s; every acknowledged row is on all 3 nodes", stats)
	})
}

// openudsWait probes a frontend until it answers or timeout passes.
func openudsWait(ctx context.Context, ns string, vip netip.Addr, f openudsFrontend, cert *x509.Certificate, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := openudsProbe(ctx, ns, vip, f, cert)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s (port %d) through %s: %w", f.name, f.port, vip, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openudsWaitClone waits until haproxy runs again on node.
func openudsWaitClone(t *testing.T, ctx context.Context, l *lab.Lab, node string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := l.Exec(ctx, node, "crm_resource", "--resource", openudsLBClone, "--locate")
		if err == nil && strings.Contains(string(out), "running on: "+node) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy not running again on %s: %v\n%s", node, err, out)
		}
		time.Sleep(time.Second)
	}
}

// openudsDump logs what a failed run needs: the cluster, the sockets that
// listen, and the addresses of the nodes that run haproxy.
func openudsDump(t *testing.T, l *lab.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := l.Exec(ctx, "n1", "crm_mon", "-1", "-f"); err == nil {
		t.Logf("crm_mon on n1:\n%s", out)
	}
	for _, n := range []string{"n1", "n2"} {
		for _, argv := range [][]string{{"ss", "-ltnp"}, {"ip", "-o", "addr", "show", "dev", "eth0"}} {
			if out, err := l.Exec(ctx, n, argv...); err == nil {
				t.Logf("%s on %s:\n%s", strings.Join(argv, " "), n, out)
			}
		}
	}
}

// writeStackScenario records a whole stack's failover time for make bench.
func writeStackScenario(t *testing.T, name, metric, agents string, d time.Duration, notes string) {
	t.Helper()
	sc := bench.Scenario{Name: name, Metric: metric, Goha: bench.ScenarioSide{Agent: agents, Seconds: []float64{d.Seconds()}}, Notes: notes}
	if err := bench.WriteScenario("results", sc); err != nil {
		t.Errorf("write bench scenario: %v", err)
	}
}
