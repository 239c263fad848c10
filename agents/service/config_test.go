package service

import (
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

func values(kv ...string) *ocf.Values {
	raw := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		raw[k] = v
	}
	return ocf.NewValues(params(), raw)
}

func TestUnitName(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "memcached", want: "memcached.service"},
		{in: "memcached.service", want: "memcached.service"},
		{in: "vprotect-server", want: "vprotect-server.service"},
		{in: "getty@tty1", want: "getty@tty1.service"},
		{in: "dev-sda1.mount", want: "dev-sda1.mount"},
		{in: "app.socket", want: "app.socket"},
		{in: `a\x2db.service`, want: `a\x2db.service`},
		{in: "my.app", want: "my.app.service"},
		{in: "", err: "is empty"},
		{in: "getty@", err: "is a template"},
		{in: "getty@.service", err: "is a template"},
		{in: "@x.service", err: "not a valid unit name"},
		{in: "a@b@c", err: "not a valid unit name"},
		{in: ".service", err: "not a valid unit name"},
		{in: "app; rm -rf /", err: "cannot contain"},
		{in: "app service", err: "cannot contain"},
		{in: "../app", err: "cannot contain"},
		{in: strings.Repeat("a", 256), err: "longer than 255"},
	} {
		got, err := unitName(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("unitName(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("unitName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseStatusSet(t *testing.T) {
	for _, tc := range []struct {
		in     string
		in200  bool
		in404  bool
		err    string
		String string
	}{
		{in: "200", in200: true, String: "200"},
		{in: "200-399", in200: true, String: "200-399"},
		{in: "200-299, 404", in200: true, in404: true, String: "200-299,404"},
		{in: "401,403", String: "401,403"},
		{in: "", err: "names no status code"},
		{in: " , ", err: "names no status code"},
		{in: "ok", err: "not a status code"},
		{in: "200-", err: "not a status code"},
		{in: "99", err: "outside"},
		{in: "200-600", err: "outside"},
		{in: "300-200", err: "empty range"},
	} {
		set, err := parseStatusSet(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseStatusSet(%q) = %v, %v; want an error with %q", tc.in, set, err, tc.err)
			}
			continue
		}
		if err != nil || set.Contains(200) != tc.in200 || set.Contains(404) != tc.in404 || set.String() != tc.String {
			t.Errorf("parseStatusSet(%q) = %v (%s), %v", tc.in, set, set, err)
		}
	}
}

func TestConfigPresets(t *testing.T) {
	c, err := configFrom(values("preset=vprotect-server"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Unit != "vprotect-server.service" || c.Checks.TCP != "127.0.0.1:8080" || c.Checks.HTTP == nil ||
		c.Checks.HTTP.URL != "https://127.0.0.1:8181/" || c.Checks.HTTP.Verify || !c.Checks.HTTP.Status.Contains(404) ||
		c.Checks.HTTP.Status.Contains(500) || c.Checks.Timeout != 5*time.Second {
		t.Errorf("vprotect-server preset: %+v %+v", c, c.Checks.HTTP)
	}

	// Parameters given explicitly win, and an explicitly empty check is off.
	c, err = configFrom(values("preset=vprotect-server", "unit=vprotect-server-test", "http_url=", "tcp_port=9090", "tcp_host=10.0.0.5", "http_tls_verify=true"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Unit != "vprotect-server-test.service" || c.Checks.HTTP != nil || c.Checks.TCP != "10.0.0.5:9090" {
		t.Errorf("overridden preset: %+v", c)
	}
	c, err = configFrom(values("preset=vprotect-server", "http_tls_verify=true"))
	if err != nil || !c.Checks.HTTP.Verify {
		t.Errorf("http_tls_verify=true over the preset: %+v, %v", c.Checks.HTTP, err)
	}

	c, err = configFrom(values("preset=memcached", "tcp_host=fd00::10"))
	if err != nil || c.Unit != "memcached.service" || c.Checks.TCP != "[fd00::10]:11211" || c.Checks.HTTP != nil {
		t.Errorf("memcached preset: %+v, %v", c, err)
	}
	for _, name := range []string{"vprotect-node", "ovd-session-manager"} {
		c, err = configFrom(values("preset=" + name))
		if err != nil || c.Unit != name+".service" || c.Checks.Any() {
			t.Errorf("%s preset: %+v, %v", name, c, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		kv  []string
		err string
	}{
		{nil, "parameter unit is required (or set preset)"},
		{[]string{"unit=a b"}, "parameter unit has"},
		{[]string{"unit=app", "http_url=https://x/", "http_status=abc"}, "parameter http_status"},
		{[]string{"unit=app", "http_url=https://x/", "http_regex=("}, "parameter http_regex"},
	} {
		_, err := configFrom(values(tc.kv...))
		if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(ocf.ReasonOf(err), tc.err) {
			t.Errorf("configFrom(%v) = %v; want ErrConfigured with %q", tc.kv, err, tc.err)
		}
	}
	c, err := configFrom(values("unit=app", "exec=/usr/bin/test  -e   /run/x", "http_url=http://127.0.0.1/", "http_regex=ok", "check_timeout=2"))
	if err != nil || strings.Join(c.Checks.Exec, "|") != "/usr/bin/test|-e|/run/x" || c.Checks.HTTP.Regex == nil ||
		!c.Checks.HTTP.Verify || c.Checks.Timeout != 2*time.Second {
		t.Errorf("configFrom: %+v, %v", c, err)
	}
}

// TestDeclaredChecks runs the parameters' Check functions through the
// ocf package, as validate-all does.
func TestDeclaredChecks(t *testing.T) {
	for _, tc := range []struct {
		kv []string
		ok bool
	}{
		{[]string{"unit=app"}, true},
		{[]string{"preset=memcached"}, true},
		{[]string{"preset=redis"}, false},
		{[]string{"unit=app", "bus_address=unix:path=/run/dbus/system_bus_socket"}, true},
		{[]string{"unit=app", "bus_address=unix:path=/a;tcp:host=h,port=1"}, true},
		{[]string{"unit=app", "bus_address=/run/dbus/system_bus_socket"}, false},
		{[]string{"unit=app", "bus_address=unix:path"}, false},
		{[]string{"unit=app", "http_url=ftp://x/"}, false},
		{[]string{"unit=app", "http_url=http:///path"}, false},
		{[]string{"unit=app", "tcp_port=0"}, false},
		{[]string{"unit=app", "tcp_port=70000"}, false},
		{[]string{"unit=app", "tcp_host=[::1]"}, false},
		{[]string{"unit=app", "exec=test -e /x"}, false},
		{[]string{"unit=app", "exec=/usr/bin/test -e /x"}, true},
		{[]string{"unit=app", "http_ca_file=ca.pem"}, false},
		{[]string{"unit=app", "max_restarts=-1"}, false},
		{[]string{"unit=app", "check_timeout=0"}, false},
	} {
		err := values(tc.kv...).Validate(params())
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%v) = %v; want ok=%v", tc.kv, err, tc.ok)
		}
	}
}
