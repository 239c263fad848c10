package lab

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddressPlan(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"subnet 1", Subnet(1).String(), "10.213.1.0/24"},
		{"subnet 250", Subnet(250).String(), "10.213.250.0/24"},
		{"node 1", NodeAddr(7, 1).String(), "10.213.7.1"},
		{"node 5", NodeAddr(7, 5).String(), "10.213.7.5"},
		{"client 1", ClientAddr(7, 1).String(), "10.213.7.101"},
		{"bridge", BridgeAddr(7).String(), "10.213.7.254"},
		{"vip 0", VIPAddr(7, 0).String(), "10.213.7.200"},
		{"bridge name", BridgeName(250), "glab250"},
		{"node veth", NodeVeth(250, 5), "glab250n5"},
		{"client veth", ClientVeth(250, 50), "glab250c50"},
		{"netns", NetNSName("db", "n2"), "goha-db-n2"},
		{"node name", NodeName(3), "n3"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	// Every address of a lab lies in its subnet, and names fit IFNAMSIZ.
	for slot := 1; slot <= MaxSlot; slot++ {
		s := Subnet(slot)
		for _, a := range []netip.Addr{NodeAddr(slot, MaxNodes), ClientAddr(slot, maxClients), BridgeAddr(slot), VIPAddr(slot, 0)} {
			if !s.Contains(a) {
				t.Fatalf("slot %d: %s outside %s", slot, a, s)
			}
		}
		for _, n := range []string{BridgeName(slot), NodeVeth(slot, MaxNodes), ClientVeth(slot, maxClients)} {
			if len(n) > 15 {
				t.Fatalf("interface name %q longer than 15 bytes", n)
			}
		}
	}
	if clientBase+maxClients >= vipBase {
		t.Fatal("client addresses run into the VIP range")
	}
}

func TestFreeSlot(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		name    string
		used    map[int]bool
		host    []netip.Prefix
		want    int
		wantErr bool
	}{
		{name: "empty host", want: 1},
		{name: "first used", used: map[int]bool{1: true, 2: true}, want: 3},
		{name: "gap", used: map[int]bool{1: true, 3: true}, want: 2},
		{name: "host address in slot 1", host: []netip.Prefix{p("10.213.1.0/24")}, want: 2},
		{name: "host /16 covers all", host: []netip.Prefix{p("10.213.0.0/16")}, wantErr: true},
		{name: "unrelated host nets", host: []netip.Prefix{p("192.0.2.0/24"), p("10.0.0.0/24")}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FreeSlot(tt.used, tt.host)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Fatalf("slot = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"lab", true},
		{"e2e-3", true},
		{"a", true},
		{"abcdefghijklmnop", true}, // 16
		{"abcdefghijklmnopq", false},
		{"", false},
		{"1lab", false},
		{"Lab", false},
		{"la b", false},
		{"la/b", false},
		{"../x", false},
	}
	for _, tt := range tests {
		if err := ValidName(tt.in); (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	mk := func(name string) {
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name, stateFile), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ResolveIn(root, ""); err == nil {
		t.Fatal("no lab: want an error")
	}
	mk("one")
	if err := os.MkdirAll(filepath.Join(root, "stray"), 0o755); err != nil { // no state file
		t.Fatal(err)
	}
	if got, err := ResolveIn(root, ""); err != nil || got != "one" {
		t.Fatalf("one lab: got %q, %v", got, err)
	}
	mk("two")
	if _, err := ResolveIn(root, ""); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("two labs: want an error asking for --name, got %v", err)
	}
	if got, err := ResolveIn(root, "two"); err != nil || got != "two" {
		t.Fatalf("named: got %q, %v", got, err)
	}
}

func TestParseStatStart(t *testing.T) {
	tests := []struct {
		name string
		line string
		want uint64
		err  bool
	}{
		{"plain", "42 (corosync) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 100", 123456, false},
		{"comm with spaces and parens", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", 99, false},
		{"short", "7 (x) R 1 2", 0, true},
		{"garbage", "nothing here", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatStart([]byte(tt.line))
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("got %d, %v; want %d, err=%v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestProcMatches(t *testing.T) {
	tests := []struct {
		p    nsProc
		name string
		want bool
	}{
		{nsProc{Comm: "corosync", Argv: []string{"corosync", "-f"}}, "corosync", true},
		{nsProc{Comm: "pacemaker-contr", Argv: []string{"/usr/lib/pacemaker/pacemaker-controld"}}, "pacemaker-controld", true},
		{nsProc{Comm: "pacemaker-based", Argv: []string{"/usr/lib/pacemaker/pacemaker-based"}}, "pacemaker-controld", false},
		{nsProc{Comm: "mariadbd", Argv: []string{"/usr/sbin/mariadbd", "--wsrep-new-cluster"}}, "mariadbd", true},
		{nsProc{Comm: "sh", Argv: []string{"/bin/sh", "corosync"}}, "corosync", false},
	}
	for _, tt := range tests {
		if got := tt.p.matches(tt.name); got != tt.want {
			t.Errorf("%+v matches %q = %v, want %v", tt.p, tt.name, got, tt.want)
		}
	}
}
