package vip

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/ocf"
)

// fakeNet is an in-memory kernel: links, their addresses and routes.
type fakeNet struct {
	links   map[string]*Link
	addrs   map[string][]Addr
	routes  []Route
	dadFail bool // IPv6 addresses fail duplicate address detection
	added   int
}

func newFakeNet() *fakeNet {
	return &fakeNet{
		links: map[string]*Link{
			"eth0": {Name: "eth0", Index: 2, MAC: ourMAC, AdminUp: true, Carrier: true},
			"eth1": {Name: "eth1", Index: 3, MAC: net.HardwareAddr{2, 0, 0, 0, 1, 1}, AdminUp: true, Carrier: true},
		},
		addrs: map[string][]Addr{
			"eth0": {{Net: netip.MustParsePrefix("192.0.2.1/24")}, {Net: netip.MustParsePrefix("fd00::1/64")}},
		},
		routes: []Route{link("192.0.2.0/24", "eth0", 0), {Dst: netip.MustParsePrefix("fd00::/64"), NIC: "eth0", Metric: 256, Unicast: true}},
	}
}

func (f *fakeNet) Routes(family int) ([]Route, error) { return f.routes, nil }

func (f *fakeNet) Link(name string) (Link, error) {
	l, ok := f.links[name]
	if !ok {
		return Link{}, fmt.Errorf("interface %s: %w", name, errNoLink)
	}
	return *l, nil
}

func (f *fakeNet) Observe(t Target) (Observed, error) {
	var o Observed
	if l, ok := f.links[t.NIC]; ok {
		o.LinkFound, o.AdminUp, o.Carrier = true, l.AdminUp, l.Carrier
		for _, a := range f.addrs[t.NIC] {
			if a.Net.Addr().Is4() == t.IP.Is4() {
				o.Addrs = append(o.Addrs, a)
			}
		}
	}
	for nic, addrs := range f.addrs {
		for _, a := range addrs {
			if nic != t.NIC && a.Net.Addr() == t.IP {
				o.Elsewhere = append(o.Elsewhere, nic)
			}
		}
	}
	return o, nil
}

func (f *fakeNet) AddAddr(t Target, lft Lifetime) error {
	if _, ok := f.links[t.NIC]; !ok {
		return errNoLink
	}
	for _, a := range f.addrs[t.NIC] {
		if a.Net == t.Net() {
			return unix.EEXIST
		}
	}
	f.added++
	f.addrs[t.NIC] = append(f.addrs[t.NIC], Addr{Net: t.Net(), Label: t.Label, DADFailed: t.IP.Is6() && f.dadFail})
	return nil
}

func (f *fakeNet) DelAddr(t Target) error {
	if _, ok := f.links[t.NIC]; !ok {
		return errNoLink
	}
	i := slices.IndexFunc(f.addrs[t.NIC], func(a Addr) bool { return a.Net == t.Net() })
	if i < 0 {
		return unix.EADDRNOTAVAIL
	}
	f.addrs[t.NIC] = slices.Delete(f.addrs[t.NIC], i, i+1)
	return nil
}

func (f *fakeNet) SetUp(nic string) error {
	f.links[nic].AdminUp, f.links[nic].Carrier = true, true
	return nil
}

func (f *fakeNet) has(nic, prefix string) bool {
	return slices.ContainsFunc(f.addrs[nic], func(a Addr) bool { return a.Net == netip.MustParsePrefix(prefix) })
}

// fakeWire counts announcements and answers probes with owner.
type fakeWire struct {
	owner  net.HardwareAddr
	sent   int
	probes int
}

type countingAnnouncer struct{ w *fakeWire }

func (c countingAnnouncer) Send() error  { c.w.sent++; return nil }
func (c countingAnnouncer) Close() error { return nil }

func (w *fakeWire) Announcer(Link, netip.Addr) (announcer, error) { return countingAnnouncer{w}, nil }
func (w *fakeWire) Probe(context.Context, Link, netip.Addr, time.Duration) (net.HardwareAddr, error) {
	w.probes++
	return w.owner, nil
}

type rig struct {
	net  *fakeNet
	wire *fakeWire
	a    *ocf.Agent
}

func newRig() *rig {
	r := &rig{net: newFakeNet(), wire: &fakeWire{}}
	r.a = newAgent(&actions{net: r.net, wire: r.wire})
	return r
}

// run performs action with params (name=value) and returns status and stderr.
func (r *rig) run(t *testing.T, action string, params ...string) (ocf.Status, string) {
	t.Helper()
	env := []string{}
	for _, p := range params {
		if strings.HasPrefix(p, "OCF_") {
			env = append(env, p)
		} else {
			env = append(env, "OCF_RESKEY_"+p)
		}
	}
	var out, errb bytes.Buffer
	st := r.a.Run(context.Background(), action, ocf.System{
		Environ: env, Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb, NoLock: true,
	})
	return st, errb.String()
}

func expect(t *testing.T, what string, got ocf.Status, stderr string, want ocf.Status, reason string) {
	t.Helper()
	if got != want || !strings.Contains(stderr, reason) {
		t.Errorf("%s = %v, want %v with %q; stderr:\n%s", what, got, want, reason, stderr)
	}
}

const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

func TestValidateAllRejects(t *testing.T) {
	tests := []struct {
		name   string
		params []string
		reason string
	}{
		{"missing ip", nil, "ocf-exit-reason:parameter ip is required"},
		{"bad ip", []string{"ip=10.0.0.300"}, "ocf-exit-reason:parameter ip is not an IPv4 or IPv6 address"},
		{"unknown nic", []string{"ip=192.0.2.10", "nic=nosuch0"}, `ocf-exit-reason:parameter nic: no such interface "nosuch0"`},
		{"netmask v4 range", []string{"ip=192.0.2.10", "cidr_netmask=33"}, "ocf-exit-reason:parameter cidr_netmask is out of range for an IPv4 address (1 to 32): 33"},
		{"netmask zero", []string{"ip=192.0.2.10", "cidr_netmask=0"}, "ocf-exit-reason:parameter cidr_netmask is out of range"},
		{"netmask v6 range", []string{"ip=fd00::10", "cidr_netmask=129"}, "ocf-exit-reason:parameter cidr_netmask is out of range"},
		{"arp_count", []string{"ip=192.0.2.10", "arp_count=0"}, "ocf-exit-reason:parameter arp_count=0 is below the minimum 1"},
		{"label on v6", []string{"ip=fd00::10", "iflabel=x"}, "ocf-exit-reason:parameter iflabel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, action := range []string{"validate-all", "start"} {
				r := newRig()
				st, stderr := r.run(t, action, tt.params...)
				expect(t, action, st, stderr, ocf.ErrConfigured, tt.reason)
				if r.net.added != 0 {
					t.Errorf("%s added an address", action)
				}
			}
		})
	}
	r := newRig()
	st, stderr := r.run(t, "validate-all", "ip=192.0.2.10")
	expect(t, "validate-all of a good configuration", st, stderr, ocf.Success, "")
	st, stderr = r.run(t, "validate-all", "ip=203.0.113.10")
	expect(t, "validate-all without a route", st, stderr, ocf.ErrGeneric, "no route covers 203.0.113.10")
}

func TestLifecycle(t *testing.T) {
	r := newRig()
	p := []string{"ip=192.0.2.10", "iflabel=web", "arp_count=3", "arp_interval=1"}
	st, stderr := r.run(t, "monitor", p...)
	expect(t, "probe before start", st, stderr, ocf.NotRunning, "")
	st, stderr = r.run(t, "start", p...)
	expect(t, "start", st, stderr, ocf.Success, "")
	if !r.net.has("eth0", "192.0.2.10/24") || r.wire.sent != 3 || r.wire.probes != 0 {
		t.Fatalf("after start: addrs %v, sent %d, probes %d", r.net.addrs["eth0"], r.wire.sent, r.wire.probes)
	}
	if a := r.net.addrs["eth0"][2]; a.Label != "eth0:web" {
		t.Errorf("label = %q", a.Label)
	}
	st, stderr = r.run(t, "start", p...)
	expect(t, "second start", st, stderr, ocf.Success, "already on eth0")
	if r.net.added != 1 || r.wire.sent != 6 {
		t.Errorf("second start: added %d times, sent %d; want 1 add and a second burst", r.net.added, r.wire.sent)
	}
	st, stderr = r.run(t, "monitor", append(p, recurring)...)
	expect(t, "monitor", st, stderr, ocf.Success, "")
	if r.wire.sent != 6 {
		t.Errorf("monitor announced without arp_count_refresh")
	}
	st, stderr = r.run(t, "stop", p...)
	expect(t, "stop", st, stderr, ocf.Success, "")
	if r.net.has("eth0", "192.0.2.10/24") || !r.net.has("eth0", "192.0.2.1/24") {
		t.Errorf("after stop: %v", r.net.addrs["eth0"])
	}
	st, stderr = r.run(t, "stop", p...)
	expect(t, "second stop", st, stderr, ocf.Success, "nothing to remove")
	st, stderr = r.run(t, "monitor", append(p, recurring)...)
	expect(t, "monitor after stop", st, stderr, ocf.NotRunning, "ocf-exit-reason:192.0.2.10/24 is not on eth0")
	st, stderr = r.run(t, "monitor", p...)
	expect(t, "probe after stop", st, stderr, ocf.NotRunning, "")
}

func TestStartRefuses(t *testing.T) {
	t.Run("conflict", func(t *testing.T) {
		r := newRig()
		r.wire.owner = theirMAC
		st, stderr := r.run(t, "start", "ip=192.0.2.10", "conflict_check=true")
		expect(t, "start", st, stderr, ocf.ErrGeneric, "ocf-exit-reason:192.0.2.10 is already in use by 02:00:00:00:00:02 on eth0")
		if r.net.added != 0 || r.wire.sent != 0 {
			t.Errorf("start added %d addresses, sent %d announcements", r.net.added, r.wire.sent)
		}
	})
	t.Run("no conflict", func(t *testing.T) {
		r := newRig()
		st, stderr := r.run(t, "start", "ip=192.0.2.10", "conflict_check=yes", "arp_interval=1")
		expect(t, "start", st, stderr, ocf.Success, "")
		if r.wire.probes != 1 || r.net.added != 1 {
			t.Errorf("probes %d, added %d", r.wire.probes, r.net.added)
		}
	})
	t.Run("other prefix", func(t *testing.T) {
		r := newRig()
		r.net.addrs["eth0"] = append(r.net.addrs["eth0"], Addr{Net: netip.MustParsePrefix("192.0.2.10/16")})
		st, stderr := r.run(t, "start", "ip=192.0.2.10", "cidr_netmask=24", "nic=eth0")
		expect(t, "start", st, stderr, ocf.ErrGeneric, "eth0 has 192.0.2.10/16, not 192.0.2.10/24: remove that address or set cidr_netmask")
	})
	t.Run("ipv6 duplicate", func(t *testing.T) {
		r := newRig()
		r.net.dadFail = true
		r.wire.owner = theirMAC
		st, stderr := r.run(t, "start", "ip=fd00::10")
		expect(t, "start", st, stderr, ocf.ErrGeneric, "fd00::10 is already in use by 02:00:00:00:00:02 on eth0 (duplicate address detection failed); removed it")
		if r.net.has("eth0", "fd00::10/64") {
			t.Error("the duplicate address was left behind")
		}
	})
	t.Run("no carrier", func(t *testing.T) {
		r := newRig()
		r.net.links["eth1"].Carrier = false
		ctx := "OCF_RESKEY_CRM_meta_timeout=1300" // 300 ms of waiting after the margin
		st, stderr := r.run(t, "start", "ip=192.0.2.10", "nic=eth1", "cidr_netmask=24", ctx)
		expect(t, "start", st, stderr, ocf.ErrGeneric, "eth1 has no carrier")
		if r.net.added != 0 {
			t.Error("an address was added to a link without carrier")
		}
	})
	t.Run("admin down is brought up", func(t *testing.T) {
		r := newRig()
		r.net.links["eth1"].AdminUp, r.net.links["eth1"].Carrier = false, false
		st, stderr := r.run(t, "start", "ip=192.0.2.10", "nic=eth1", "cidr_netmask=24", "arp_interval=1")
		expect(t, "start", st, stderr, ocf.Success, "bringing eth1 up")
		if !r.net.has("eth1", "192.0.2.10/24") {
			t.Error("address not added")
		}
	})
}

func TestMonitorStates(t *testing.T) {
	p := []string{"ip=192.0.2.10", "nic=eth0", "cidr_netmask=24"}
	ours := Addr{Net: netip.MustParsePrefix("192.0.2.10/24")}
	tests := []struct {
		name   string
		setup  func(*rig)
		extra  []string
		want   ocf.Status
		reason string
	}{
		{"up", func(r *rig) {}, nil, ocf.Success, ""},
		{"link down", func(r *rig) { r.net.links["eth0"].Carrier = false }, nil, ocf.NotRunning, "has no carrier"},
		{"link down probe", func(r *rig) { r.net.links["eth0"].AdminUp = false }, []string{"OCF_RESKEY_CRM_meta_interval=0"}, ocf.NotRunning, ""},
		{"interface gone", func(r *rig) { delete(r.net.links, "eth0") }, nil, ocf.NotRunning, "interface eth0 does not exist"},
		{"duplicate", func(r *rig) { r.net.addrs["eth0"][2].DADFailed = true }, nil, ocf.ErrGeneric, "duplicate address detection failed"},
		{"level 10 clean", func(r *rig) {}, []string{"OCF_CHECK_LEVEL=10"}, ocf.Success, ""},
		{"level 10 duplicate", func(r *rig) { r.wire.owner = theirMAC }, []string{"OCF_CHECK_LEVEL=10"}, ocf.ErrGeneric, "already in use by 02:00:00:00:00:02"},
		{"level 0 ignores the wire", func(r *rig) { r.wire.owner = theirMAC }, nil, ocf.Success, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig()
			r.net.addrs["eth0"] = append(r.net.addrs["eth0"], ours)
			tt.setup(r)
			params := append(append(slices.Clone(p), recurring), tt.extra...)
			st, stderr := r.run(t, "monitor", params...)
			expect(t, "monitor", st, stderr, tt.want, tt.reason)
		})
	}
}

func TestMonitorRefresh(t *testing.T) {
	r := newRig()
	r.net.addrs["eth0"] = append(r.net.addrs["eth0"], Addr{Net: netip.MustParsePrefix("192.0.2.10/24")})
	p := []string{"ip=192.0.2.10", "arp_count_refresh=2", "arp_interval=1"}
	if st, stderr := r.run(t, "monitor", append(p, recurring)...); st != ocf.Success || r.wire.sent != 2 {
		t.Errorf("recurring monitor = %v, sent %d; want 2 announcements\n%s", st, r.wire.sent, stderr)
	}
	if st, _ := r.run(t, "monitor", p...); st != ocf.Success || r.wire.sent != 2 {
		t.Errorf("probe = %v, sent %d in total; a probe must not announce", st, r.wire.sent)
	}
}

func TestStopLeavesOthersAlone(t *testing.T) {
	r := newRig()
	other := Addr{Net: netip.MustParsePrefix("192.0.2.10/16")}
	r.net.addrs["eth0"] = append(r.net.addrs["eth0"], other)
	r.net.addrs["eth1"] = []Addr{{Net: netip.MustParsePrefix("192.0.2.10/24")}}
	st, stderr := r.run(t, "stop", "ip=192.0.2.10", "nic=eth0", "cidr_netmask=24")
	expect(t, "stop", st, stderr, ocf.Success, "")
	if !r.net.has("eth0", "192.0.2.10/16") || !r.net.has("eth1", "192.0.2.10/24") {
		t.Errorf("stop removed an address that is not its own: %v", r.net.addrs)
	}

	delete(r.net.links, "eth1")
	st, stderr = r.run(t, "stop", "ip=192.0.2.10", "nic=eth1", "cidr_netmask=24")
	expect(t, "stop on a vanished interface", st, stderr, ocf.Success, "")
	st, stderr = r.run(t, "stop", "ip=192.0.2.10", "nic=eth1")
	expect(t, "stop on a vanished interface, prefix from routes", st, stderr, ocf.Success, "")
	st, stderr = r.run(t, "stop", "ip=not-an-ip")
	expect(t, "stop with a bad ip", st, stderr, ocf.Success, "")
}
