// Package preset builds the specs of the four stacks goha was made for
// (OpenUDS, File Fabric, vProtect, Inuvika OVD Session Manager), with the
// structure their installation guides build by hand, and fencing on.
package preset

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/goha-ha/goha/cib/spec"
)

// Options are what an admin changes in a preset: names, addresses,
// fencing. Empty fields take the preset's defaults.
type Options struct {
	Nodes     []string
	Addresses []string // node addresses, one per node
	VIPs      []string // the preset's floating addresses, in its order
	Netmask   string   // prefix length of the VIPs (default: the guide's, else 24)
	PingHosts []string
	// Fence is the fence device kind: ipmilan (default), redfish, virsh,
	// vmware, sbd, lab.
	Fence string
	// FenceAddrs are the BMCs (ipmilan, redfish, one per node) or the
	// hypervisor/vCenter (virsh, vmware); defaults <node>-bmc and
	// hypervisor.
	FenceAddrs          []string
	FenceUser           string
	FencePasswordScript string
	// FarmNetwork is the network of the OVD application servers, which
	// the session manager reaches from the VIP (osm); default: the VIP's
	// network.
	FarmNetwork string
	// Lab is the lab name for --fence lab.
	Lab       string
	Pacemaker string
}

// Preset is one stack.
type Preset struct {
	Name  string
	Short string
	// Defaults fill the options the admin leaves empty.
	Defaults Options
	build    func(o Options) *spec.Spec
}

// The defaults of each preset are the names and addresses of the example
// in that stack's installation guide, so that the spec written without
// flags reads like the guide; where the guide gives no value, the comment
// says so and the default is goha's own.
var presets = []Preset{
	{
		Name:  "openuds",
		Short: "OpenUDS broker: 3-node MariaDB Galera promotable clone, HAProxy clone, floating IP",
		// From the OpenUDS 3.6 high availability guide,
		// https://docs.openuds.ru/ha_guide_36.html: the Galera nodes
		// node1..node3 (wsrep_node_name) at 192.168.1.69, .67 and .70, and
		// the keepalived balancing VIP 192.168.1.189/24 (on enp1s0). The
		// guide runs HAProxy on two machines of its own; here the HAProxy
		// clone runs on the Galera nodes.
		Defaults: Options{
			Nodes:     []string{"node1", "node2", "node3"},
			Addresses: []string{"192.168.1.69", "192.168.1.67", "192.168.1.70"},
			VIPs:      []string{"192.168.1.189"},
			Netmask:   "24",
		},
		build: openuds,
	},
	{
		Name:  "filefabric",
		Short: "File Fabric: MySQL/MariaDB replication promotable clone, DB VIP, memcached VIP, no failback",
		// From "File Fabric HA: Master - Master Database with Automatic
		// Failover", https://docs.storagemadeeasy.com/cloudappliance/mastermasterdb:
		// the database hosts smesql01 and smesql02. The guide names its
		// VIPs only by DNS name (smesql-vip, smemem-vip) and gives no
		// addresses or netmask, so those are goha's placeholders.
		Defaults: Options{
			Nodes:     []string{"smesql01", "smesql02"},
			Addresses: []string{"192.168.1.21", "192.168.1.22"},
			VIPs:      []string{"192.168.1.20", "192.168.1.25"},
			Netmask:   "24",
		},
		build: filefabric,
	},
	{
		Name:  "vprotect",
		Short: "vProtect: ping clone and rule, DRBD promotable clone, VDO, XFS, vProtect services group",
		// From the "High Availability" chapter of the vProtect manual
		// (https://github.com/Storware/vprotect-manual): vprotect1 at
		// 10.40.1.50, vprotect2 at 10.40.1.52, the cluster IP 10.40.1.100/22
		// (on ens160), the gateway 10.40.0.1 as ping host, the DRBD resource
		// "replicate", the VDO volume vdo_data on it and the XFS in
		// /vprotect_data (in vprotect below).
		Defaults: Options{
			Nodes:     []string{"vprotect1", "vprotect2"},
			Addresses: []string{"10.40.1.50", "10.40.1.52"},
			VIPs:      []string{"10.40.1.100"},
			Netmask:   "22",
			PingHosts: []string{"10.40.0.1"},
		},
		build: vprotect,
	},
	{
		Name:  "osm",
		Short: "Inuvika OVD Session Manager: VIP, Apache, session manager, data sync, preferred node",
		// From the Inuvika "Session Manager Failover \"Legacy\" Guide"
		// (Heartbeat, data synchronised between the nodes),
		// https://docs.inuvika.com/session_manager_failover_guide/legacy/:
		// OSM1, the static master, at 192.168.0.201 and the VIP
		// 192.168.0.200 on eth0. The guide's text gives no address for
		// OSM2 (the one beside OSM1 is used) and no netmask (24); the farm
		// network defaults to the VIP's network, as the guide serves the
		// farm from the VIP's interface.
		Defaults: Options{
			Nodes:     []string{"osm1", "osm2"},
			Addresses: []string{"192.168.0.201", "192.168.0.202"},
			VIPs:      []string{"192.168.0.200"},
			Netmask:   "24",
		},
		build: osm,
	},
}

// All lists the presets.
func All() []Preset { return presets }

// Build returns the spec of preset name with o laid over its defaults.
func Build(name string, o Options) (*spec.Spec, error) {
	for _, p := range presets {
		if p.Name != name {
			continue
		}
		o, err := p.resolve(o)
		if err != nil {
			return nil, err
		}
		s := p.build(o)
		s.Pacemaker = o.Pacemaker
		s.Fencing = fencingFor(o)
		return s, nil
	}
	var names []string
	for _, p := range presets {
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("no preset %q (presets: %s)", name, strings.Join(names, ", "))
}

func (p Preset) resolve(o Options) (Options, error) {
	d := p.Defaults
	if len(o.Nodes) == 0 {
		o.Nodes = d.Nodes
	}
	if len(o.Nodes) != len(d.Nodes) {
		return o, fmt.Errorf("preset %s is for %d nodes, got %d", p.Name, len(d.Nodes), len(o.Nodes))
	}
	if len(o.Addresses) == 0 {
		o.Addresses = d.Addresses
	}
	if len(o.Addresses) != len(o.Nodes) {
		return o, fmt.Errorf("preset %s: %d addresses for %d nodes", p.Name, len(o.Addresses), len(o.Nodes))
	}
	if len(o.VIPs) == 0 {
		o.VIPs = d.VIPs
	}
	if len(o.VIPs) != len(d.VIPs) {
		return o, fmt.Errorf("preset %s takes %d VIPs, got %d", p.Name, len(d.VIPs), len(o.VIPs))
	}
	if o.Netmask == "" {
		o.Netmask = d.Netmask
	}
	if o.Netmask == "" {
		o.Netmask = "24"
	}
	if o.FarmNetwork == "" {
		prefix, err := netip.ParsePrefix(o.VIPs[0] + "/" + o.Netmask)
		if err != nil {
			return o, fmt.Errorf("preset %s: VIP %s/%s: %w", p.Name, o.VIPs[0], o.Netmask, err)
		}
		o.FarmNetwork = prefix.Masked().String()
	}
	if len(o.PingHosts) == 0 {
		o.PingHosts = d.PingHosts
	}
	if o.Fence == "" {
		o.Fence = "ipmilan"
	}
	switch o.Fence {
	case "ipmilan", "redfish":
		if len(o.FenceAddrs) == 0 {
			for _, n := range o.Nodes {
				o.FenceAddrs = append(o.FenceAddrs, n+"-bmc")
			}
		}
		if len(o.FenceAddrs) != len(o.Nodes) {
			return o, fmt.Errorf("--fence %s needs one BMC address per node", o.Fence)
		}
	case "virsh", "vmware":
		if len(o.FenceAddrs) == 0 {
			o.FenceAddrs = []string{"hypervisor"}
		}
		if len(o.FenceAddrs) != 1 {
			return o, fmt.Errorf("--fence %s takes one hypervisor address", o.Fence)
		}
	case "sbd", "lab":
	default:
		return o, fmt.Errorf("unknown fence kind %q (ipmilan, redfish, virsh, vmware, sbd, lab)", o.Fence)
	}
	if o.FenceUser == "" {
		o.FenceUser = "admin"
	}
	if o.FencePasswordScript == "" {
		o.FencePasswordScript = "/etc/goha/fence-password"
	}
	if o.Lab == "" {
		o.Lab = "lab"
	}
	return o, nil
}

func nodes(o Options) []spec.Node {
	out := make([]spec.Node, len(o.Nodes))
	for i, n := range o.Nodes {
		out[i] = spec.Node{Name: n}
	}
	return out
}

func nv(pairs ...string) spec.NVList {
	var l spec.NVList
	for i := 0; i+1 < len(pairs); i += 2 {
		l = append(l, spec.NV{Name: pairs[i], Value: pairs[i+1]})
	}
	return l
}

func op(name, interval, timeout string) spec.Op {
	return spec.Op{Name: name, Interval: interval, Timeout: timeout}
}

func vip(id, addr, mask string) spec.Primitive {
	return spec.Primitive{
		ID: id, Agent: "ocf:goha:vip",
		Params: nv("ip", addr, "cidr_netmask", mask),
		Ops:    []spec.Op{op("monitor", "10s", "20s")},
	}
}

// fencingFor builds the fence devices. Two-node clusters get a delay on
// the device that fences the first node, so that after a split the first
// node shoots first and survives.
func fencingFor(o Options) spec.Fencing {
	two := len(o.Nodes) == 2
	monitor := []spec.Op{op("monitor", "60s", "")}
	var f spec.Fencing
	switch o.Fence {
	case "ipmilan", "redfish":
		for i, n := range o.Nodes {
			d := spec.FenceDevice{
				ID: "fence-" + n, Agent: "fence_" + o.Fence, Hosts: []string{n},
				Params: nv("ip", o.FenceAddrs[i], "username", o.FenceUser, "password_script", o.FencePasswordScript),
				Ops:    monitor,
			}
			if o.Fence == "ipmilan" {
				d.Params = append(d.Params, spec.NV{Name: "lanplus", Value: "1"})
			}
			if two && i == 0 {
				d.DelayBase = "10s"
			}
			f.Devices = append(f.Devices, d)
		}
	case "virsh", "vmware":
		d := spec.FenceDevice{
			ID: "fence-" + o.Fence, Agent: map[string]string{"virsh": "fence_virsh", "vmware": "fence_vmware_rest"}[o.Fence],
			Params: nv("ip", o.FenceAddrs[0], "username", o.FenceUser, "password_script", o.FencePasswordScript),
			Ops:    monitor,
		}
		for _, n := range o.Nodes {
			d.HostMap = append(d.HostMap, spec.NV{Name: n, Value: n})
		}
		if two {
			d.DelayMax = "15s"
		}
		f.Devices = append(f.Devices, d)
	case "sbd":
		d := spec.FenceDevice{
			ID: "fence-sbd", Agent: "fence_sbd", Hosts: append([]string{}, o.Nodes...),
			Params: nv("devices", "/dev/disk/by-id/sbd"),
			Ops:    monitor,
		}
		if two {
			d.DelayMax = "15s"
		}
		f.Devices = append(f.Devices, d)
	case "lab":
		d := spec.FenceDevice{
			ID: "fence-lab", Agent: "fence_goha_lab", Hosts: append([]string{}, o.Nodes...),
			Params: nv("lab", o.Lab), Ops: monitor,
		}
		if two {
			d.DelayMax = "5s"
		}
		f.Devices = append(f.Devices, d)
	}
	return f
}

func openuds(o Options) *spec.Spec {
	var addrs []string
	addrs = append(addrs, o.Addresses...)
	sort.Strings(addrs)
	return &spec.Spec{
		Nodes:       nodes(o),
		Properties:  nv("stonith-enabled", "true", "no-quorum-policy", "stop"),
		RscDefaults: nv("resource-stickiness", "100", "migration-threshold", "3", "failure-timeout", "10min"),
		Primitives: []spec.Primitive{
			{
				ID: "galera", Agent: "ocf:goha:galera",
				Params: nv("wsrep_cluster_address", "gcomm://"+strings.Join(o.Addresses, ",")),
				Ops: []spec.Op{
					op("start", "", "120s"),
					op("stop", "", "120s"),
					op("promote", "", "300s"),
					op("demote", "", "120s"),
					{Name: "monitor", Interval: "20s", Timeout: "30s"},
					{Name: "monitor", Interval: "10s", Timeout: "30s", Role: "Promoted"},
				},
			},
			{
				ID: "haproxy", Agent: "ocf:goha:haproxy",
				Params: nv("config", "/etc/haproxy/haproxy.cfg"),
				Ops:    []spec.Op{op("monitor", "10s", "20s")},
			},
			vip("vip", o.VIPs[0], o.Netmask),
		},
		Clones: []spec.Clone{
			{Resource: "galera", Promotable: true, Meta: nv("promoted-max", fmt.Sprint(len(o.Nodes)), "notify", "true", "interleave", "true")},
			{Resource: "haproxy", Meta: nv("interleave", "true")},
		},
		Colocations: []spec.Colocation{
			{Resource: "vip", With: "haproxy-clone"},
		},
		Orders: []spec.Order{
			{First: "galera-clone", FirstAction: "promote", Then: "haproxy-clone", ThenAction: "start", Kind: "Optional"},
			{First: "haproxy-clone", Then: "vip"},
		},
	}
}

func filefabric(o Options) *spec.Spec {
	return &spec.Spec{
		Nodes:      nodes(o),
		Properties: nv("stonith-enabled", "true", "no-quorum-policy", "stop"),
		// No automatic failback: stickiness outweighs every location
		// preference, so resources stay where they run.
		RscDefaults: nv("resource-stickiness", "INFINITY", "migration-threshold", "3", "failure-timeout", "10min"),
		Primitives: []spec.Primitive{
			{
				ID: "mysql", Agent: "ocf:goha:mysql",
				Params: nv("config", "/etc/mysql/my.cnf", "replication_defaults_file", "/etc/mysql/goha-repl.cnf", "semi_sync", "true"),
				Ops: []spec.Op{
					op("start", "", "120s"),
					op("stop", "", "120s"),
					op("promote", "", "120s"),
					op("demote", "", "120s"),
					{Name: "monitor", Interval: "20s", Timeout: "30s"},
					{Name: "monitor", Interval: "10s", Timeout: "30s", Role: "Promoted"},
				},
			},
			vip("db-vip", o.VIPs[0], o.Netmask),
			{
				ID: "memcached", Agent: "ocf:goha:service",
				Params: nv("preset", "memcached"),
				Ops:    []spec.Op{op("monitor", "30s", "30s")},
			},
			vip("memcached-vip", o.VIPs[1], o.Netmask),
		},
		Clones: []spec.Clone{
			{Resource: "mysql", Promotable: true, Meta: nv("promoted-max", "1", "notify", "true", "migration-threshold", "1", "failure-timeout", "60s")},
			{Resource: "memcached"},
		},
		Colocations: []spec.Colocation{
			{Resource: "db-vip", With: "mysql-clone", WithRole: "Promoted"},
			{Resource: "memcached-vip", With: "memcached-clone"},
		},
		Orders: []spec.Order{
			{First: "mysql-clone", FirstAction: "promote", Then: "db-vip", ThenAction: "start"},
			{First: "memcached-clone", Then: "memcached-vip"},
		},
	}
}

func vprotect(o Options) *spec.Spec {
	return &spec.Spec{
		Nodes:       nodes(o),
		Properties:  nv("stonith-enabled", "true", "no-quorum-policy", "stop"),
		RscDefaults: nv("resource-stickiness", "100", "migration-threshold", "3", "failure-timeout", "10min"),
		Primitives: []spec.Primitive{
			{
				ID: "ping", Agent: "ocf:pacemaker:ping",
				Params: nv("host_list", strings.Join(o.PingHosts, " "), "multiplier", "1000", "dampen", "5s"),
				Ops:    []spec.Op{op("monitor", "10s", "60s")},
			},
			{
				ID: "drbd", Agent: "ocf:goha:drbd",
				// The guide's DRBD resource and VDO volume names.
				Params: nv("drbd_resource", "replicate"),
				Ops: []spec.Op{
					{Name: "monitor", Interval: "29s", Timeout: "20s", Role: "Promoted"},
					{Name: "monitor", Interval: "31s", Timeout: "20s", Role: "Unpromoted"},
				},
			},
			{
				ID: "vdo", Agent: "ocf:goha:vdo",
				Params: nv("volume", "vdo_data"),
				Ops:    []spec.Op{op("monitor", "20s", "30s")},
			},
			{
				ID: "fs", Agent: "ocf:goha:filesystem",
				Params: nv("device", "/dev/mapper/vdo_data", "directory", "/vprotect_data", "fstype", "xfs"),
				Ops:    []spec.Op{op("monitor", "20s", "40s")},
			},
			vip("vip", o.VIPs[0], o.Netmask),
			{
				ID: "vprotect-server", Agent: "ocf:goha:service",
				Params: nv("preset", "vprotect-server"),
				Ops:    []spec.Op{op("monitor", "30s", "60s"), op("start", "", "300s"), op("stop", "", "300s")},
			},
			{
				ID: "vprotect-node", Agent: "ocf:goha:service",
				Params: nv("preset", "vprotect-node"),
				Ops:    []spec.Op{op("monitor", "30s", "60s"), op("start", "", "300s"), op("stop", "", "300s")},
			},
		},
		Groups: []spec.Group{
			// The guide starts vprotect-node before vprotect-server. It keeps
			// the VIP out of the group, colocated with it; in the group the
			// VIP also moves with the ping rule, and stops before the
			// storage does.
			{ID: "vprotect", Members: []string{"vdo", "fs", "vip", "vprotect-node", "vprotect-server"}},
		},
		Clones: []spec.Clone{
			{Resource: "ping", Meta: nv("interleave", "true")},
			{Resource: "drbd", Promotable: true, Meta: nv("promoted-max", "1", "promoted-node-max", "1", "clone-max", "2", "clone-node-max", "1", "notify", "true")},
		},
		Locations: []spec.Location{
			{Resource: "vprotect", Rules: []spec.Rule{{
				Score: "-INFINITY", BooleanOp: "or",
				Expressions: []spec.Expression{
					{Attribute: "pingd", Op: "not_defined"},
					{Attribute: "pingd", Op: "lte", Value: "0", Type: "integer"},
				},
			}}},
		},
		Colocations: []spec.Colocation{
			{Resource: "vprotect", With: "drbd-clone", WithRole: "Promoted"},
		},
		Orders: []spec.Order{
			{First: "drbd-clone", FirstAction: "promote", Then: "vprotect", ThenAction: "start"},
		},
	}
}

func osm(o Options) *spec.Spec {
	return &spec.Spec{
		Nodes:      nodes(o),
		Properties: nv("stonith-enabled", "true", "no-quorum-policy", "stop"),
		// Failback to the preferred node: its location score (100) is
		// above the stickiness.
		RscDefaults: nv("resource-stickiness", "50", "migration-threshold", "3", "failure-timeout", "10min"),
		Primitives: []spec.Primitive{
			vip("vip", o.VIPs[0], o.Netmask),
			{
				ID: "apache", Agent: "ocf:goha:apache",
				Params: nv("configfile", "/etc/apache2/apache2.conf", "statusurl", "http://localhost/server-status"),
				Ops:    []spec.Op{op("monitor", "10s", "20s")},
			},
			{
				// Traffic to the farm leaves from the VIP.
				ID: "osm", Agent: "ocf:goha:osm",
				Params: nv("farm_network", o.FarmNetwork, "snat_address", o.VIPs[0]),
				Ops:    []spec.Op{op("monitor", "20s", "40s")},
			},
			{
				ID: "sync", Agent: "ocf:goha:sync",
				// The guide's text names no data directory: goha's
				// default.
				Params: nv("directory", "/var/lib/ovd", "peers", strings.Join(o.Addresses, " ")),
				Ops:    []spec.Op{op("monitor", "60s", "120s")},
			},
		},
		Groups: []spec.Group{
			{ID: "osm-group", Members: []string{"vip", "apache", "osm", "sync"}},
		},
		Locations: []spec.Location{
			{Resource: "osm-group", Node: o.Nodes[0], Score: "100"},
		},
	}
}
