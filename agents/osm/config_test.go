package osm

import (
	"slices"
	"strings"
	"testing"

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

func TestConfigFrom(t *testing.T) {
	base := []string{"farm_network=10.20.0.0/16", "snat_address=192.0.2.10"}
	for _, tc := range []struct {
		name     string
		params   []string
		resource string
		table    string
		service  *Service
		status   ocf.Status
		reason   string
	}{
		{name: "rule only", params: base, resource: "sm", table: "goha_osm_sm"},
		{name: "clone suffix and odd characters", params: base, resource: "ovd-sm.1", table: "goha_osm_ovd_sm_1"},
		{name: "no resource", params: base, table: "goha_osm_default"},
		{name: "long resource", params: base, resource: strings.Repeat("x", 100), table: "goha_osm_" + strings.Repeat("x", 55)},
		{name: "own table", params: append(base, "table=ovd_snat"), resource: "sm", table: "ovd_snat"},
		{name: "service", resource: "sm", table: "goha_osm_sm",
			params: append(base, "start_command=/usr/bin/systemctl start  ovd", "stop_command=/usr/bin/systemctl stop ovd",
				"status_command=/usr/bin/systemctl is-active --quiet ovd"),
			service: &Service{
				Start:  []string{"/usr/bin/systemctl", "start", "ovd"},
				Stop:   []string{"/usr/bin/systemctl", "stop", "ovd"},
				Status: []string{"/usr/bin/systemctl", "is-active", "--quiet", "ovd"},
			}},
		{name: "start without stop", params: append(base, "start_command=/bin/true", "status_command=/bin/true"),
			status: ocf.ErrConfigured, reason: "parameter stop_command is required with start_command"},
		{name: "start without status", params: append(base, "start_command=/bin/true", "stop_command=/bin/true"),
			status: ocf.ErrConfigured, reason: "parameter status_command is required with start_command"},
		{name: "stop alone", params: append(base, "stop_command=/bin/true"),
			status: ocf.ErrConfigured, reason: "parameter stop_command is set but start_command is not"},
		{name: "status alone", params: append(base, "status_command=/bin/true"),
			status: ocf.ErrConfigured, reason: "parameter status_command is set but start_command is not"},
		{name: "versions differ", params: []string{"farm_network=fd00::/64", "snat_address=192.0.2.10"},
			status: ocf.ErrConfigured, reason: "parameter snat_address 192.0.2.10 is not of the IP version of farm_network fd00::/64"},
		{name: "ipv6", params: []string{"farm_network=fd00:20::/64", "snat_address=fd00:1::10"}, resource: "sm", table: "goha_osm_sm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := configFrom(values(tc.params...), tc.resource)
			if tc.reason != "" {
				if ocf.StatusOf(err) != tc.status || ocf.ReasonOf(err) != tc.reason {
					t.Fatalf("error %v (status %v), want %v %q", err, ocf.StatusOf(err), tc.status, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Ruleset.Table != tc.table {
				t.Errorf("table %q, want %q", c.Ruleset.Table, tc.table)
			}
			if checkTable(c.Ruleset.Table) != nil {
				t.Errorf("table %q fails its own check", c.Ruleset.Table)
			}
			if (c.Service == nil) != (tc.service == nil) || c.Service != nil &&
				(!slices.Equal(c.Service.Start, tc.service.Start) || !slices.Equal(c.Service.Stop, tc.service.Stop) ||
					!slices.Equal(c.Service.Status, tc.service.Status)) {
				t.Errorf("service %+v, want %+v", c.Service, tc.service)
			}
		})
	}
}

// TestParameterChecks runs the declared checks as validate-all does.
func TestParameterChecks(t *testing.T) {
	good := []string{"farm_network=10.20.0.0/16", "snat_address=192.0.2.10"}
	for _, tc := range []struct {
		param, value string
		reason       string // "" when the value is accepted
	}{
		{"farm_network", "10.20.0.0/20", ""},
		{"farm_network", "0.0.0.0/0", ""},
		{"farm_network", "fd00:1:2::/52", ""},
		{"farm_network", "10.20.0.1/16", "has host bits set: 10.20.0.1/16 (did you mean 10.20.0.0/16?)"},
		{"farm_network", "10.20.0.0", "is not a network in CIDR notation"},
		{"farm_network", "10.20.0.0/33", "is not a network in CIDR notation"},
		{"farm_network", "::ffff:10.0.0.0/104", "must be a plain IPv4 or IPv6 network"},
		{"farm_network", "farm", "is not a network in CIDR notation"},
		{"snat_address", "fd00::1", ""},
		{"snat_address", "192.0.2.300", "is not an IP address"},
		{"snat_address", "fe80::1%eth0", "is not an IP address"},
		{"snat_address", "0.0.0.0", "is not a unicast address"},
		{"snat_address", "224.0.0.1", "is not a unicast address"},
		{"out_interface", "bond0.100", ""},
		{"out_interface", "averyveryverylongname", "is not an interface name"},
		{"out_interface", "eth0:1", "is not an interface name"},
		{"out_interface", "a b", "is not an interface name"},
		{"table", "ovd_snat", ""},
		{"table", "1table", "must be a letter followed by"},
		{"table", "ovd-snat", "must be a letter followed by"},
		{"table", "ovd;flush ruleset", "must be a letter followed by"},
		{"table", strings.Repeat("t", 65), "must be a letter followed by"},
		{"start_command", "   ", "is blank"},
	} {
		t.Run(tc.param+"="+tc.value, func(t *testing.T) {
			kv := append(slices.Clone(good), tc.param+"="+tc.value)
			err := values(kv...).Validate(params())
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(ocf.ReasonOf(err), tc.param) ||
				!strings.Contains(ocf.ReasonOf(err), tc.reason) {
				t.Fatalf("got %v (%v), want ERR_CONFIGURED naming %s with %q", err, ocf.StatusOf(err), tc.param, tc.reason)
			}
		})
	}
}
