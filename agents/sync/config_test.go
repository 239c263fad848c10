package sync

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// values resolves raw parameters against the agent's declaration.
func values(t *testing.T, raw map[string]string) *ocf.Values {
	t.Helper()
	return ocf.NewValues(params(), raw)
}

func TestConfigDestinations(t *testing.T) {
	base := map[string]string{pDirectory: "/srv/ovd/data/"}
	for _, tc := range []struct {
		name    string
		params  map[string]string
		want    []string // destinations
		wantErr string
	}{
		{"ssh host keeps the local path", map[string]string{pPeers: "sm2"}, []string{"sm2:/srv/ovd/data/"}, ""},
		{"ssh user from parameter", map[string]string{pPeers: "sm2 10.0.0.3", pSSHUser: "sync"},
			[]string{"sync@sm2:/srv/ovd/data/", "sync@10.0.0.3:/srv/ovd/data/"}, ""},
		{"ssh user in the peer wins", map[string]string{pPeers: "admin@sm2", pSSHUser: "sync"}, []string{"admin@sm2:/srv/ovd/data/"}, ""},
		{"ssh remote directory", map[string]string{pPeers: "sm2", pRemoteDir: "/backup/ovd/"}, []string{"sm2:/backup/ovd/"}, ""},
		{"ssh IPv6 in brackets", map[string]string{pPeers: "[fd00::2]"}, []string{"[fd00::2]:/srv/ovd/data/"}, ""},
		{"ssh relative remote", map[string]string{pPeers: "sm2", pRemoteDir: "data"}, nil, "absolute"},
		{"ssh with a port", map[string]string{pPeers: "sm2:2222"}, nil, "~/.ssh/config"},
		{"ssh with an rsync URL", map[string]string{pPeers: "rsync://sm2/data"}, nil, "transport=daemon"},
		{"ssh with a password file", map[string]string{pPeers: "sm2", pPasswordFile: "/etc/pw"}, nil, "password_file is for transport=daemon"},
		{"daemon with module", map[string]string{pPeers: "sm2 127.0.0.1:8873", pTransport: "daemon", pModule: "ovd"},
			[]string{"rsync://sm2/ovd/", "rsync://127.0.0.1:8873/ovd/"}, ""},
		{"daemon with module and path", map[string]string{pPeers: "sm2", pTransport: "daemon", pModule: "ovd", pRemoteDir: "/data/"},
			nil, "inside the module"},
		{"daemon with module and relative path", map[string]string{pPeers: "u@sm2", pTransport: "daemon", pModule: "ovd", pRemoteDir: "data/"},
			[]string{"rsync://u@sm2/ovd/data/"}, ""},
		{"daemon escaping the module", map[string]string{pPeers: "sm2", pTransport: "daemon", pModule: "ovd", pRemoteDir: "a/../../etc"},
			nil, "inside the module"},
		{"daemon IPv6 with port", map[string]string{pPeers: "[fd00::2]:873", pTransport: "daemon", pModule: "m"},
			[]string{"rsync://[fd00::2]:873/m/"}, ""},
		{"daemon URL", map[string]string{pPeers: "rsync://sync@sm2:8873/ovd/data", pTransport: "daemon"},
			[]string{"rsync://sync@sm2:8873/ovd/data/"}, ""},
		{"daemon URL without module", map[string]string{pPeers: "rsync://sm2/", pTransport: "daemon"}, nil, "names no module"},
		{"daemon without module", map[string]string{pPeers: "sm2", pTransport: "daemon"}, nil, "rsync_module is required"},
		{"daemon with an ssh key", map[string]string{pPeers: "rsync://sm2/m", pTransport: "daemon", pSSHKey: "/root/.ssh/id"}, nil, "for transport=ssh"},
		{"bad port", map[string]string{pPeers: "sm2:99999", pTransport: "daemon", pModule: "m"}, nil, "not 1 to 65535"},
		{"empty port", map[string]string{pPeers: "sm2:", pTransport: "daemon", pModule: "m"}, nil, "empty port"},
		{"unbracketed IPv6", map[string]string{pPeers: "fd00::2"}, nil, "in brackets"},
		{"not a host", map[string]string{pPeers: "sm2;reboot"}, nil, "not a host name"},
		{"option as host", map[string]string{pPeers: "x@-oProxyCommand=id"}, nil, "not a host name"},
		{"option as peer", map[string]string{pPeers: "-e"}, nil, "not a peer"},
		{"user with a colon", map[string]string{pPeers: "a:b@sm2"}, nil, "not a plain name"},
		{"twice", map[string]string{pPeers: "sm2 sm2"}, nil, "twice"},
		{"none", map[string]string{pPeers: "  "}, nil, "names no peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]string{}
			for k, v := range base {
				raw[k] = v
			}
			for k, v := range tc.params {
				raw[k] = v
			}
			c, err := configFrom(values(t, raw), "data:0", "/run/resource-agents")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, %v; want an error with %q", c.Peers, err, tc.wantErr)
				}
				if ocf.StatusOf(err) != ocf.ErrConfigured {
					t.Fatalf("error %v has status %v, want %v", err, ocf.StatusOf(err), ocf.ErrConfigured)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range c.Peers {
				got = append(got, p.Dest)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("destinations %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := configFrom(values(t, map[string]string{pDirectory: "/srv/data", pPeers: "sm2"}), "data:1", "/tmp/rsc")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Resource: "data", Directory: "/srv/data", Peers: []Peer{{"sm2", "sm2:/srv/data/"}}, Transport: "ssh",
		Rsync: "/usr/bin/rsync", Debounce: 200 * time.Millisecond, MaxLag: time.Minute, IOTimeout: 30 * time.Second,
		RetryMax: 30 * time.Second, StateDir: "/tmp/rsc",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("config\n%+v\nwant\n%+v", c, want)
	}
	if c.pidFile() != "/tmp/rsc/sync-data.pid" || c.stateFile() != "/tmp/rsc/sync-data.state" {
		t.Fatalf("files %s %s", c.pidFile(), c.stateFile())
	}
	if argv := c.daemonArgv("/usr/sbin/goha"); !c.IsOurs(argv) || !reflect.DeepEqual(argv, []string{"/usr/sbin/goha", "sync-daemon", "/tmp/rsc/sync-data.conf"}) {
		t.Fatalf("daemon argv %q", argv)
	}
	other := c
	other.Resource = "other"
	if other.IsOurs(c.daemonArgv("/usr/sbin/goha")) {
		t.Fatal("another resource's daemon counts as ours")
	}
	// The same resource name in another cluster on this machine (the lab
	// runs several) or another test: not ours either.
	elsewhere := c
	elsewhere.StateDir = "/run/lab-n2/resource-agents"
	if elsewhere.IsOurs(c.daemonArgv("/usr/sbin/goha")) {
		t.Fatal("a daemon with another state directory counts as ours")
	}
}

func TestRsyncArgv(t *testing.T) {
	ssh := Config{Directory: "/srv/data", Transport: "ssh", Rsync: "/usr/bin/rsync", IOTimeout: 30 * time.Second}
	for _, tc := range []struct {
		name string
		c    func(c *Config)
		peer Peer
		want []string
	}{
		{"ssh defaults", func(*Config) {}, Peer{"sm2", "sm2:/srv/data/"},
			[]string{"/usr/bin/rsync", "--archive", "--delete", "--timeout=30",
				"--rsh=ssh -o BatchMode=yes -o ConnectTimeout=30", "/srv/data/", "sm2:/srv/data/"}},
		{"ssh with key, excludes and options", func(c *Config) {
			c.SSHKey = "/root/.ssh/id_sync"
			c.Excludes = []string{"*.tmp", "cache/"}
			c.Options = []string{"--numeric-ids", "-H"}
			c.IOTimeout = 5 * time.Second
		}, Peer{"sm2", "sync@sm2:/backup/"},
			[]string{"/usr/bin/rsync", "--archive", "--delete", "--timeout=5",
				"--rsh=ssh -o BatchMode=yes -o ConnectTimeout=5 -i /root/.ssh/id_sync -o IdentitiesOnly=yes",
				"--exclude=*.tmp", "--exclude=cache/", "--numeric-ids", "-H", "/srv/data/", "sync@sm2:/backup/"}},
		{"daemon", func(c *Config) { c.Transport = "daemon" }, Peer{"sm2", "rsync://sm2/m/"},
			[]string{"/usr/bin/rsync", "--archive", "--delete", "--timeout=30", "--contimeout=30", "/srv/data/", "rsync://sm2/m/"}},
		{"daemon with password file", func(c *Config) { c.Transport = "daemon"; c.PasswordFile = "/etc/sync.pw" }, Peer{"sm2", "rsync://u@sm2/m/"},
			[]string{"/usr/bin/rsync", "--archive", "--delete", "--timeout=30", "--contimeout=30", "--password-file=/etc/sync.pw",
				"/srv/data/", "rsync://u@sm2/m/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ssh
			tc.c(&c)
			if got := rsyncArgv(c, tc.peer); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("argv\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestRsyncPullArgv(t *testing.T) {
	c := Config{Directory: "/srv/data/", Transport: "daemon", Rsync: "rsync", IOTimeout: 10 * time.Second, Excludes: []string{"*.tmp"}}
	want := []string{"rsync", "--archive", "--update", "--timeout=10", "--contimeout=10", "--exclude=*.tmp", "rsync://sm1/m/", "/srv/data/"}
	if got := rsyncPullArgv(c, Peer{"sm1", "rsync://sm1/m/"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("argv\n%q\nwant\n%q", got, want)
	}
	for _, a := range rsyncPullArgv(c, Peer{"sm1", "rsync://sm1/m/"}) {
		if a == "--delete" {
			t.Fatal("the merge deletes files")
		}
	}
}

func TestParamChecks(t *testing.T) {
	for _, tc := range []struct {
		param, value string
		ok           bool
	}{
		{pDirectory, "/srv/data", true},
		{pDirectory, "srv/data", false},
		{pDirectory, "/", false},
		{pDirectory, "//", false},
		{pSSHKey, "/root/.ssh/id_ed25519", true},
		{pSSHKey, "/root/my key", false},
		{pSSHKey, "/root/k'ey", false},
		{pModule, "ovd", true},
		{pModule, "ovd/x", false},
		{pModule, "-x", false},
		{pSSHUser, "sync", true},
		{pSSHUser, "-oProxyCommand=x", false},
		{pRemoteDir, "-x", false},
		{pRemoteDir, "/", false},
		{pRsyncOptions, "--numeric-ids -H --bwlimit=10m", true},
		{pRsyncOptions, "--rsh=nc", false},
		{pRsyncOptions, "-e nc", false},
		{pRsyncOptions, "-avn", false},
		{pRsyncOptions, "--files-from=/x", false},
		{pRsyncOptions, "--remove-source-files", false},
		{pRsyncOptions, "/etc", false},
		{pPeers, "sm2 sm3", true},
		{pPeers, "sm2 sm2", false},
	} {
		var p ocf.Param
		for _, d := range params() {
			if d.Name == tc.param {
				p = d
			}
		}
		if p.Check == nil {
			t.Fatalf("parameter %s has no check", tc.param)
		}
		if err := p.Check(tc.value); (err == nil) != tc.ok {
			t.Errorf("%s=%q: %v, want ok=%v", tc.param, tc.value, err, tc.ok)
		}
	}
}

func TestOtherPeers(t *testing.T) {
	peers := []Peer{{Name: "osm1"}, {Name: "root@osm2"}, {Name: "rsync://osm1:8873/data/x"}, {Name: "10.0.0.2"}, {Name: "[fd00::2]:873"}}
	self := map[string]bool{"osm1": true, "fd00::2": true}
	got := OtherPeers(peers, func(h string) bool { return self[h] })
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if want := "root@osm2 10.0.0.2"; strings.Join(names, " ") != want {
		t.Errorf("OtherPeers = %v, want %s", names, want)
	}
	for in, want := range map[string]string{
		"osm1": "osm1", "user@osm2": "osm2", "osm3:22": "osm3", "rsync://u@osm4:873/m/p": "osm4",
		"[fd00::1]:873": "fd00::1", "fd00::1": "fd00::1", "rsync://[fd00::5]/m": "fd00::5",
	} {
		if got := peerHost(in); got != want {
			t.Errorf("peerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLocalHost(t *testing.T) {
	host, _ := os.Hostname()
	is := localHost("node-a")
	for _, tc := range []struct {
		host string
		want bool
	}{{"node-a", true}, {host, true}, {"127.0.0.1", false}, {"localhost", false}, {"192.0.2.250", false}, {"", false}} {
		if got := is(tc.host); got != tc.want {
			t.Errorf("localHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}
