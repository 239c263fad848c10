package garbd

import (
	"reflect"
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		want    []Peer
		wantErr string
	}{
		{"gcomm://db1", []Peer{{"db1", 4567}}, ""},
		{"gcomm://db1,db2:4568,db3", []Peer{{"db1", 4567}, {"db2", 4568}, {"db3", 4567}}, ""},
		{"gcomm://10.0.0.1:4567, 10.0.0.2:4567", []Peer{{"10.0.0.1", 4567}, {"10.0.0.2", 4567}}, ""},
		{"gcomm://[fd00::1]:4567,[fd00::2]", []Peer{{"fd00::1", 4567}, {"fd00::2", 4567}}, ""},
		{"gcomm://db1.example.com,db_2?pc.wait_prim=no&gmcast.segment=1", []Peer{{"db1.example.com", 4567}, {"db_2", 4567}}, ""},
		{"  gcomm://db1  ", []Peer{{"db1", 4567}}, ""},
		{"gcomm://", nil, "names no node"},
		{"gcomm://?pc.wait_prim=no", nil, "names no node"},
		{"db1,db2", nil, "must start with gcomm://"},
		{"tcp://db1", nil, "must start with gcomm://"},
		{"gcomm://db1,,db2", nil, "empty node"},
		{"gcomm://db1,", nil, "empty node"},
		{"gcomm://db1:0", nil, "not 1 to 65535"},
		{"gcomm://db1:65536", nil, "not 1 to 65535"},
		{"gcomm://db1:port", nil, "not 1 to 65535"},
		{"gcomm://db1:", nil, "not 1 to 65535"},
		{"gcomm://fd00::1", nil, "in brackets"},
		{"gcomm://[fd00::1", nil, "unclosed bracket"},
		{"gcomm://[10.0.0.1]:4567", nil, "not an IPv6 address"},
		{"gcomm://[fd00::1]x", nil, "junk"},
		{"gcomm://db 1", nil, "not a host name"},
		{"gcomm://db1;rm -rf /", nil, "not a host name"},
		{"gcomm://-", []Peer{{"-", 4567}}, ""},
		{"gcomm://.db1", nil, "not a host name"},
		{"gcomm://db1?a=b c", nil, "white space"},
	} {
		got, err := parseAddress(tc.addr)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("parseAddress(%q) = %v, %v; want an error with %q", tc.addr, got, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("parseAddress(%q): %v", tc.addr, err)
		case tc.wantErr == "" && !reflect.DeepEqual(got, tc.want):
			t.Errorf("parseAddress(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(string) error
		value string
		ok    bool
	}{
		{"options", checkOptions, "gmcast.listen_addr=tcp://0.0.0.0:4567", true},
		{"options", checkOptions, "gmcast.listen_addr=tcp://0.0.0.0:4567; socket.ssl=yes;", true},
		{"options", checkOptions, "socket.ssl", false},
		{"options", checkOptions, "a=b; =c", false},
		{"options", checkOptions, "a b=c", false},
		{"cluster", checkClusterName, "my_wsrep_cluster", true},
		{"cluster", checkClusterName, "my cluster", false},
		{"cluster", checkClusterName, strings.Repeat("x", 33), false},
		{"word", checkWord, "nobody", true},
		{"word", checkWord, "no body", false},
		{"word", checkWord, "a/b", false},
		{"absolute", checkAbsolute, "/usr/bin/garbd", true},
		{"absolute", checkAbsolute, "garbd", false},
		{"extra", func(v string) error { return checkExtra(splitExtra(v)) }, "--cfg /etc/garbd.cnf", true},
		{"extra", func(v string) error { return checkExtra(splitExtra(v)) }, "--sst xtrabackup --donor db1", true},
		{"extra", func(v string) error { return checkExtra(splitExtra(v)) }, "--group other", false},
		{"extra", func(v string) error { return checkExtra(splitExtra(v)) }, "--address=gcomm://x", false},
		{"extra", func(v string) error { return checkExtra(splitExtra(v)) }, "-gother", false},
		{"extra", func(v string) error { return checkExtra(splitExtra(v)) }, "-d", false},
		{"extra", func(v string) error { return checkExtra(splitExtra(v)) }, "--log /tmp/x", false},
	} {
		if err := tc.check(tc.value); (err == nil) != tc.ok {
			t.Errorf("%s check of %q: %v, want ok=%v", tc.name, tc.value, err, tc.ok)
		}
	}
}

func testValues(kv ...string) *ocf.Values {
	raw := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		raw[k] = v
	}
	return ocf.NewValues(params(), raw)
}

func TestConfigFrom(t *testing.T) {
	c, err := configFrom(testValues("wsrep_cluster_address=gcomm://db1,db2"), "arb:0", "/run/ra")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Address: "gcomm://db1,db2", Peers: []Peer{{"db1", 4567}, {"db2", 4567}},
		Cluster: "my_wsrep_cluster", Binary: "/usr/bin/garbd", Log: "/var/log/garbd.log",
		Pid: "/run/ra/garbd-arb.pid", Workdir: "/run/ra/garbd-arb", User: "nobody", StopWait: 10,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if got := c.Argv(); !reflect.DeepEqual(got, []string{"/usr/bin/garbd", "--address", "gcomm://db1,db2", "--group", "my_wsrep_cluster"}) {
		t.Errorf("Argv = %q", got)
	}

	c, err = configFrom(testValues("wsrep_cluster_address=gcomm://db1", "wsrep_cluster_name=prod", "name=arb1",
		"options=gmcast.listen_addr=tcp://0.0.0.0:4567; evs.suspect_timeout=PT10S", "pid=/run/g.pid", "workdir=/var/lib/garbd",
		"additional_parameters=--cfg  /etc/g.cnf"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Pid != "/run/g.pid" || c.Workdir != "/var/lib/garbd" {
		t.Errorf("pid %s workdir %s", c.Pid, c.Workdir)
	}
	wantArgv := []string{"/usr/bin/garbd", "--address", "gcomm://db1", "--group", "prod", "--name", "arb1",
		"--options", "gmcast.listen_addr=tcp://0.0.0.0:4567; evs.suspect_timeout=PT10S", "--cfg", "/etc/g.cnf"}
	if got := c.Argv(); !reflect.DeepEqual(got, wantArgv) {
		t.Errorf("Argv =\n %q\nwant\n %q", got, wantArgv)
	}

	c, err = configFrom(testValues("wsrep_cluster_address=gcomm://db1"), "", "")
	if err != nil || c.Pid != "/run/resource-agents/garbd-default.pid" {
		t.Errorf("no resource, no HA_RSCTMP: pid %q, %v", c.Pid, err)
	}

	for _, bad := range [][]string{
		{"wsrep_cluster_address=gcomm://"},
		{"wsrep_cluster_address=gcomm://db1", "additional_parameters=--group x"},
	} {
		if _, err := configFrom(testValues(bad...), "arb", ""); ocf.StatusOf(err) != ocf.ErrConfigured {
			t.Errorf("configFrom(%q) = %v, want OCF_ERR_CONFIGURED", bad, err)
		}
	}
}

func TestIsOurs(t *testing.T) {
	c := Config{Binary: "/usr/bin/garbd", Address: "gcomm://10.0.0.1,10.0.0.2", Cluster: "prod"}
	for _, tc := range []struct {
		argv []string
		want bool
	}{
		{c.Argv(), true},
		{[]string{"/usr/bin/garbd", "--address", "gcomm://10.0.0.1,10.0.0.2", "--group", "prod", "--options", "x=y"}, true},
		{[]string{"garbd", "-a", "gcomm://10.0.0.1,10.0.0.2", "-g", "prod"}, true},
		// as ocf:heartbeat:garbd starts it
		{[]string{"/usr/sbin/garbd", "--address=gcomm://10.0.0.1,10.0.0.2", "--group", "prod", "--log", "/var/log/garbd.log"}, true},
		{[]string{"/usr/bin/garbd", "-agcomm://10.0.0.1,10.0.0.2", "-gprod"}, true},
		{[]string{"/usr/bin/garbd", "--address", "gcomm://10.0.0.1,10.0.0.2", "--group", "other"}, false},
		{[]string{"/usr/bin/garbd", "--address", "gcomm://10.0.0.1", "--group", "prod"}, false},
		{[]string{"/usr/bin/garbd", "--address", "gcomm://10.0.0.1,10.0.0.2"}, false},
		{[]string{"/usr/bin/garbd", "--group", "prod"}, false},
		{[]string{"/usr/bin/garbd", "--group"}, false},
		{[]string{"/usr/sbin/mariadbd", "--address", "gcomm://10.0.0.1,10.0.0.2", "--group", "prod"}, false},
		{[]string{"vi", "/usr/bin/garbd", "--address", "gcomm://10.0.0.1,10.0.0.2", "--group", "prod"}, false},
		{nil, false},
	} {
		if got := c.IsOurs(tc.argv); got != tc.want {
			t.Errorf("IsOurs(%q) = %v, want %v", tc.argv, got, tc.want)
		}
	}
}
