// Package drbd is ocf:goha:drbd, a DRBD resource as a promotable clone.
//
// Each clone instance brings the DRBD resource up on its node (drbdadm
// up), and Pacemaker promotes one of them to Primary (drbdadm primary).
// Which one is decided by promotion scores that the agent derives from the
// local and the peers' disk states as `drbdsetup status --json` reports
// them: UpToDate data scores highest, Consistent data lower, and Outdated,
// Inconsistent or Diskless data never; no Secondary gets a score while a
// peer is Primary. Parameter names and the score ladder follow
// ocf:linbit:drbd, so a resource can be switched to it by changing its type.
//
// The package also holds DRBD's fence-peer and unfence-peer handlers
// (HandlerMain): when the replication link is lost, the Primary places a
// location constraint that keeps the peer from being promoted, and the
// constraint is removed once the resync has made the peer UpToDate again.
//
// The package reads top-down: this file declares the agent; status.go
// (drbdsetup's JSON), assess.go (monitor answers and promotion scores) and
// fence.go (the handler's decisions and constraint) are the pure core;
// tools.go runs drbdadm, drbdsetup and cibadmin; actions.go and handler.go
// wire them into the agent's actions and the handler commands.
package drbd

import (
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pResource     = "drbd_resource"
	pConf         = "drbdconf"
	pLadder       = "adjust_master_score"
	pStopOutdates = "stop_outdates_secondary"
	pIgnoreNotify = "ignore_missing_notifications"
	pWFC          = "wfc_timeout"
	pDrbdadm      = "drbdadm"
	pDrbdsetup    = "drbdsetup"
)

// Agent returns the ocf:goha:drbd declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "drbd",
		Version: version.Version,
		Short:   "DRBD replicated block device as a promotable clone",
		Long: "Manages one DRBD resource as a promotable clone (notify=true, clone-node-max=1, " +
			"promoted-max=1, or 2 when the DRBD configuration allows two primaries). start brings " +
			"the resource up as Secondary with drbdadm up and waits up to wfc_timeout for its " +
			"peers; promote makes it Primary with drbdadm primary, and refuses while a peer is " +
			"Primary or when the local data is not good enough; demote returns it to Secondary; " +
			"stop takes it down. monitor reads drbdsetup status --json and publishes the " +
			"promotion score from the local and peer disk states (see adjust_master_score). " +
			"Configure DRBD's fence-peer handler as \"goha drbd-fence-peer\" and unfence-peer as " +
			"\"goha drbd-unfence-peer\" (fencing resource-only or resource-and-stonith): on loss of " +
			"the replication link the Primary then keeps the peer from being promoted with a " +
			"location constraint, which is removed after the resync. Parameter names follow " +
			"ocf:linbit:drbd.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 240 * time.Second},
			{Name: "stop", Timeout: 100 * time.Second},
			{Name: "promote", Timeout: 90 * time.Second},
			{Name: "demote", Timeout: 90 * time.Second},
			{Name: "notify", Timeout: 90 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 29 * time.Second, Role: "Promoted"},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 31 * time.Second, Role: "Unpromoted"},
			{Name: "validate-all", Timeout: 10 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Promote:  a.promote,
		Demote:   a.demote,
		Notify:   a.notify,
		Validate: a.validate,
	}
}

// resourceName is what DRBD accepts as a resource name.
var resourceName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]*$`)

func params() []ocf.Param {
	return []ocf.Param{
		{
			Name: pResource, Required: true, Unique: true,
			Short: "DRBD resource name",
			Long:  "The name of the resource in the DRBD configuration (resource NAME { ... }).",
			Check: func(v string) error {
				if !resourceName.MatchString(v) || len(v) > 128 {
					return fmt.Errorf("is not a DRBD resource name")
				}
				return nil
			},
		},
		{
			Name: pConf, Default: "/etc/drbd.conf",
			Short: "DRBD configuration file",
			Long:  "The configuration file drbdadm reads (drbdadm -c). The resource must be defined in it for this node.",
			Check: checkAbsolute,
		},
		{
			Name: pLadder, Default: DefaultLadder,
			Short: "Promotion scores",
			Long: "Four non-decreasing promotion scores, separated by spaces: for a node with only " +
				"Consistent data (no connected peer has better); for a Primary whose own disk is " +
				"not UpToDate but reads UpToDate data through a peer (a resync target); for an " +
				"UpToDate Secondary that cannot see some peer's disk; for an UpToDate node that is " +
				"Primary or knows every peer's disk. Outdated, Inconsistent and Diskless Secondaries " +
				"get no score and are never promoted; neither is a Secondary connected to a Primary " +
				"peer (unless promoted-max is 2 or more). The first value is 0 so that Consistent " +
				"data is promoted only when nothing better exists.",
			Check: func(v string) error { _, err := ParseLadder(v); return err },
		},
		{
			Name: pStopOutdates, Type: ocf.Boolean, Default: "false",
			Short: "Outdate a Secondary on stop",
			Long: "When a Secondary is stopped while another node is Primary (as the notifications " +
				"say), mark its data Outdated in the DRBD meta-data (drbdadm outdate), so that it " +
				"cannot be promoted later with stale data, e.g. during a cluster-wide restart. " +
				"Needs notify=true. This adds to, and does not replace, fencing in the DRBD configuration.",
		},
		{
			Name: pIgnoreNotify, Type: ocf.Boolean, Default: "false",
			Short: "Allow a clone without notify=true",
			Long: "The agent refreshes its promotion score on the peers' promote, demote, start and " +
				"stop notifications, and validate-all rejects a clone without notify=true. Set this " +
				"to run without notifications; scores are then refreshed only by monitors.",
		},
		{
			Name: pWFC, Type: ocf.Integer, Default: "5", Min: ocf.Bound(0), Max: ocf.Bound(3600),
			Short: "Seconds start waits for the peers",
			Long: "How long start waits for every peer to connect after bringing the resource up, " +
				"so that the first promotion score is made knowing the peers' disks. 0 does not wait. " +
				"start succeeds without the peers either way.",
		},
		{
			Name: pDrbdadm, Default: "drbdadm",
			Short: "drbdadm program",
			Long:  "The drbdadm program: a name looked up in PATH, or an absolute path.",
			Check: checkProgram,
		},
		{
			Name: pDrbdsetup, Default: "drbdsetup",
			Short: "drbdsetup program",
			Long:  "The drbdsetup program: a name looked up in PATH, or an absolute path.",
			Check: checkProgram,
		},
	}
}

func checkAbsolute(v string) error {
	if !filepath.IsAbs(v) {
		return fmt.Errorf("is not an absolute path")
	}
	return nil
}

func checkProgram(v string) error {
	if !filepath.IsAbs(v) && filepath.Base(v) != v {
		return fmt.Errorf("is neither a program name nor an absolute path")
	}
	return nil
}
