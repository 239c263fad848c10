package apache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

func values(raw map[string]string) *ocf.Values { return ocf.NewValues(params(), raw) }

func configOf(raw map[string]string) (Config, error) { return configFrom(values(raw), raw) }

func TestConfigFromDefaults(t *testing.T) {
	c, err := configOf(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigFile != "/etc/apache2/apache2.conf" || c.Httpd != "/usr/sbin/apache2" || c.ServerRoot != "/etc/apache2" ||
		!reflect.DeepEqual(c.EnvFiles, []string{"/etc/apache2/envvars"}) || !reflect.DeepEqual(c.Defines, []string{"STATUS"}) {
		t.Errorf("defaults: %+v", c)
	}
	for page, want := range map[string]bool{
		"<html><body>x</body></html>\n": true,
		"<HTML>x</ HTML >":              true,
		"<html><body>cut sho":           false,
	} {
		if got := c.TestRegex.MatchString(page); got != want {
			t.Errorf("default testregex on %q = %v, want %v", page, got, want)
		}
	}
}

func TestConfigFrom(t *testing.T) {
	for _, tc := range []struct {
		raw   map[string]string
		check func(c Config) string
		err   string
	}{
		{
			raw: map[string]string{pOptions: `-DSSL -D "X Y" -d /srv/www -c 'KeepAlive Off' -C "Define A 1" -T -e debug`},
			check: func(c Config) string {
				want := []string{"-D", "SSL", "-D", "X Y", "-d", "/srv/www", "-c", "KeepAlive Off", "-C", "Define A 1", "-T", "-e", "debug"}
				if !reflect.DeepEqual(c.Options, want) {
					return fmt.Sprintf("Options = %q", c.Options)
				}
				if !reflect.DeepEqual(c.Defines, []string{"STATUS", "SSL", "X Y"}) || c.ServerRoot != "/srv/www" ||
					!reflect.DeepEqual(c.Pre, []string{"Define A 1"}) || !reflect.DeepEqual(c.Post, []string{"KeepAlive Off"}) {
					return fmt.Sprintf("%+v", c)
				}
				return ""
			},
		},
		{
			raw: map[string]string{pHttpd: "/usr/sbin/httpd", pConfigFile: "/etc/httpd/conf/httpd.conf"},
			check: func(c Config) string {
				if c.ServerRoot != "/etc/httpd" {
					return "ServerRoot " + c.ServerRoot
				}
				return ""
			},
		},
		{
			raw: map[string]string{pHttpd: "/opt/ibm/bin/ihs", pConfigFile: "/opt/ibm/conf/httpd.conf"},
			check: func(c Config) string {
				if c.ServerRoot != "/opt/ibm/conf" {
					return "ServerRoot " + c.ServerRoot
				}
				return ""
			},
		},
		{
			raw: map[string]string{pTestURL: "/health", pTestRegex10: "^OK$", pEnvFiles: " /a  /b ", pUseIPv6: "yes"},
			check: func(c Config) string {
				if !c.TestRegex10.MatchString("status\nok\n") || !reflect.DeepEqual(c.EnvFiles, []string{"/a", "/b"}) || !c.IPv6 {
					return fmt.Sprintf("%+v", c)
				}
				return ""
			},
		},
		{raw: map[string]string{pEnvFiles: ""}, check: func(c Config) string {
			if c.EnvFiles != nil {
				return fmt.Sprintf("envfiles %q", c.EnvFiles)
			}
			return ""
		}},
		{raw: map[string]string{pTestURL: "/health"}, err: "parameter testregex10 is required with testurl"},
		{raw: map[string]string{pTestRegex: "a(b"}, err: "parameter testregex is not a regular expression"},
		{raw: map[string]string{pTestRegex10: "[z-a]"}, err: "parameter testregex10 is not a regular expression"},
		{raw: map[string]string{pOptions: "-k start"}, err: "has -k, which the agent sets itself"},
		{raw: map[string]string{pOptions: "-f /etc/other.conf"}, err: "has -f"},
		{raw: map[string]string{pOptions: "-X"}, err: "has -X"},
		{raw: map[string]string{pOptions: "-D"}, err: "has -D without its value"},
		{raw: map[string]string{pOptions: "-Tx"}, err: `has "-Tx"`},
		{raw: map[string]string{pOptions: "STATUS"}, err: `has "STATUS", which is not an httpd option`},
		{raw: map[string]string{pOptions: "-d relative"}, err: "relative ServerRoot"},
	} {
		c, err := configOf(tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(ocf.ReasonOf(err), tc.err) || ocf.StatusOf(err) != ocf.ErrConfigured {
				t.Errorf("%v: err = %v, want ErrConfigured with %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.raw, err)
			continue
		}
		if msg := tc.check(c); msg != "" {
			t.Errorf("%v: %s", tc.raw, msg)
		}
	}
}

func TestDeclaredChecks(t *testing.T) {
	for _, tc := range []struct {
		raw map[string]string
		err string
	}{
		{map[string]string{pConfigFile: "apache2.conf"}, "parameter configfile must be an absolute path"},
		{map[string]string{pPidFile: `/run/a"b.pid`}, "must not contain quotes"},
		{map[string]string{pStatusURL: "localhost/server-status"}, "is not an http:// or https:// URL"},
		{map[string]string{pStatusURL: "ftp://h/x"}, "is not an http:// or https:// URL"},
		{map[string]string{pPort: "0"}, "parameter port"},
		{map[string]string{pOptions: "-k stop"}, "parameter options has -k"},
		{map[string]string{pStatusURL: "https://[::1]:8443/status"}, ""},
	} {
		err := values(tc.raw).Validate(params())
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.raw, err)
		case tc.err != "" && (err == nil || !strings.Contains(ocf.ReasonOf(err), tc.err)):
			t.Errorf("%v: err = %v, want %q", tc.raw, err, tc.err)
		}
	}
}

func TestArgvAndPidFile(t *testing.T) {
	c := Config{Httpd: "/usr/sbin/apache2", ConfigFile: "/etc/web/httpd.conf", Options: []string{"-D", "SSL"}}
	file, dir := pidDirective("", "/run/web.pid", "/run/resource-agents/apache-web.pid")
	if file != "/run/web.pid" || dir != "" {
		t.Errorf("configuration's pid file: %q %q", file, dir)
	}
	if got, want := c.argv(dir, "-k", "start"), []string{"/usr/sbin/apache2", "-DSTATUS", "-D", "SSL", "-f", "/etc/web/httpd.conf", "-k", "start"}; !reflect.DeepEqual(got, want) {
		t.Errorf("argv = %q, want %q", got, want)
	}
	file, dir = pidDirective("", "", "/run/resource-agents/apache-web.pid")
	if file != "/run/resource-agents/apache-web.pid" || dir != `PidFile "/run/resource-agents/apache-web.pid"` {
		t.Errorf("own pid file: %q %q", file, dir)
	}
	file, dir = pidDirective("/srv/p.pid", "/run/web.pid", "/run/resource-agents/apache-web.pid")
	if file != "/srv/p.pid" || dir != `PidFile "/srv/p.pid"` {
		t.Errorf("pidfile parameter: %q %q", file, dir)
	}
	if got, want := c.argv(dir, "-t"), []string{"/usr/sbin/apache2", "-DSTATUS", "-D", "SSL", "-f", "/etc/web/httpd.conf", "-c", `PidFile "/srv/p.pid"`, "-t"}; !reflect.DeepEqual(got, want) {
		t.Errorf("argv = %q, want %q", got, want)
	}
}

func TestOwnsArgv(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/usr/sbin/apache2", "-DSTATUS", "-f", "/etc/web/httpd.conf", "-k", "start"}, true},
		{[]string{"/usr/sbin/apache2", "-f/etc/web/./httpd.conf"}, true},
		{[]string{"/usr/sbin/apache2", "-f", "/etc/web/httpd.conf.new"}, false},
		{[]string{"/usr/sbin/apache2", "-f", "/etc/other/httpd.conf"}, false},
		{[]string{"/usr/sbin/apache2", "-k", "start"}, false},
		{[]string{"/usr/sbin/apache2", "-f"}, false},
	} {
		if got := ownsArgv(tc.argv, "/etc/web/httpd.conf"); got != tc.want {
			t.Errorf("ownsArgv(%q) = %v, want %v", tc.argv, got, tc.want)
		}
	}
}

func TestJudgePage(t *testing.T) {
	re, _ := compileRegex(defaultTestRegex)
	const url = "http://127.0.0.1/server-status"
	for _, tc := range []struct {
		p    page
		want string
	}{
		{page{Code: 200, Status: "200 OK", Body: []byte("<html>...</html>")}, ""},
		{page{Code: 404, Status: "404 Not Found", Body: []byte("<html></html>")}, "GET http://127.0.0.1/server-status answered 404 Not Found, not 200 OK"},
		{page{Code: 500, Status: "500 Internal Server Error"}, "answered 500 Internal Server Error"},
		{page{Code: 200, Status: "200 OK", Body: []byte("<html>cut")}, `GET http://127.0.0.1/server-status: the page does not match testregex "</ *html *>"`},
		{page{Code: 200, Status: "200 OK", Body: []byte("<html>long"), Truncated: true}, "the first 10 bytes of the page does not match"},
	} {
		if got := judgePage(url, tc.p, re, pTestRegex); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("judgePage(%d %q) = %q, want %q", tc.p.Code, tc.p.Body, got, tc.want)
		}
	}
}

func TestFetchProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("Get: dial tcp: %w", syscall.ECONNREFUSED), "GET u: connection refused"},
		{fmt.Errorf("Get: %w", context.DeadlineExceeded), "GET u: no answer within 2.5s"},
		{errors.New("tls: handshake failure"), "GET u: tls: handshake failure"},
	} {
		if got := fetchProblem("u", tc.err, 2500*time.Millisecond); got != tc.want {
			t.Errorf("fetchProblem(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestApacheMessage(t *testing.T) {
	for out, want := range map[string]string{
		"Syntax OK\n": "",
		"AH00526: Syntax error on line 3 of /srv/httpd.conf:\nInvalid command 'Bogus', perhaps misspelled\n":                            "AH00526: Syntax error on line 3 of /srv/httpd.conf: Invalid command 'Bogus', perhaps misspelled",
		"[Mon Nov 23 16:00:36.468887 2026] [core:warn] [pid 24293:tid 24293] AH00111: Config variable ${X} is not defined\nSyntax OK\n": "AH00111: Config variable ${X} is not defined",
		"AH00111: Config variable ${A} is not defined\nAH00111: Config variable ${A} is not defined\nAH00543: bad user name\n":          "AH00111: Config variable ${A} is not defined AH00543: bad user name",
		strings.Repeat("w", 600) + "\nfatal": "..." + strings.Repeat("w", maxMessage-6) + " fatal",
	} {
		if got := apacheMessage([]byte(out)); got != want {
			t.Errorf("apacheMessage(%q) = %q, want %q", out, got, want)
		}
	}
}

func TestStatPPid(t *testing.T) {
	for stat, want := range map[string]int{
		"1234 (apache2) S 1 1234 1234 0 -1":      1,
		"99 (a b) c) (d) R 4321 99 99 0 -1 4194": 4321,
		"garbage":                                0,
	} {
		if got := statPPid([]byte(stat)); got != want {
			t.Errorf("statPPid(%q) = %d, want %d", stat, got, want)
		}
	}
}
