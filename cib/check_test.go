package cib

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/goha-ha/goha/cib/meta"
	"github.com/goha-ha/goha/cib/spec"
)

// base is a valid, fenced 3-node spec the cases add to.
const base = `nodes:
  - name: n1
  - name: n2
  - name: n3
properties:
  stonith-enabled: "true"
fencing:
  devices:
    - id: f1
      agent: fence_virsh
      host_map: {n1: n1, n2: n2, n3: n3}
      params: {ip: 192.0.2.1, username: root}
`

// agentsFixture is meta-data the checks are run against.
var agentsFixture = meta.Static{
	"ocf:heartbeat:IPaddr2": {Name: "IPaddr2", Params: []meta.Param{{Name: "ip", Required: true}, {Name: "cidr_netmask"}, {Name: "nic"}, {Name: "flush_routes", Deprecated: true}}, Actions: []string{"start", "stop", "monitor"}},
	"ocf:heartbeat:Dummy":   {Name: "Dummy", Params: []meta.Param{{Name: "state"}}, Actions: []string{"start", "stop", "monitor", "reload", "migrate_to", "migrate_from"}},
	"ocf:linbit:drbd":       {Name: "drbd", Params: []meta.Param{{Name: "drbd_resource", Required: true}}, Actions: []string{"start", "stop", "monitor", "promote", "demote", "notify"}},
	"systemd:haproxy":       {Name: "haproxy", AnyParams: true},
	"stonith:fence_virsh": {Name: "fence_virsh", Params: []meta.Param{
		{Name: "ip", Required: true, Obsoletes: "ipaddr"}, {Name: "ipaddr", Required: true, Deprecated: true, ReplacedBy: "ip"},
		{Name: "username", Required: true, Obsoletes: "login"}, {Name: "login", Required: true, Deprecated: true, ReplacedBy: "username"},
		{Name: "identity_file"}, {Name: "action", Required: true}, {Name: "plug", Required: true}}},
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		extra  string // YAML appended to base (or replacing it when it has nodes:)
		target string
		unsafe bool
		// want is "error|warning LINE PATH: text"; empty means no finding
		// of either kind.
		want []string
	}{
		{name: "valid", extra: "primitives:\n  - id: vip\n    agent: ocf:heartbeat:IPaddr2\n    params: {ip: 192.0.2.9}\n"},
		{name: "group member unknown", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\ngroups:\n  - id: g\n    members: [a, b]\n",
			want: []string{`error 18 groups[0].members[1]: no primitive "b"`}},
		{name: "clone of unknown", extra: "clones:\n  - resource: nope\n",
			want: []string{`error 14 clones[0].resource: no primitive or group "nope"`}},
		{name: "promoted role on a plain clone", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\n  - id: b\n    agent: ocf:heartbeat:Dummy\nclones:\n  - resource: a\ncolocations:\n  - resource: b\n    with: a-clone\n    with_role: Promoted\n",
			want: []string{"error 23 colocations[0].with_role: role Promoted needs a promotable clone; clone a-clone is not one"}},
		{name: "constraint on a cloned primitive", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\nclones:\n  - resource: a\nlocations:\n  - resource: a\n    node: n1\n    score: \"10\"\n",
			want: []string{"error 19 locations[0].resource: a is inside clone a-clone; constrain the clone"}},
		{name: "legacy role on 2.1", extra: "primitives:\n  - id: d\n    agent: ocf:linbit:drbd\n    params: {drbd_resource: r0}\n    ops:\n      - name: monitor\n        interval: 10s\n        role: Master\nclones:\n  - resource: d\n    promotable: true\n",
			want: []string{"warning 20 primitives[0].ops[0].role: Master is deprecated; write Promoted"}},
		{name: "legacy role on 3", target: "3", extra: "primitives:\n  - id: d\n    agent: ocf:linbit:drbd\n    params: {drbd_resource: r0}\n    ops:\n      - name: monitor\n        interval: 10s\n        role: Slave\nclones:\n  - resource: d\n    promotable: true\n",
			want: []string{"error 20 primitives[0].ops[0].role: Slave is not accepted by Pacemaker 3; write Unpromoted"}},
		{name: "two rules on 3", target: "3", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\nlocations:\n  - resource: a\n    rules:\n      - score: \"1\"\n        expressions: [{attribute: x, op: defined}]\n      - score: \"2\"\n        expressions: [{attribute: y, op: defined}]\n",
			want: []string{"error 18 locations[0].rules: Pacemaker 3 (schema pacemaker-4.0) allows one rule per location"}},
		{name: "integer on 2.0", target: "2.0", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\nlocations:\n  - resource: a\n    rules:\n      - score: -INFINITY\n        expressions: [{attribute: pingd, op: lt, value: \"1\", type: integer}]\n",
			want: []string{"warning 20 locations[0].rules[0].expressions[0].type: type integer needs rule schema 3.5"}},
		{name: "bad expression", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\nlocations:\n  - resource: a\n    rules:\n      - score: -INFINITY\n        expressions:\n          - attribute: pingd\n            op: below\n",
			want: []string{`error 22 locations[0].rules[0].expressions[0].op: "below" is not an expression op`}},
		{name: "missing rule score", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\nlocations:\n  - resource: a\n    rules:\n      - expressions: [{attribute: x, op: defined}]\n",
			want: []string{"error 19 locations[0].rules[0].score: a location rule needs a score"}},
		{name: "promote action on a primitive", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\n  - id: b\n    agent: ocf:heartbeat:Dummy\norders:\n  - first: a\n    first_action: promote\n    then: b\n",
			want: []string{"error 20 orders[0].first_action: promote needs a promotable clone; primitive a is not one"}},
		{name: "duplicate id", extra: "primitives:\n  - id: f1\n    agent: ocf:heartbeat:Dummy\n",
			want: []string{`error 9 fencing.devices[0].id: id "f1" is already used at primitives[0].id`}},
		{name: "duplicate op", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\n    ops:\n      - {name: monitor, interval: 10s}\n      - {name: monitor, interval: 10s}\n",
			want: []string{"error 18 primitives[0].ops[1]: operation monitor with interval 10s is already primitives[0].ops[0]"}},
		{name: "unknown parameter", extra: "primitives:\n  - id: vip\n    agent: ocf:heartbeat:IPaddr2\n    params: {ip: 192.0.2.9, cidr_netmsk: \"24\"}\n",
			want: []string{`error 16 primitives[0].params.cidr_netmsk: ocf:heartbeat:IPaddr2 has no parameter "cidr_netmsk" (did you mean "cidr_netmask"?)`}},
		{name: "required parameter", extra: "primitives:\n  - id: vip\n    agent: ocf:heartbeat:IPaddr2\n    params: {nic: eth0}\n",
			want: []string{`error 16 primitives[0].params: ocf:heartbeat:IPaddr2 requires parameter "ip"`}},
		{name: "deprecated parameter", extra: "primitives:\n  - id: vip\n    agent: ocf:heartbeat:IPaddr2\n    params: {ip: 192.0.2.9, flush_routes: \"true\"}\n",
			want: []string{`warning 16 primitives[0].params.flush_routes: ocf:heartbeat:IPaddr2: parameter "flush_routes" is deprecated`}},
		{name: "agent not installed", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Nope\n",
			want: []string{"error 15 primitives[0].agent: agent ocf:heartbeat:Nope is not installed"}},
		{name: "goha agent not installed", extra: "primitives:\n  - id: a\n    agent: ocf:goha:galera\n",
			want: []string{"warning 15 primitives[0].agent: agent ocf:goha:galera is not installed here; its parameters are not checked"}},
		{name: "stonith as primitive", extra: "primitives:\n  - id: a\n    agent: stonith:fence_virsh\n",
			want: []string{"error 15 primitives[0].agent: fence devices go under fencing.devices"}},
		{name: "fence option unknown", extra: "    - id: f2\n      agent: fence_virsh\n      hosts: [n1]\n      params: {ip: x, username: y, secure: \"1\"}\n",
			want: []string{`error 16 fencing.devices[1].params.secure: fence_virsh has no option "secure"`}},
		{name: "fence option required", extra: "    - id: f2\n      agent: fence_virsh\n      hosts: [n1]\n      params: {login: root}\n",
			want: []string{`error 16 fencing.devices[1].params: fence_virsh requires option "ip"`, `warning 16 fencing.devices[1].params.login: fence_virsh: option "login" is deprecated, use "username"`}},
		{name: "fence host list in params", extra: "    - id: f2\n      agent: fence_virsh\n      params: {ip: x, username: y, pcmk_host_list: n1}\n",
			want: []string{"error 15 fencing.devices[1].params.pcmk_host_list: use the device's hosts: list instead of pcmk_host_list"}},
		{name: "level with unknown device", extra: "  levels:\n    - node: n1\n      index: 1\n      devices: [f1, f9]\n",
			want: []string{`error 16 fencing.levels[0].devices[1]: no fence device "f9" in fencing.devices`}},
		{name: "op meta requires", extra: "primitives:\n  - id: a\n    agent: ocf:heartbeat:Dummy\n    ops:\n      - name: monitor\n        interval: 10s\n        meta: {requires: nothing}\n",
			want: []string{"error 19 primitives[0].ops[0].meta.requires: requires is a resource meta attribute"}},
		{name: "fencing disabled", extra: "nodes:\n  - name: a\n  - name: b\n  - name: c\nproperties:\n  stonith-enabled: \"false\"\n",
			want: []string{"error 6 properties.stonith-enabled: fencing is disabled"}},
		{name: "fencing disabled, accepted", unsafe: true, extra: "nodes:\n  - name: a\n  - name: b\n  - name: c\nproperties:\n  stonith-enabled: \"false\"\n",
			want: []string{"warning 6 properties.stonith-enabled: fencing is disabled"}},
		{name: "no fence device", extra: "nodes:\n  - name: a\n  - name: b\n  - name: c\n",
			want: []string{"error 0 fencing: no fence device and no watchdog"}},
		{name: "node not covered", extra: "nodes:\n  - name: a\n  - name: b\n  - name: c\nfencing:\n  devices:\n    - id: f\n      agent: fence_virsh\n      hosts: [a, b]\n      params: {ip: x, username: y}\n",
			want: []string{"error 4 nodes[2]: node c is not covered by any fence device"}},
		{name: "no-quorum-policy ignore", extra: "nodes:\n  - name: a\n  - name: b\n  - name: c\nproperties:\n  no-quorum-policy: ignore\nfencing:\n  watchdog_timeout: 10s\n",
			want: []string{"error 6 properties.no-quorum-policy: no-quorum-policy=ignore on 3 nodes"}},
		{name: "two nodes without delay", extra: "nodes:\n  - name: a\n  - name: b\nfencing:\n  devices:\n    - id: f\n      agent: fence_virsh\n      hosts: [a, b]\n      params: {ip: x, username: y}\n",
			want: []string{"error 4 fencing: two-node cluster without a fencing delay"}},
		{name: "two nodes with priority delay", extra: "nodes:\n  - name: a\n  - name: b\nproperties:\n  priority-fencing-delay: 15s\nfencing:\n  devices:\n    - id: f\n      agent: fence_virsh\n      hosts: [a, b]\n      params: {ip: x, username: y}\n"},
		{name: "shared storage without fencing", extra: "nodes:\n  - name: a\n  - name: b\n  - name: c\nproperties:\n  stonith-enabled: \"false\"\nprimitives:\n  - id: d\n    agent: ocf:linbit:drbd\n    params: {drbd_resource: r0}\n",
			want: []string{"error 6 properties.stonith-enabled: fencing is disabled", "error 9 primitives[0].agent: d (ocf:linbit:drbd) is storage that two nodes must never use at once"}},
		{name: "no nodes", extra: "primitives: []\n", want: []string{"error 0 fencing: no fence device and no watchdog", "error 0 nodes: the spec names no nodes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base + tt.extra
			if strings.HasPrefix(tt.extra, "nodes:") {
				src = tt.extra
			}
			if tt.name == "no nodes" {
				src = tt.extra
			}
			s, pos, err := spec.Parse([]byte(src), "t.yaml")
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, src)
			}
			rel := tt.target
			if rel == "" {
				rel = "2.1"
			}
			tg, _ := ParseTarget(rel)
			fs := Check(context.Background(), s, CheckOptions{Target: tg, Agents: agentsFixture, AllowUnsafe: tt.unsafe})
			fs.Locate(pos)
			var got []string
			for _, f := range fs {
				got = append(got, fmt.Sprintf("%s %d %s: %s", f.Severity, f.Line, f.Path, f.Msg))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for i := range tt.want {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("finding %d:\n  %s\nwant prefix:\n  %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}
