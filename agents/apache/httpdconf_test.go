package apache

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseListen(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want listen
		url  string // URL(false)
		err  string
	}{
		{args: []string{"80"}, want: listen{Port: 80}, url: "http://127.0.0.1:80"},
		{args: []string{"192.0.2.10:8080"}, want: listen{Host: "192.0.2.10", Port: 8080}, url: "http://192.0.2.10:8080"},
		{args: []string{"[2001:db8::1]:80"}, want: listen{Host: "2001:db8::1", Port: 80}, url: "http://[2001:db8::1]:80"},
		{args: []string{"[::]:8080"}, want: listen{Host: "::", Port: 8080}, url: "http://[::1]:8080"},
		{args: []string{"0.0.0.0:81"}, want: listen{Host: "0.0.0.0", Port: 81}, url: "http://127.0.0.1:81"},
		{args: []string{"*:82"}, want: listen{Port: 82}, url: "http://127.0.0.1:82"},
		{args: []string{"80", "https"}, want: listen{Port: 80, Proto: "https"}, url: "https://127.0.0.1:80"},
		{args: []string{"443"}, want: listen{Port: 443}, url: "https://127.0.0.1:443"},
		{args: []string{"443", "http"}, want: listen{Port: 443, Proto: "http"}, url: "http://127.0.0.1:443"},
		{args: []string{"www.example.com:8000"}, want: listen{Host: "www.example.com", Port: 8000}, url: "http://www.example.com:8000"},
		{args: []string{"2001:db8::1:80"}, err: "brackets"},
		{args: []string{"[::1]"}, err: "want [address]:port"},
		{args: []string{"70000"}, err: "not 1 to 65535"},
		{args: []string{"127.0.0.1:http"}, err: "not 1 to 65535"},
	} {
		got, err := parseListen(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseListen(%q) = %+v, %v; want error with %q", tc.args, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseListen(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
			continue
		}
		if u := got.URL(false); u != tc.url {
			t.Errorf("%q: URL = %q, want %q", tc.args, u, tc.url)
		}
	}
	if u := (listen{Port: 80}).URL(true); u != "http://[::1]:80" {
		t.Errorf("wildcard listener with use_ipv6: %q", u)
	}
}

func TestConfigWords(t *testing.T) {
	for in, want := range map[string][]string{
		`Listen 80`:                     {"Listen", "80"},
		`ErrorLog "/var/log/a b.log"`:   {"ErrorLog", "/var/log/a b.log"},
		`LogFormat "%h \"%r\"" common`:  {"LogFormat", `%h "%r"`, "common"},
		"Define  X\t'single quoted'":    {"Define", "X", "single quoted"},
		`Location "/server-status"`:     {"Location", "/server-status"},
		`SetHandler   server-status   `: {"SetHandler", "server-status"},
		`Include "unterminated`:         {"Include", "unterminated"},
	} {
		if got := configWords(in); !reflect.DeepEqual(got, want) {
			t.Errorf("configWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// debianLike is a configuration laid out like Debian's /etc/apache2.
var debianLike = fstest.MapFS{
	"etc/apache2/apache2.conf": {Data: []byte(`# main file
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
ErrorLog ${APACHE_LOG_DIR}/error.log
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Include ports.conf
IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
`)},
	"etc/apache2/mods-enabled/mpm_event.load": {Data: []byte("LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n")},
	"etc/apache2/mods-enabled/status.load":    {Data: []byte("LoadModule status_module /usr/lib/apache2/modules/mod_status.so\n")},
	"etc/apache2/mods-enabled/status.conf": {Data: []byte(`<IfModule mod_status.c>
	<Location /server-status>
		SetHandler server-status
		Require local
	</Location>
</IfModule>
`)},
	"etc/apache2/ports.conf": {Data: []byte(`Listen 80

<IfModule ssl_module>
	Listen 443
</IfModule>
<IfModule mod_gnutls.c>
	Listen 443
</IfModule>
`)},
	"etc/apache2/sites-enabled/000-default.conf": {Data: []byte(`<VirtualHost *:80>
	DocumentRoot /var/www/html
	ErrorLog ${APACHE_LOG_DIR}/vhost-error.log
</VirtualHost>
`)},
}

func debianEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"APACHE_RUN_DIR":  "/var/run/apache2",
		"APACHE_PID_FILE": "/var/run/apache2/apache2.pid",
		"APACHE_LOG_DIR":  "/var/log/apache2",
	}[name]
	return v, ok
}

func TestReadServerConfigDebianLayout(t *testing.T) {
	sc, err := readServerConfig(debianLike, configInput{
		File: "/etc/apache2/apache2.conf", ServerRoot: "/etc/apache2", Defines: []string{"STATUS"}, Lookup: debianEnv,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := serverConfig{
		ServerRoot: "/etc/apache2",
		PidFile:    "/var/run/apache2/apache2.pid",
		ErrorLog:   "/var/log/apache2/error.log",
		Listens:    []listen{{Port: 80}},
		Status:     []statusLocation{{Path: "/server-status"}},
		Files: []string{
			"/etc/apache2/apache2.conf",
			"/etc/apache2/mods-enabled/mpm_event.load",
			"/etc/apache2/mods-enabled/status.load",
			"/etc/apache2/mods-enabled/status.conf",
			"/etc/apache2/ports.conf",
			"/etc/apache2/sites-enabled/000-default.conf",
		},
	}
	if !reflect.DeepEqual(sc, want) {
		t.Fatalf("got  %+v\nwant %+v", sc, want)
	}
	u, err := statusURL(sc, 0, false)
	if err != nil || u != "http://127.0.0.1:80/server-status" {
		t.Errorf("statusURL = %q, %v", u, err)
	}
}

func TestReadServerConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		in      configInput // File defaults to /srv/httpd.conf, ServerRoot to /srv
		listens []listen
		status  []statusLocation
		pidFile string
		errLog  string
		url     string // statusURL(sc, 0, false)
		err     string // from readServerConfig or statusURL
	}{
		{
			name: "relative includes follow ServerRoot, set before them",
			files: map[string]string{
				"/srv/httpd.conf":           "ServerRoot /opt/web\nInclude conf/listen.conf\nInclude conf.d\n",
				"/opt/web/conf/listen.conf": "Listen 127.0.0.1:8081\n",
				"/opt/web/conf.d/b.conf":    "<Location /status>\nSetHandler server-status\n</Location>\n",
				"/opt/web/conf.d/a.conf":    "PidFile run/httpd.pid\n",
			},
			listens: []listen{{Host: "127.0.0.1", Port: 8081}},
			status:  []statusLocation{{Path: "/status"}},
			pidFile: "/opt/web/logs/run/httpd.pid",
			errLog:  "/opt/web/logs/error_log",
			url:     "http://127.0.0.1:8081/status",
		},
		{
			name: "a directory include reads subdirectories in order",
			files: map[string]string{
				"/srv/httpd.conf":   "Include /srv/d/\n",
				"/srv/d/z.conf":     "Listen 9001\n",
				"/srv/d/sub/a.conf": "Listen 9002\n",
				"/srv/d/a.conf":     "Listen [::1]:9000\n",
			},
			listens: []listen{{Host: "::1", Port: 9000}, {Port: 9002}, {Port: 9001}},
			err:     "has no <Location> with SetHandler server-status",
		},
		{
			name: "quoted status location, https listener first",
			files: map[string]string{
				"/srv/httpd.conf": "Listen 8443 https\nListen 8080\n<Location \"/server-status\">\n  SetHandler server-status\n</Location>\n",
			},
			listens: []listen{{Port: 8443, Proto: "https"}, {Port: 8080}},
			status:  []statusLocation{{Path: "/server-status"}},
			errLog:  "/srv/logs/error_log",
			url:     "https://127.0.0.1:8443/server-status",
		},
		{
			name: "IfDefine and IfModule decide, negations too",
			files: map[string]string{
				"/srv/httpd.conf": `<IfDefine STATUS>
Listen 8001
</IfDefine>
<IfDefine !STATUS>
Listen 8002
</IfDefine>
<IfModule status_module>
Listen 8003
</IfModule>
LoadModule status_module modules/mod_status.so
<IfModule status_module>
<IfModule !mod_status.c>
Listen 8004
</IfModule>
Listen 8005
</IfModule>
<IfModule mod_version.c>
<IfVersion >= 2.4>
Listen 8006
</IfVersion>
</IfModule>
`,
			},
			in:      configInput{Defines: []string{"STATUS"}},
			listens: []listen{{Port: 8001}, {Port: 8005}, {Port: 8006}},
			err:     "has no <Location>",
		},
		{
			name: "Define and the environment expand, unknown names stay",
			files: map[string]string{
				"/srv/httpd.conf": "Define port 8123\nListen ${HOST}:${port}\nPidFile ${PIDDIR}/x.pid\nUndefine port\nErrorLog ${port}/e.log\n",
			},
			in: configInput{Lookup: func(n string) (string, bool) {
				if n == "HOST" {
					return "127.0.0.2", true
				}
				return "", false
			}},
			listens: []listen{{Host: "127.0.0.2", Port: 8123}},
			pidFile: "/srv/logs/${PIDDIR}/x.pid",
			errLog:  "/srv/${port}/e.log",
			err:     "has no <Location>",
		},
		{
			name: "status in a virtual host uses the Listen of its port",
			files: map[string]string{
				"/srv/httpd.conf": `Listen 80
Listen 127.0.0.1:8080
<VirtualHost 127.0.0.1:8080>
  ErrorLog /var/log/vhost.log
  <Location /vstatus>
    SetHandler server-status
  </Location>
</VirtualHost>
ErrorLog "|/usr/bin/logger"
`,
			},
			listens: []listen{{Port: 80}, {Host: "127.0.0.1", Port: 8080}},
			status:  []statusLocation{{Path: "/vstatus", VHost: true, Ports: []int{8080}}},
			url:     "http://127.0.0.1:8080/vstatus",
		},
		{
			name: "a global status location wins over one in a virtual host",
			files: map[string]string{
				"/srv/httpd.conf": `Listen 8080
<VirtualHost *:8080>
<Location /v>
SetHandler server-status
</Location>
</VirtualHost>
<Location /g>
SetHandler server-status
</Location>
ErrorLog syslog:local7
`,
			},
			listens: []listen{{Port: 8080}},
			status:  []statusLocation{{Path: "/v", VHost: true, Ports: []int{8080}}, {Path: "/g"}},
			url:     "http://127.0.0.1:8080/g",
		},
		{
			name: "without a Listen, the status page is on port 80 of loopback",
			files: map[string]string{
				"/srv/httpd.conf": "<Location /server-status>\nSetHandler server-status\n</Location>\n",
			},
			status: []statusLocation{{Path: "/server-status"}},
			errLog: "/srv/logs/error_log",
			url:    "http://127.0.0.1:80/server-status",
		},
		{
			name:    "-C and -c directives",
			files:   map[string]string{"/srv/httpd.conf": "PidFile /run/a.pid\n<Location /s>\nSetHandler server-status\n</Location>\n"},
			in:      configInput{Pre: []string{"Listen 8999"}, Post: []string{"PidFile /run/b.pid"}},
			listens: []listen{{Port: 8999}},
			status:  []statusLocation{{Path: "/s"}},
			pidFile: "/run/b.pid",
			errLog:  "/srv/logs/error_log",
			url:     "http://127.0.0.1:8999/s",
		},
		{
			name: "line continuation and IfFile",
			files: map[string]string{
				"/srv/httpd.conf": "Listen \\\n  8100\n<IfFile /srv/flag>\nListen 8101\n</IfFile>\n<IfFile !/srv/flag>\nListen 8102\n</IfFile>\n<IfFile missing>\nListen 8103\n</IfFile>\n",
				"/srv/flag":       "",
			},
			listens: []listen{{Port: 8100}, {Port: 8101}},
			err:     "has no <Location>",
		},
		{
			name:    "IncludeOptional of nothing is fine",
			files:   map[string]string{"/srv/httpd.conf": "IncludeOptional /srv/none/*.conf\nIncludeOptional /srv/missing.conf\nListen 1\n"},
			listens: []listen{{Port: 1}},
			err:     "has no <Location>",
		},
		{
			name:  "Include of a wildcard that matches nothing fails",
			files: map[string]string{"/srv/httpd.conf": "Include /srv/none/*.conf\n"},
			err:   "/srv/httpd.conf:1: Include /srv/none/*.conf matches no file",
		},
		{
			name:  "Include of a missing file fails",
			files: map[string]string{"/srv/httpd.conf": "\n\nInclude conf/x.conf\n"},
			err:   "/srv/httpd.conf:3: include /srv/conf/x.conf",
		},
		{
			name:  "a file that includes itself",
			files: map[string]string{"/srv/httpd.conf": "Include /srv/httpd.conf\n"},
			err:   "nested deeper than",
		},
		{
			name:  "unclosed section",
			files: map[string]string{"/srv/httpd.conf": "<IfModule x>\n"},
			err:   "<ifmodule> is not closed",
		},
		{
			name:  "bad Listen",
			files: map[string]string{"/srv/httpd.conf": "Listen 80\nListen nope\n"},
			err:   "/srv/httpd.conf:2: Listen nope",
		},
		{
			name: "missing main file",
			in:   configInput{File: "/srv/none.conf"},
			err:  "read /srv/none.conf",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for p, data := range tc.files {
				fsys[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Data: []byte(data)}
			}
			in := tc.in
			if in.File == "" {
				in.File = "/srv/httpd.conf"
			}
			if in.ServerRoot == "" {
				in.ServerRoot = "/srv"
			}
			sc, err := readServerConfig(fsys, in)
			var u string
			if err == nil {
				if !reflect.DeepEqual(sc.Listens, tc.listens) {
					t.Errorf("Listens = %+v, want %+v", sc.Listens, tc.listens)
				}
				if !reflect.DeepEqual(sc.Status, tc.status) {
					t.Errorf("Status = %+v, want %+v", sc.Status, tc.status)
				}
				if sc.PidFile != tc.pidFile {
					t.Errorf("PidFile = %q, want %q", sc.PidFile, tc.pidFile)
				}
				if tc.errLog != "" && sc.ErrorLog != tc.errLog {
					t.Errorf("ErrorLog = %q, want %q", sc.ErrorLog, tc.errLog)
				}
				u, err = statusURL(sc, 0, false)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u != tc.url {
				t.Errorf("statusURL = %q, want %q", u, tc.url)
			}
		})
	}
}

func TestTestURL(t *testing.T) {
	sc := serverConfig{Listens: []listen{{Host: "10.0.0.5", Port: 8080}}}
	for raw, want := range map[string]string{
		"/app/health":              "http://10.0.0.5:8080/app/health",
		"app":                      "http://10.0.0.5:8080/app",
		"https://vip.example/ping": "https://vip.example/ping",
	} {
		if got := testURL(sc, raw, 0, false); got != want {
			t.Errorf("testURL(%q) = %q, want %q", raw, got, want)
		}
	}
	if got := testURL(serverConfig{}, "/x", 8000, false); got != "http://127.0.0.1:8000/x" {
		t.Errorf("testURL without Listen = %q", got)
	}
}

// TestReadInstalledDebianConfig reads the installed /etc/apache2 as start
// would, when apache2 is installed.
func TestReadInstalledDebianConfig(t *testing.T) {
	raw, err := os.ReadFile("/etc/apache2/envvars")
	if err != nil {
		t.Skipf("apache2 is not installed: %v", err)
	}
	env := newShellEnv(nil)
	env.Read("envvars", string(raw))
	sc, err := readServerConfig(os.DirFS("/"), configInput{
		File: "/etc/apache2/apache2.conf", ServerRoot: "/etc/apache2", Defines: []string{"STATUS"}, Lookup: env.Lookup,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sc.PidFile != "/var/run/apache2/apache2.pid" || len(sc.Listens) == 0 {
		t.Errorf("installed config: %+v", sc)
	}
	if len(sc.Status) > 0 {
		if u, err := statusURL(sc, 0, false); err != nil || !strings.HasSuffix(u, "/server-status") {
			t.Errorf("statusURL = %q, %v", u, err)
		}
	}
}
