package haproxy

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

func listener(frontend, addr string, port, line int) Listener {
	l := Listener{Frontend: frontend, Port: port, Line: line}
	if addr != "" {
		l.Addr = netip.MustParseAddr(addr)
	}
	return l
}

func TestParseConfigOpenUDS(t *testing.T) {
	f, err := os.Open("testdata/openuds.cfg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{"GOHA_TEST_ADDR": "10.0.0.100"}
	p, err := parseConfig(f, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{
		listener("http-in", "0.0.0.0", 80, 20),
		listener("http-in", "::", 80, 21),
		listener("https-in", "0.0.0.0", 443, 25),
		listener("tunnel", "10.0.0.100", 1443, 30),
		listener("tunnel", "10.0.0.100", 10443, 30),
		listener("galera", "10.0.0.100", 3306, 49),
		listener("ssh-range", "10.0.0.100", 2201, 57),
		listener("ssh-range", "10.0.0.100", 2202, 57),
		listener("ssh-range", "10.0.0.100", 2203, 57),
	}
	if !reflect.DeepEqual(p.Listeners, want) {
		t.Errorf("listeners:\n got %+v\nwant %+v", p.Listeners, want)
	}
	if want := []string{"uds-servers", "tunnel-servers", "galera", "ssh-range"}; !reflect.DeepEqual(p.Backends, want) {
		t.Errorf("backends %v, want %v", p.Backends, want)
	}
	if want := []string{"http-in", "https-in", "tunnel", "galera", "ssh-range"}; !reflect.DeepEqual(p.Frontends, want) {
		t.Errorf("frontends %v, want %v (the disabled one left out)", p.Frontends, want)
	}
	if len(p.Unchecked) != 1 || !strings.Contains(p.Unchecked[0], "unix@/run/haproxy/galera.sock") {
		t.Errorf("unchecked %q, want the UNIX socket", p.Unchecked)
	}
}

func TestParseConfig(t *testing.T) {
	none := func(string) string { return "" }
	for _, tc := range []struct {
		name, cfg string
		want      []string // Listener.String() with frontend
		unchecked int
		wantErr   string
	}{
		{"frontend", "frontend a\n bind 127.0.0.1:80\n", []string{"a 127.0.0.1:80"}, 0, ""},
		{"listen with two addresses", "listen a\n bind 127.0.0.1:80,[::1]:81 ssl crt x\n", []string{"a 127.0.0.1:80", "a [::1]:81"}, 0, ""},
		{"wildcards", "frontend a\n bind :80\n bind *:81\n bind ipv6@:82\n bind :::83\n", []string{"a 0.0.0.0:80", "a 0.0.0.0:81", "a [::]:82", "a [::]:83"}, 0, ""},
		{"a host name matches on the port", "frontend a\n bind localhost:80\n", []string{"a *:80"}, 0, ""},
		{"port range", "frontend a\n bind 10.1.1.1:8000-8002\n", []string{"a 10.1.1.1:8000", "a 10.1.1.1:8001", "a 10.1.1.1:8002"}, 0, ""},
		{"binds of backends, peers and defaults ignored", "defaults\n bind :1\nbackend b\n bind :2\npeers p\n bind :3\nfrontend a\n bind :4\n", []string{"a 0.0.0.0:4"}, 0, ""},
		{"disabled frontend", "frontend a\n disabled\n bind :80\nfrontend b\n bind :81\n", []string{"b 0.0.0.0:81"}, 0, ""},
		{"comments and quotes", "frontend a # web\n bind \"127.0.0.1:80\" # plain\n# bind :99\n bind '127.0.0.2:81'\n", []string{"a 127.0.0.1:80", "a 127.0.0.2:81"}, 0, ""},
		{"escaped space", "frontend a\\ b\n bind :80\n", []string{"a b 0.0.0.0:80"}, 0, ""},
		{"non-TCP binds", "frontend a\n bind /run/a.sock\n bind abns@x\n bind fd@3\n bind quic4@:443\n bind :80 namespace other\n", nil, 5, ""},
		{"unset variable", "frontend a\n bind ${NOPE}:80\n", nil, 1, ""},
		{"no port", "frontend a\n bind 127.0.0.1\n", nil, 0, "no port"},
		{"bad port", "frontend a\n bind :70000\n", nil, 0, "not 1 to 65535"},
		{"reversed range", "frontend a\n bind :90-80\n", nil, 0, "ascending range"},
		{"huge range", "frontend a\n bind :1-60000\n", nil, 0, "ascending range"},
		{"bind alone", "frontend a\n bind\n", nil, 0, "bind without an address"},
		{"unknown family", "frontend a\n bind sctp@:80\n", nil, 0, "unknown address family"},
	} {
		p, err := parseConfig(strings.NewReader(tc.cfg), none)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, l := range p.Listeners {
			got = append(got, l.Frontend+" "+l.String())
		}
		if !reflect.DeepEqual(got, tc.want) || len(p.Unchecked) != tc.unchecked {
			t.Errorf("%s: got %q unchecked %q, want %q and %d unchecked", tc.name, got, p.Unchecked, tc.want, tc.unchecked)
		}
	}
}

func TestSplitLine(t *testing.T) {
	env := map[string]string{"PORT": "8080", "E": ""}
	get := func(k string) string { return env[k] }
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"  bind  :80   ssl ", []string{"bind", ":80", "ssl"}},
		{"bind :${PORT}", []string{"bind", ":8080"}},
		{"bind \":${PORT}\"", []string{"bind", ":8080"}},
		{"bind ':${PORT}'", []string{"bind", ":${PORT}"}},
		{"bind :${E}", []string{"bind", ":${E}"}},
		{"a\\ b c", []string{"a b", "c"}},
		{"a \"b # c\" # d", []string{"a", "b # c"}},
		{"# all comment", nil},
		{"a ${UNCLOSED", []string{"a", "${UNCLOSED"}},
		{"\t", nil},
	} {
		if got := splitLine(tc.line, get); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitLine(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestCheckOutput(t *testing.T) {
	raw, err := os.ReadFile("testdata/check-rejected.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := checkOutput(string(raw))
	want := "config : parsing [bad.cfg:9] : 'bind 127.0.0.1:47001' in section 'frontend': unknown keyword 'bogus_kw'.; " +
		"config : [bad.cfg:15] : 'server li1/s2' : unknown keyword 'nosuch'."
	if got != want {
		t.Errorf("checkOutput:\n got %q\nwant %q", got, want)
	}
	raw, err = os.ReadFile("testdata/start-port-busy.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := checkOutput(string(raw)); !strings.HasPrefix(got, "Binding [/tmp/hx/busy.cfg:9] for frontend web: cannot bind socket (Address already in use) for [127.0.0.1:47997]; ") {
		t.Errorf("checkOutput of a failed start: %q", got)
	}
	if got := checkOutput("something\n  else\n"); got != "something else" {
		t.Errorf("checkOutput without ALERT lines: %q", got)
	}
}

func TestConfigFrom(t *testing.T) {
	decl := params()
	for _, tc := range []struct {
		resource string
		raw      map[string]string
		want     Config
		wantErr  string
	}{
		{"web", nil, Config{
			File: "/etc/haproxy/haproxy.cfg", Binary: "/usr/sbin/haproxy",
			Pidfile: "/run/goha/haproxy-web.pid", Socket: "/run/goha/haproxy-web.sock", StopGrace: 10 * time.Second,
		}, ""},
		{"lb:1", map[string]string{pRequired: " uds  tunnel ", pExtra: "-L lb1", pStopGrace: "0"}, Config{
			File: "/etc/haproxy/haproxy.cfg", Binary: "/usr/sbin/haproxy",
			Pidfile: "/run/goha/haproxy-lb.pid", Socket: "/run/goha/haproxy-lb.sock",
			Required: []string{"uds", "tunnel"}, Extra: []string{"-L", "lb1"},
		}, ""},
		{"../x", map[string]string{pPidfile: "/tmp/p", pSocket: "/tmp/s"}, Config{
			File: "/etc/haproxy/haproxy.cfg", Binary: "/usr/sbin/haproxy",
			Pidfile: "/tmp/p", Socket: "/tmp/s", StopGrace: 10 * time.Second,
		}, ""},
		{"", map[string]string{pExtra: "-f /x -sf 12"}, Config{}, "sets -sf"},
	} {
		got, err := configFrom(ocf.NewValues(decl, tc.raw), tc.resource)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(ocf.ReasonOf(err), tc.wantErr) || ocf.StatusOf(err) != ocf.ErrConfigured {
				t.Errorf("configFrom(%q, %v): %v, want %q", tc.resource, tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("configFrom(%q, %v) = %+v, %v\nwant %+v", tc.resource, tc.raw, got, err, tc.want)
		}
	}
	if c, _ := configFrom(ocf.NewValues(decl, nil), "../../etc"); filepath.Dir(c.Pidfile) != "/run/goha" {
		t.Errorf("resource id escapes the run directory: %s", c.Pidfile)
	}
}

func TestArgvAndOwnership(t *testing.T) {
	c := Config{File: "/etc/h.cfg", Binary: "/usr/sbin/haproxy", Pidfile: "/run/h.pid", Socket: "/run/h.sock", Extra: []string{"-L", "n1"}}
	argv := c.Argv()
	want := []string{"/usr/sbin/haproxy", "-W", "-D", "-S", "/run/h.sock,mode,600", "-p", "/run/h.pid", "-f", "/etc/h.cfg", "-L", "n1"}
	if !reflect.DeepEqual(argv, want) {
		t.Fatalf("Argv = %q", argv)
	}
	if got := c.CheckArgv(); !reflect.DeepEqual(got, []string{"/usr/sbin/haproxy", "-c", "-f", "/etc/h.cfg", "-L", "n1"}) {
		t.Errorf("CheckArgv = %q", got)
	}
	// As a reloading master and its new worker show it in /proc.
	reloaded := append([]string{"/usr/sbin/haproxy", "-sf", "101", "102", "-x", "sockpair@3"}, argv[1:]...)
	for _, tc := range []struct {
		argv       []string
		ours, same bool
	}{
		{argv, true, true},
		{reloaded, true, true},
		{[]string{"/usr/sbin/haproxy", "-W", "-D", "-S", "/run/other.sock,mode,600", "-p", "/run/h.pid", "-f", "/etc/h.cfg"}, false, false},
		{[]string{"/usr/sbin/haproxy", "-W", "-S", "/run/h.sock"}, true, false},
		{[]string{"/usr/sbin/haproxy", "-W", "-D", "-S", "/run/h.sock,mode,600", "-p", "/run/h.pid", "-f", "/etc/new.cfg", "-L", "n1"}, true, false},
		{[]string{"/usr/local/sbin/haproxy", "-W", "-D", "-S", "/run/h.sock,mode,600", "-p", "/run/h.pid", "-f", "/etc/h.cfg", "-L", "n1"}, true, false},
		{[]string{"/usr/sbin/haproxy", "-f", "/etc/h.cfg", "-S"}, false, false},
		{nil, false, false},
	} {
		if got := c.IsOurs(tc.argv); got != tc.ours {
			t.Errorf("IsOurs(%q) = %v", tc.argv, got)
		}
		if got := c.SameLaunch(tc.argv); got != tc.same {
			t.Errorf("SameLaunch(%q) = %v", tc.argv, got)
		}
	}
}

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		check func(string) error
		value string
		ok    bool
	}{
		{checkAbsolute, "/etc/haproxy/haproxy.cfg", true},
		{checkAbsolute, "haproxy.cfg", false},
		{checkBackendNames, "uds-servers tunnel_1 db.pool a:b", true},
		{checkBackendNames, "uds;rm", false},
		{checkBackendNames, "a/b", false},
		{func(v string) error { return checkExtra(splitExtra(v)) }, "-L node1 -f /etc/haproxy/conf.d", true},
		{func(v string) error { return checkExtra(splitExtra(v)) }, "-D", false},
		{func(v string) error { return checkExtra(splitExtra(v)) }, "-S /tmp/x", false},
		{func(v string) error { return checkExtra(splitExtra(v)) }, "-q", false},
	} {
		if err := tc.check(tc.value); (err == nil) != tc.ok {
			t.Errorf("check(%q) = %v, want ok=%v", tc.value, err, tc.ok)
		}
	}
}
