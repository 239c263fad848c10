package osm

import (
	"errors"
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

func TestServiceStatus(t *testing.T) {
	for _, tc := range []struct {
		code   int
		output string
		err    error
		state  ServiceState
		detail string
	}{
		{0, "active\n", nil, ServiceRunning, ""},
		{3, "inactive\n", nil, ServiceStopped, ""},
		{1, "dead\nmore", nil, ServiceStopped, "status_command exited with 1: the service is dead but left its pid or lock file: dead"},
		{2, "", nil, ServiceStopped, "status_command exited with 2: the service is dead but left its pid or lock file"},
		{4, "no permission", nil, ServiceUnknown, "status_command exited with 4 (unknown state): no permission"},
		{-1, "", nil, ServiceUnknown, "status_command did not exit normally"},
		{-1, "", errors.New("exec: no such file"), ServiceUnknown, "status_command failed: exec: no such file"},
	} {
		got := serviceStatus(tc.code, tc.output, tc.err)
		if got.State != tc.state || got.Detail != tc.detail {
			t.Errorf("serviceStatus(%d, %q, %v) = %+v, want %v %q", tc.code, tc.output, tc.err, got, tc.state, tc.detail)
		}
	}
}

func TestAssess(t *testing.T) {
	rs := ruleset("10.20.0.0/16", "192.0.2.10", "")
	ours := Observed{Family: inet, Chains: []ObservedChain{observedChain(rs, inet)}}
	oursIP := Observed{Family: ip4, Chains: []ObservedChain{observedChain(rs, ip4)}}
	edited := Observed{Family: inet, Chains: []ObservedChain{observedChain(ruleset("10.20.0.0/16", "192.0.2.99", ""), inet)}}
	edited.Chains[0].Rules[0].Comment = rs.Comment()
	foreign := Observed{Family: inet, Chains: []ObservedChain{{Name: "postrouting"}}}
	running := ServiceStatus{State: ServiceRunning}
	stopped := ServiceStatus{State: ServiceStopped}
	dead := ServiceStatus{ServiceStopped, "status_command exited with 1: the service is dead but left its pid or lock file"}
	unknown := ServiceStatus{ServiceUnknown, "status_command exited with 4 (unknown state)"}
	none := ServiceStatus{State: NoService}
	for _, tc := range []struct {
		name   string
		tables []Observed
		svc    ServiceStatus
		status ocf.Status
		reason string
	}{
		{"rule only, in place", []Observed{ours}, none, ocf.Success, ""},
		{"rule only, in place in the fallback family", []Observed{oursIP}, none, ocf.Success, ""},
		{"rule only, absent", nil, none, ocf.NotRunning, "the SNAT table goha_osm_sm is absent"},
		{"service and rule", []Observed{ours}, running, ocf.Success, ""},
		{"both stopped", nil, stopped, ocf.NotRunning, "absent and the service is stopped"},
		{"both stopped, service left a pid file", nil, dead, ocf.NotRunning, "absent and the service is stopped"},
		{"table deleted behind the agent's back", nil, running, ocf.ErrGeneric, "the service runs but the SNAT table goha_osm_sm is missing"},
		{"service died", []Observed{ours}, stopped, ocf.ErrGeneric, "the service is stopped while its SNAT rule is in place"},
		{"service died, pid file left", []Observed{ours}, dead, ocf.ErrGeneric, "(status_command exited with 1"},
		{"rule edited", []Observed{edited}, running, ocf.ErrGeneric,
			`table inet goha_osm_sm was changed: rule 1 is "meta nfproto ipv4 ip daddr 10.20.0.0/16 snat ip to 192.0.2.99"`},
		{"rule edited, service stopped", []Observed{edited}, stopped, ocf.ErrGeneric, "was changed"},
		{"in two families", []Observed{ours, oursIP}, running, ocf.ErrGeneric, "exists in several families (inet, ip)"},
		{"foreign table of the name, nothing running", []Observed{foreign}, stopped, ocf.NotRunning,
			"table inet goha_osm_sm exists but is not this resource's"},
		{"foreign table of the name, service running", []Observed{foreign}, running, ocf.ErrGeneric, "is missing"},
		{"status unknown", []Observed{ours}, unknown, ocf.ErrGeneric, "cannot tell whether the service runs: status_command exited with 4"},
		{"status unknown, nothing else", nil, unknown, ocf.ErrGeneric, "cannot tell"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := assess(rs, tc.tables, tc.svc)
			if v.Status != tc.status || !strings.Contains(v.Reason, tc.reason) || tc.reason == "" && v.Reason != "" {
				t.Errorf("assess = %v %q, want %v %q", v.Status, v.Reason, tc.status, tc.reason)
			}
		})
	}
}
