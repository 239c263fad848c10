// Package osm is ocf:goha:osm, the Inuvika OVD Session Manager as a unit of
// its own: its service, and the source NAT rule that makes the node's
// outgoing traffic to the server farm leave from the cluster's address.
//
// The farm's servers talk back to the session manager at the address they
// first saw it connect from, so on the active node every connection to
// the farm must come from the virtual IP, not from the node's own address.
// The agent owns one nftables table for that: a nat chain hooked at
// postrouting with one rule, `ip daddr FARM [oifname IF] snat to VIP`. The
// table is written in one netlink batch that replaces it whole, checked
// expression by expression by each monitor (no program is forked for it),
// and deleted on stop; no other table is ever read for deletion or changed.
// Compared with an iptables rule added to the shared nat table, nothing
// another tool does to its own rules can remove or reorder this one, and
// removing it cannot remove someone else's.
//
// The service itself is driven by commands (start, stop and an LSB status
// such as `systemctl is-active ...` or `/etc/init.d/ovd-session-manager
// status`); without them the resource is the SNAT rule alone.
//
// The package reads top-down: this file declares the agent; config.go
// (parameters), ruleset.go (the table, chain and rule the parameters call
// for, and how an observed rule differs from it) and assess.go (what a
// monitor answers) are the pure core; nft.go is the adapter to the
// kernel's nftables, service.go the one to the service's commands;
// actions.go wires them into start, stop, monitor and validate-all.
package osm

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pNetwork   = "farm_network"
	pAddress   = "snat_address"
	pInterface = "out_interface"
	pTable     = "table"
	pStart     = "start_command"
	pStop      = "stop_command"
	pStatus    = "status_command"
)

// Agent returns the ocf:goha:osm declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{fw: kernel{}, svc: commands{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "osm",
		Version: version.Version,
		Short:   "Inuvika OVD Session Manager: its service and a SNAT rule to the farm",
		Long: "Runs the Inuvika OVD Session Manager on the active node: the service, through the " +
			"commands given, and a source NAT rule so that traffic to the server farm leaves from " +
			"the cluster's virtual IP. The rule lives in an nftables table of its own (family inet, " +
			"or ip/ip6 on kernels without inet nat) with one nat chain at postrouting; start writes " +
			"the table in one atomic batch before it starts the service, monitor checks that the " +
			"table holds exactly the expected rule and that the service runs, stop stops the " +
			"service and deletes the table. Rules of other tables are never touched. Group it after " +
			"the virtual IP it names in " + pAddress + ".",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 60 * time.Second},
			{Name: "stop", Timeout: 60 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "validate-all", Timeout: 10 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Validate: a.validate,
	}
}

func params() []ocf.Param {
	return []ocf.Param{
		{
			Name: pNetwork, Required: true,
			Short: "Farm network (CIDR)",
			Long: "The network of the OVD server farm, as an IPv4 or IPv6 prefix without host bits, " +
				"e.g. 10.20.0.0/16 or fd00:20::/64. Packets to it leave from " + pAddress + ".",
			Check: func(v string) error { _, err := parseNetwork(v); return err },
		},
		{
			Name: pAddress, Required: true,
			Short: "Source address for the farm (the virtual IP)",
			Long: "The address packets to the farm are rewritten to come from: the cluster's " +
				"virtual IP, of the same IP version as " + pNetwork + ". The address must be on this " +
				"node for replies to arrive, so order this resource after the IP resource.",
			Check: func(v string) error { _, err := parseAddress(v); return err },
		},
		{
			Name:  pInterface,
			Short: "Outgoing interface to match",
			Long: "When set, only packets to the farm that leave through this interface are " +
				"rewritten (oifname match). Empty matches any interface.",
			Check: checkInterface,
		},
		{
			Name: pTable, Unique: true,
			Short: "nftables table owned by this resource",
			Long: "The name of the nftables table the resource writes, deletes and owns alone. " +
				"Empty means goha_osm_RESOURCE (the resource id with characters other than letters, " +
				"digits and underscores replaced by underscores). A table of this name that the " +
				"agent did not make (one without a chain goha_osm_snat) is never changed: start " +
				"then fails.",
			Check: checkTable,
		},
		{
			Name:  pStart,
			Short: "Command that starts the service",
			Long: "The program and arguments that start the session manager, separated by white " +
				"space and run without a shell, e.g. \"/usr/bin/systemctl start ovd-session-manager\". " +
				"Empty means the resource is only the SNAT rule; when set, " + pStop + " and " + pStatus +
				" are required too. start runs it only when " + pStatus + " says the service is " +
				"stopped, then waits until " + pStatus + " says it runs.",
			Check: checkCommand,
		},
		{
			Name:  pStop,
			Short: "Command that stops the service",
			Long: "The program and arguments that stop the session manager, run without a shell, " +
				"e.g. \"/usr/bin/systemctl stop ovd-session-manager\". stop runs it unless " + pStatus +
				" says the service is stopped, then waits until it does.",
			Check: checkCommand,
		},
		{
			Name:  pStatus,
			Short: "Command that tells whether the service runs (LSB exit codes)",
			Long: "The program and arguments that report the session manager's state by exit code, " +
				"as an LSB init script's status does: 0 running; 1, 2 or 3 not running; anything else " +
				"unknown, which fails the monitor. \"/usr/bin/systemctl is-active --quiet " +
				"ovd-session-manager\" answers that way. Run without a shell.",
			Check: checkCommand,
		},
	}
}
