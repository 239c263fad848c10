// Package spec is the declarative cluster specification goha turns into a
// Pacemaker CIB: its model, its YAML form (with the line of every field, so
// that errors can point at it) and its findings.
//
// The model is flat and references things by id, as pcs does: primitives
// are declared once and groups, clones, constraints and fencing levels name
// them. Every name/value list keeps the order it was written in, so the CIB
// generated from a spec is deterministic and importing it gives the spec
// back.
package spec

// Spec is one cluster's configuration.
type Spec struct {
	// Pacemaker is the Pacemaker release the CIB is written for: "2.0",
	// "2.1" or "3". Empty means the command's --pacemaker flag or, failing
	// that, the release installed on this machine.
	Pacemaker   string       `yaml:"pacemaker,omitempty"`
	Nodes       []Node       `yaml:"nodes,omitempty"`
	Properties  NVList       `yaml:"properties,omitempty"`
	RscDefaults NVList       `yaml:"rsc_defaults,omitempty"`
	OpDefaults  NVList       `yaml:"op_defaults,omitempty"`
	Primitives  []Primitive  `yaml:"primitives,omitempty"`
	Groups      []Group      `yaml:"groups,omitempty"`
	Clones      []Clone      `yaml:"clones,omitempty"`
	Fencing     Fencing      `yaml:"fencing,omitempty"`
	Locations   []Location   `yaml:"locations,omitempty"`
	Colocations []Colocation `yaml:"colocations,omitempty"`
	Orders      []Order      `yaml:"orders,omitempty"`
	Alerts      []Alert      `yaml:"alerts,omitempty"`
}

// Node is a cluster node: its name (uname) and permanent attributes.
type Node struct {
	Name string `yaml:"name"`
	// ID is the corosync node id; empty means the node's position, from 1.
	ID          string `yaml:"id,omitempty"`
	Attributes  NVList `yaml:"attributes,omitempty"`
	Utilization NVList `yaml:"utilization,omitempty"`
}

// Primitive is one resource: an agent and its settings.
type Primitive struct {
	ID string `yaml:"id"`
	// Agent is class:provider:type for ocf, class:type otherwise
	// (systemd:haproxy, service:cron, lsb:foo). Fence devices go under
	// fencing.devices, not here.
	Agent       string `yaml:"agent"`
	Description string `yaml:"description,omitempty"`
	Params      NVList `yaml:"params,omitempty"`
	Meta        NVList `yaml:"meta,omitempty"`
	Utilization NVList `yaml:"utilization,omitempty"`
	Ops         []Op   `yaml:"ops,omitempty"`
}

// Op is an operation definition of a resource or fence device.
type Op struct {
	// ID defaults to <resource>-<name>-interval-<interval>, as pcs names it.
	ID       string `yaml:"id,omitempty"`
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"` // empty means 0s
	Timeout  string `yaml:"timeout,omitempty"`
	Role     string `yaml:"role,omitempty"`
	OnFail   string `yaml:"on_fail,omitempty"`
	Enabled  string `yaml:"enabled,omitempty"`
	// Depth is OCF_CHECK_LEVEL, the depth of a monitor.
	Depth          string `yaml:"depth,omitempty"`
	StartDelay     string `yaml:"start_delay,omitempty"`
	IntervalOrigin string `yaml:"interval_origin,omitempty"`
	RecordPending  string `yaml:"record_pending,omitempty"`
	Description    string `yaml:"description,omitempty"`
	Meta           NVList `yaml:"meta,omitempty"`
}

// Group is an ordered, colocated list of primitives.
type Group struct {
	ID          string   `yaml:"id"`
	Description string   `yaml:"description,omitempty"`
	Members     []string `yaml:"members"`
	Meta        NVList   `yaml:"meta,omitempty"`
}

// Clone runs a primitive or group on several nodes; a promotable clone
// also has promoted instances.
type Clone struct {
	// ID defaults to <resource>-clone.
	ID          string `yaml:"id,omitempty"`
	Description string `yaml:"description,omitempty"`
	Resource    string `yaml:"resource"`
	Promotable  bool   `yaml:"promotable,omitempty"`
	Meta        NVList `yaml:"meta,omitempty"`
}

// Fencing is how nodes are fenced: devices, topology and the watchdog.
type Fencing struct {
	Devices []FenceDevice `yaml:"devices,omitempty"`
	Levels  []FenceLevel  `yaml:"levels,omitempty"`
	// WatchdogTimeout enables watchdog self-fencing (sbd without a shared
	// disk) as stonith-watchdog-timeout.
	WatchdogTimeout string `yaml:"watchdog_timeout,omitempty"`
}

// FenceDevice is a stonith resource.
type FenceDevice struct {
	ID string `yaml:"id"`
	// Agent is the fence agent: fence_ipmilan, fence_redfish, fence_virsh,
	// fence_vmware_rest, fence_sbd, fence_goha_lab, ...
	Agent       string `yaml:"agent"`
	Description string `yaml:"description,omitempty"`
	// Hosts is pcmk_host_list: the nodes this device can fence.
	Hosts []string `yaml:"hosts,omitempty"`
	// HostMap is pcmk_host_map: node name to the device's name for it
	// (a plug, a VM name, a port).
	HostMap NVList `yaml:"host_map,omitempty"`
	// DelayMax and DelayBase are pcmk_delay_max and pcmk_delay_base.
	DelayMax  string `yaml:"delay_max,omitempty"`
	DelayBase string `yaml:"delay_base,omitempty"`
	Params    NVList `yaml:"params,omitempty"`
	Meta      NVList `yaml:"meta,omitempty"`
	Ops       []Op   `yaml:"ops,omitempty"`
}

// FenceLevel is one fencing-topology level: the devices tried, all of
// them, at this index for this node.
type FenceLevel struct {
	Node    string   `yaml:"node"`
	Index   int      `yaml:"index"`
	Devices []string `yaml:"devices"`
}

// Location places a resource: on a node with a score, or by rules.
type Location struct {
	// ID defaults to location-<rsc>-<node>-<score>, or location-<rsc> with
	// rules.
	ID string `yaml:"id,omitempty"`
	// Resource or ResourcePattern (a regular expression, rsc-pattern).
	Resource          string `yaml:"resource,omitempty"`
	ResourcePattern   string `yaml:"resource_pattern,omitempty"`
	Role              string `yaml:"role,omitempty"`
	Node              string `yaml:"node,omitempty"`
	Score             string `yaml:"score,omitempty"`
	ResourceDiscovery string `yaml:"resource_discovery,omitempty"`
	Rules             []Rule `yaml:"rules,omitempty"`
}

// Rule is a score (or score attribute) applied where its expressions hold.
type Rule struct {
	Score          string       `yaml:"score,omitempty"`
	ScoreAttribute string       `yaml:"score_attribute,omitempty"`
	Role           string       `yaml:"role,omitempty"`
	BooleanOp      string       `yaml:"boolean_op,omitempty"` // and (default), or
	Expressions    []Expression `yaml:"expressions"`
}

// Expression is one test of a rule: a node attribute comparison, a date
// expression or a nested rule (exactly one of them).
type Expression struct {
	Attribute string `yaml:"attribute,omitempty"`
	// Op is lt, gt, lte, gte, eq, ne, defined or not_defined.
	Op          string `yaml:"op,omitempty"`
	Value       string `yaml:"value,omitempty"`
	Type        string `yaml:"type,omitempty"` // string, integer, number, version
	ValueSource string `yaml:"value_source,omitempty"`
	Date        *Date  `yaml:"date,omitempty"`
	Rule        *Rule  `yaml:"rule,omitempty"`
}

// Date is a date_expression.
type Date struct {
	Op       string `yaml:"op"` // in_range, gt, lt, date_spec
	Start    string `yaml:"start,omitempty"`
	End      string `yaml:"end,omitempty"`
	Duration NVList `yaml:"duration,omitempty"` // years, months, weeks, days, hours, minutes, seconds
	Spec     NVList `yaml:"spec,omitempty"`     // date_spec fields: hours, weekdays, monthdays, ...
}

// Colocation keeps resources together (or apart): Resource with With, or
// resource sets.
type Colocation struct {
	// ID defaults to colocation-<rsc>-<with>-<score>.
	ID            string        `yaml:"id,omitempty"`
	Resource      string        `yaml:"resource,omitempty"`
	With          string        `yaml:"with,omitempty"`
	Role          string        `yaml:"role,omitempty"`
	WithRole      string        `yaml:"with_role,omitempty"`
	Score         string        `yaml:"score,omitempty"` // default INFINITY
	NodeAttribute string        `yaml:"node_attribute,omitempty"`
	Sets          []ResourceSet `yaml:"sets,omitempty"`
}

// Order starts (promotes, ...) Then after First, or orders resource sets.
type Order struct {
	// ID defaults to order-<first>-<then>-<kind>.
	ID          string        `yaml:"id,omitempty"`
	First       string        `yaml:"first,omitempty"`
	FirstAction string        `yaml:"first_action,omitempty"`
	Then        string        `yaml:"then,omitempty"`
	ThenAction  string        `yaml:"then_action,omitempty"`
	Kind        string        `yaml:"kind,omitempty"` // Mandatory (default), Optional, Serialize
	Symmetrical string        `yaml:"symmetrical,omitempty"`
	Sets        []ResourceSet `yaml:"sets,omitempty"`
}

// ResourceSet is a resource_set of a set constraint.
type ResourceSet struct {
	Resources  []string `yaml:"resources"`
	Sequential string   `yaml:"sequential,omitempty"`
	RequireAll string   `yaml:"require_all,omitempty"`
	Action     string   `yaml:"action,omitempty"`
	Role       string   `yaml:"role,omitempty"`
	Kind       string   `yaml:"kind,omitempty"`
	Score      string   `yaml:"score,omitempty"`
}

// Alert runs an agent (a program) on cluster events.
type Alert struct {
	ID          string      `yaml:"id"`
	Path        string      `yaml:"path"`
	Description string      `yaml:"description,omitempty"`
	Params      NVList      `yaml:"params,omitempty"`
	Meta        NVList      `yaml:"meta,omitempty"`
	Recipients  []Recipient `yaml:"recipients,omitempty"`
}

// Recipient is one recipient of an alert (whatever its agent takes:
// a file, an address).
type Recipient struct {
	// ID defaults to <alert>-recipient, then -recipient-1, ...
	ID     string `yaml:"id,omitempty"`
	Value  string `yaml:"value"`
	Params NVList `yaml:"params,omitempty"`
	Meta   NVList `yaml:"meta,omitempty"`
}
