package service

// Component test: the agent binary against a real systemd 252, booted by
// internal/systemdroot as PID 1 of namespaces of its own in a Debian root
// of its own (never the host's), with memcached, busybox httpd and
// openssl s_server as the services. The agent reaches systemd over the
// container's system bus, given as bus_address (or
// DBUS_SYSTEM_BUS_ADDRESS), and runs inside the container's network
// namespace (nsenter --net) so that its health checks reach the services
// on the container's loopback. It needs root, unshare, nsenter and, the
// first time, debootstrap and the Debian mirror; without them it skips.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/goha-ha/goha/internal/agenttest"
	"github.com/goha-ha/goha/internal/systemdroot"
	"github.com/goha-ha/goha/internal/testbuild"
)

// testRoot is the root the component test boots: systemd plus the
// services it drives. memcached is not started at boot; the agent does.
var testRoot = systemdroot.RootOptions{
	Packages: []string{"memcached", "busybox", "openssl"},
	Disable:  []string{"memcached.service"},
}

var (
	agentOnce sync.Once
	agentPath string
	agentErr  error
	agentDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if agentDir != "" {
		os.RemoveAll(agentDir)
	}
	os.Exit(code)
}

// agentBinary builds the agent alone once per run.
func agentBinary(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		if agentDir, agentErr = os.MkdirTemp("", "goha-service-"); agentErr != nil {
			return
		}
		// ocf-tester runs meta-data as nobody.
		if agentErr = os.Chmod(agentDir, 0o755); agentErr != nil {
			return
		}
		agentPath, agentErr = testbuild.Main(agentDir, "service", "./agents/service/internal/servicecmd")
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentPath
}

func requireComponent(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("component test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("component test: needs root to boot systemd in namespaces of its own")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("component test: needs nsenter (util-linux)")
	}
}

// container is the booted systemd and how the agent reaches it.
type container struct {
	sys    *systemdroot.System
	rsctmp string
	conn   *sd.Conn
}

// run invokes the agent in the container's network namespace with the
// container's bus as bus_address, and params as NAME=VALUE; a param
// written -NAME is left out, and ENV:NAME=VALUE sets an environment
// variable instead.
func (c *container) run(t *testing.T, action string, params ...string) agenttest.Result {
	t.Helper()
	reskeys := []string{"bus_address=" + c.sys.BusAddress()}
	var extra []string
	for _, p := range params {
		switch {
		case strings.HasPrefix(p, "-"):
			reskeys = slices.DeleteFunc(reskeys, func(kv string) bool { return strings.HasPrefix(kv, p[1:]+"=") })
		case strings.HasPrefix(p, "ENV:"):
			extra = append(extra, p[4:])
		default:
			reskeys = append(reskeys, p)
		}
	}
	env := append(agenttest.Env(c.rsctmp, "svc", reskeys...), extra...)
	return agenttest.Run(t, 2*time.Minute, env, "nsenter", "--net="+c.sys.NetNS(), "--", agentBinary(t), action)
}

// poll runs the agent until it exits with rc, at most for within.
func (c *container) poll(t *testing.T, rc int, within time.Duration, action string, params ...string) agenttest.Result {
	t.Helper()
	var r agenttest.Result
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if r = c.run(t, action, params...); r.RC == rc {
			break
		}
	}
	return r
}

// state reads a unit's state straight from systemd, not through the agent.
func (c *container) state(t *testing.T, unit string) UnitState {
	t.Helper()
	m := busManager{c.conn}
	s, err := m.State(context.Background(), unit)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitState polls until the unit's ActiveState/SubState is want.
func (c *container) waitState(t *testing.T, unit, want string, within time.Duration) UnitState {
	t.Helper()
	var s UnitState
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if s = c.state(t, unit); s.ActiveState+"/"+s.SubState == want {
			return s
		}
	}
	t.Fatalf("unit %s is %s/%s after %s, want %s", unit, s.ActiveState, s.SubState, within, want)
	return s
}

// waitRestarted polls until systemd has restarted the unit n times in
// all and it runs again.
func (c *container) waitRestarted(t *testing.T, unit string, n uint32, within time.Duration) {
	t.Helper()
	var s UnitState
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if s = c.state(t, unit); s.NRestarts == n && s.ActiveState == "active" && s.MainPID != 0 {
			return
		}
	}
	t.Fatalf("unit %s is %s/%s with NRestarts=%d after %s, want it running again after restart %d", unit, s.ActiveState, s.SubState, s.NRestarts, within, n)
}

func (c *container) killMain(t *testing.T, unit string) {
	t.Helper()
	if err := c.conn.KillUnitWithTarget(context.Background(), unit, sd.Main, int32(syscall.SIGKILL)); err != nil {
		t.Fatal(err)
	}
}

func (c *container) writeFile(t *testing.T, path, content string) {
	t.Helper()
	full := c.sys.Path(path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// units are the test's services inside the container; the ports are on
// the container's own loopback, so they collide with nothing on the host.
var units = map[string]string{
	"goha-web.service": `[Service]
ExecStart=/bin/busybox httpd -f -p 127.0.0.1:8080 -h /srv/www
`,
	"goha-tls.service": `[Service]
WorkingDirectory=/srv/www
ExecStart=/usr/bin/openssl s_server -quiet -accept 8443 -naccept 1000000 -cert /etc/goha/cert.pem -key /etc/goha/key.pem -WWW
`,
	"goha-flap.service": `[Service]
ExecStart=/bin/sleep infinity
Restart=always
RestartSec=300ms
`,
	"goha-oneshot-fails.service": `[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo cannot start >&2; exit 4'
`,
	"goha-stubborn.service": `[Service]
ExecStart=/bin/sh -c 'trap "" TERM; while :; do sleep 0.1; done'
TimeoutStopSec=300
`,
	"goha-leftover.service": `[Service]
ExecStart=/bin/sh -c '(trap "" TERM HUP; exec sleep 1000) & exec sleep 1000'
KillMode=process
`,
}

func bootContainer(t *testing.T) *container {
	t.Helper()
	start := time.Now()
	sys := systemdroot.Boot(t, systemdroot.Options{Name: "goha-service", Root: testRoot})
	t.Logf("systemd booted in %s (host pid %d)", time.Since(start), sys.PID)
	c := &container{sys: sys, rsctmp: t.TempDir()}
	for name, text := range units {
		c.writeFile(t, "/etc/systemd/system/"+name, text)
	}
	// A masked unit: its name points at /dev/null in /etc.
	if err := os.Symlink("/dev/null", sys.Path("/etc/systemd/system/goha-masked.service")); err != nil {
		t.Fatal(err)
	}
	c.writeFile(t, "/srv/www/index.html", "<html>goha-ok</html>\n")
	if err := sys.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.conn, err = sys.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.conn.Close)
	return c
}

func TestComponent(t *testing.T) {
	requireComponent(t)
	c := bootContainer(t)
	agentBinary(t)

	t.Run("memcached preset", func(t *testing.T) {
		p := []string{"preset=memcached"}
		agenttest.Expect(t, "probe", c.run(t, "monitor", p...), 7, "")
		r := c.run(t, "start", p...)
		agenttest.Expect(t, "start", r, 0, "")
		t.Logf("start took %s", r.Took)
		s := c.state(t, "memcached.service")
		if s.ActiveState != "active" || s.MainPID == 0 {
			t.Fatalf("memcached is %s/%s after start", s.ActiveState, s.SubState)
		}
		r = c.run(t, "monitor", append(p, "CRM_meta_interval=10000")...)
		agenttest.Expect(t, "monitor", r, 0, "")
		t.Logf("monitor with the tcp check took %s", r.Took)
		agenttest.Expect(t, "start again", c.run(t, "start", p...), 0, "")
		agenttest.Expect(t, "monitor of a port nobody listens on", c.run(t, "monitor", append(p, "tcp_port=11299")...), 1,
			"tcp_port 127.0.0.1:11299: connect: connection refused")

		// memcached.service has Restart=always: systemd brings a killed
		// memcached back, and the monitor must still report the crash.
		c.killMain(t, "memcached.service")
		c.waitRestarted(t, "memcached.service", s.NRestarts+1, 5*time.Second)
		agenttest.Expect(t, "monitor after systemd restarted it", c.run(t, "monitor", p...), 1,
			"systemd restarted unit memcached.service 1 time since the cluster started it (Restart=always, max_restarts=0)")
		// The restarted memcached listens a moment after systemd runs it.
		agenttest.Expect(t, "monitor with max_restarts=1", c.poll(t, 0, 5*time.Second, "monitor", append(p, "max_restarts=1")...), 0, "")

		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
		if s := c.state(t, "memcached.service"); !stopped(s) || s.ActiveState != "inactive" {
			t.Fatalf("memcached is %s/%s (cgroup %q) after stop", s.ActiveState, s.SubState, s.ControlGroup)
		}
		agenttest.Expect(t, "monitor after stop", c.run(t, "monitor", append(p, "CRM_meta_interval=10000")...), 7, "")
		agenttest.Expect(t, "stop again", c.run(t, "stop", p...), 0, "")
		agenttest.Expect(t, "start after the restarts", c.run(t, "start", p...), 0, "")
		agenttest.Expect(t, "monitor after a fresh start", c.run(t, "monitor", p...), 0, "")
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
	})

	t.Run("restarts", func(t *testing.T) {
		p := []string{"unit=goha-flap"}
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		c.killMain(t, "goha-flap.service")
		c.waitState(t, "goha-flap.service", "activating/auto-restart", 2*time.Second)
		agenttest.Expect(t, "monitor during auto-restart", c.run(t, "monitor", append(p, "max_restarts=5")...), 1,
			"unit goha-flap.service its main process was killed by SIGKILL and systemd is about to restart it")
		c.waitRestarted(t, "goha-flap.service", 1, 3*time.Second)
		agenttest.Expect(t, "monitor after a restart", c.run(t, "monitor", p...), 1, "restarted unit goha-flap.service 1 time")
		agenttest.Expect(t, "monitor tolerating one restart", c.run(t, "monitor", append(p, "max_restarts=1")...), 0, "")
		// Recovery as Pacemaker runs it: stop, start; the count starts over.
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		agenttest.Expect(t, "monitor after recovery", c.run(t, "monitor", p...), 0, "")
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
	})

	t.Run("http", func(t *testing.T) {
		p := []string{"unit=goha-web", "http_url=http://127.0.0.1:8080/index.html", "http_regex=goha-o+k"}
		agenttest.Expect(t, "probe", c.run(t, "monitor", p...), 7, "")
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		agenttest.Expect(t, "monitor", c.run(t, "monitor", p...), 0, "")
		agenttest.Expect(t, "monitor of a body that does not match", c.run(t, "monitor", append(p, "http_regex=^nope")...), 1,
			`unit goha-web.service is active but http_url http://127.0.0.1:8080/index.html: body does not match http_regex "^nope"`)
		agenttest.Expect(t, "monitor of another status", c.run(t, "monitor", append(p, "http_status=201,300-399")...), 1,
			"status 200, want 201,300-399")
		agenttest.Expect(t, "monitor of a missing page", c.run(t, "monitor", append(p, "http_url=http://127.0.0.1:8080/missing", "http_regex=")...), 1,
			"status 404, want 200-399")
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
		// start waits for the checks, and fails when they never pass.
		r := c.run(t, "start", "unit=goha-web", "http_url=http://127.0.0.1:8081/", "CRM_meta_timeout=4000")
		agenttest.Expect(t, "start whose check never passes", r, 1, "is active but did not pass its health checks within the start timeout: http_url http://127.0.0.1:8081/: dial tcp 127.0.0.1:8081: connect: connection refused")
		if r.Took > 5*time.Second {
			t.Errorf("start overran its 4 s timeout: %s", r.Took)
		}
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
	})

	t.Run("https", func(t *testing.T) {
		dir := t.TempDir()
		certPEM, keyPEM := selfSigned(t)
		c.writeFile(t, "/etc/goha/cert.pem", string(certPEM))
		c.writeFile(t, "/etc/goha/key.pem", string(keyPEM))
		ca := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(ca, certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		p := []string{"unit=goha-tls", "http_url=https://127.0.0.1:8443/index.html", "http_regex=goha-ok", "http_tls_verify=false"}
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		agenttest.Expect(t, "monitor without verification", c.run(t, "monitor", p...), 0, "")
		agenttest.Expect(t, "monitor verifying against the system's CAs", c.run(t, "monitor", append(p, "http_tls_verify=true")...), 1,
			"certificate signed by unknown authority")
		agenttest.Expect(t, "monitor verifying against its CA", c.run(t, "monitor", append(p, "http_tls_verify=true", "http_ca_file="+ca)...), 0, "")
		agenttest.Expect(t, "validate-all with a missing CA file", c.run(t, "validate-all", append(p, "http_ca_file="+filepath.Join(dir, "none.pem"))...), 5,
			"parameter http_ca_file: cannot read")
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
	})

	t.Run("exec", func(t *testing.T) {
		flag := filepath.Join(t.TempDir(), "healthy")
		p := []string{"unit=goha-web", "exec=/usr/bin/test -e " + flag}
		os.WriteFile(flag, nil, 0o644)
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		agenttest.Expect(t, "monitor", c.run(t, "monitor", p...), 0, "")
		os.Remove(flag)
		agenttest.Expect(t, "monitor when the command fails", c.run(t, "monitor", p...), 1, "exec /usr/bin/test: exit status 1")
		agenttest.Expect(t, "monitor when the command fails with output", c.run(t, "monitor", "unit=goha-web", "exec=/bin/ls /nonexistent-goha"), 1,
			"exec /bin/ls: exit status 2: /bin/ls: cannot access '/nonexistent-goha'")
		agenttest.Expect(t, "validate-all with a missing program", c.run(t, "validate-all", "unit=goha-web", "exec=/nonexistent/check"), 5,
			"parameter exec: /nonexistent/check is not an executable file")
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
	})

	t.Run("failures", func(t *testing.T) {
		agenttest.Expect(t, "start of a unit that fails", c.run(t, "start", "unit=goha-oneshot-fails"), 1,
			`systemd's start job for goha-oneshot-fails.service ended with "failed": the unit its main process exited with status 4`)
		agenttest.Expect(t, "monitor of the failed unit", c.run(t, "monitor", "unit=goha-oneshot-fails", "CRM_meta_interval=10000"), 1,
			"unit goha-oneshot-fails.service failed: its main process exited with status 4")
		agenttest.Expect(t, "probe of the failed unit", c.run(t, "monitor", "unit=goha-oneshot-fails"), 7, "")
		agenttest.Expect(t, "stop of the failed unit", c.run(t, "stop", "unit=goha-oneshot-fails"), 0, "")
		if s := c.state(t, "goha-oneshot-fails.service"); s.ActiveState != "inactive" {
			t.Fatalf("stop left the failed unit %s, want it reset to inactive", s.ActiveState)
		}

		agenttest.Expect(t, "start of a missing unit", c.run(t, "start", "unit=goha-none"), 5, "parameter unit: systemd has no unit goha-none.service on this node")
		agenttest.Expect(t, "probe of a missing unit", c.run(t, "monitor", "unit=goha-none"), 7, "")
		agenttest.Expect(t, "monitor of a missing unit", c.run(t, "monitor", "unit=goha-none", "CRM_meta_interval=10000"), 5, "no unit goha-none.service")
		agenttest.Expect(t, "stop of a missing unit", c.run(t, "stop", "unit=goha-none"), 0, "")
		agenttest.Expect(t, "start of a masked unit", c.run(t, "start", "unit=goha-masked"), 5, "unit goha-masked.service is masked on this node")

		agenttest.Expect(t, "start without a unit", c.run(t, "start"), 6, "parameter unit is required")
		agenttest.Expect(t, "start with a bad unit name", c.run(t, "start", "unit=a b"), 6, "parameter unit has ' '")
		agenttest.Expect(t, "probe without a unit", c.run(t, "monitor"), 7, "")
		agenttest.Expect(t, "stop without a unit", c.run(t, "stop"), 0, "")
		dead := "unix:path=" + filepath.Join(t.TempDir(), "no-bus")
		agenttest.Expect(t, "monitor without a bus", c.run(t, "monitor", "unit=goha-web", "bus_address="+dead), 1, "connect to systemd at "+dead)
	})

	t.Run("DBUS_SYSTEM_BUS_ADDRESS", func(t *testing.T) {
		p := []string{"unit=goha-web", "-bus_address", "ENV:DBUS_SYSTEM_BUS_ADDRESS=" + c.sys.BusAddress()}
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		if s := c.state(t, "goha-web.service"); s.ActiveState != "active" {
			t.Fatalf("goha-web is %s after a start through DBUS_SYSTEM_BUS_ADDRESS", s.ActiveState)
		}
		agenttest.Expect(t, "monitor", c.run(t, "monitor", p...), 0, "")
		agenttest.Expect(t, "stop", c.run(t, "stop", p...), 0, "")
	})

	t.Run("stop escalates", func(t *testing.T) {
		p := []string{"unit=goha-stubborn"}
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		r := c.run(t, "stop", append(p, "CRM_meta_timeout=6000")...)
		agenttest.Expect(t, "stop of a unit that ignores SIGTERM", r, 0, "sending SIGKILL")
		if r.Took > 6*time.Second {
			t.Errorf("stop overran its 6 s timeout: %s", r.Took)
		}
		if s := c.state(t, "goha-stubborn.service"); !stopped(s) {
			t.Fatalf("goha-stubborn is %s/%s (cgroup %q) after stop", s.ActiveState, s.SubState, s.ControlGroup)
		}

		p = []string{"unit=goha-leftover"}
		agenttest.Expect(t, "start", c.run(t, "start", p...), 0, "")
		r = c.run(t, "stop", p...)
		agenttest.Expect(t, "stop of a unit whose child survives (KillMode=process)", r, 0, "sending SIGKILL")
		if s := c.state(t, "goha-leftover.service"); !stopped(s) {
			t.Fatalf("goha-leftover is %s/%s (cgroup %q) after stop", s.ActiveState, s.SubState, s.ControlGroup)
		}
	})

	t.Run("ocf-tester", func(t *testing.T) {
		tester, err := exec.LookPath("ocf-tester")
		if err != nil {
			t.Skip("ocf-tester (resource-agents) is not installed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		args := []string{"--net=" + c.sys.NetNS(), "--", tester, "-n", "svc"}
		for _, p := range []string{"unit=goha-web", "bus_address=" + c.sys.BusAddress(),
			"http_url=http://127.0.0.1:8080/index.html", "http_regex=goha-ok", "tcp_port=8080"} {
			args = append(args, "-o", p)
		}
		cmd := exec.CommandContext(ctx, "nsenter", append(args, agentBinary(t))...)
		cmd.Env = append(os.Environ(), "HA_RSCTMP="+c.rsctmp)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Fatalf("ocf-tester: %v\n%s", err, out)
		}
		t.Logf("ocf-tester:\n%s", out)
		if s := c.state(t, "goha-web.service"); s.ActiveState != "inactive" {
			t.Errorf("ocf-tester left goha-web %s", s.ActiveState)
		}
	})
}

// selfSigned returns a certificate for 127.0.0.1 and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "goha-service-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}
