// Package garbd is ocf:goha:garbd, the Galera arbitrator as a resource.
//
// garbd joins a Galera cluster as a member that stores no data but votes,
// so that a cluster with an even number of database nodes keeps a Primary
// component on the side of a split that has the arbitrator. The agent is a
// plain primitive whose parameter names follow ocf:heartbeat:garbd, so a
// resource can be switched to it by changing its type.
//
// The package reads top-down: this file declares the agent; config.go
// (parameters, cluster address, garbd's argv and how to recognise it in
// /proc) and journal.go (what garbd's log lines say and what a monitor
// concludes from them) are the pure core; process.go is the adapter to
// processes, /proc and files; actions.go wires them into start, stop,
// monitor and validate-all.
//
// garbd runs as a child of no one: start launches it in its own session
// with stdin on /dev/null and stdout and stderr appended to the log file,
// records its pid itself, and reads the log until garbd reports that it is
// in a Primary component and synced. Monitors read only what garbd has
// logged since the previous monitor, so their cost does not grow with the
// log, and forks nothing.
package garbd

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pAddress    = "wsrep_cluster_address"
	pCluster    = "wsrep_cluster_name"
	pName       = "name"
	pOptions    = "options"
	pBinary     = "binary"
	pLog        = "log"
	pPid        = "pid"
	pWorkdir    = "workdir"
	pUser       = "user"
	pGroup      = "group"
	pExtra      = "additional_parameters"
	pStopWait   = "stop_grace"
	defaultUser = "nobody"
)

// Agent returns the ocf:goha:garbd declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{sys: host{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "garbd",
		Version: version.Version,
		Short:   "Galera arbitrator (garbd): a voting member without data",
		Long: "Runs garbd, the Galera arbitrator, as a member of a MariaDB or MySQL Galera " +
			"cluster that keeps no data but counts in quorum votes, so that when a cluster with " +
			"an even number of database nodes splits in half, the half with the arbitrator stays " +
			"Primary. start launches garbd detached from the agent and returns once garbd has " +
			"joined a Primary component and is synced; monitor checks that the process lives and " +
			"that its log still shows a Primary component; stop terminates it and also finds a " +
			"garbd of this resource whose pid file was lost. Parameter names follow " +
			"ocf:heartbeat:garbd.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 60 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 20 * time.Second},
			{Name: "validate-all", Timeout: 5 * time.Second},
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
			Name: pAddress, Required: true,
			Short: "Galera cluster address (gcomm://host:port,...)",
			Long: "The cluster to join, as the database nodes' wsrep_cluster_address: " +
				"gcomm://node1,node2:4567,[fd00::3] with optional Galera options after '?'. " +
				"A node without a port is reached on 4567. It must name at least one node: " +
				"an arbitrator cannot bootstrap a cluster (gcomm:// alone is rejected).",
			Check: func(v string) error { _, err := parseAddress(v); return err },
		},
		{
			Name: pCluster, Default: "my_wsrep_cluster",
			Short: "Galera cluster name (wsrep_cluster_name)",
			Long: "The group name the cluster's nodes use (their wsrep_cluster_name), passed to " +
				"garbd as --group. garbd never joins a cluster of another name.",
			Check: checkClusterName,
		},
		{
			Name:  pName,
			Short: "Node name of the arbitrator",
			Long: "The name garbd shows in the cluster (--name), e.g. in wsrep_incoming_addresses " +
				"and the nodes' logs. Empty keeps garbd's own default, garb.",
			Check: checkWord,
		},
		{
			Name:  pOptions,
			Short: "Galera provider options (garbd --options)",
			Long: "Galera options, semicolon-separated key=value pairs, passed as one --options " +
				"argument, e.g. gmcast.listen_addr=tcp://0.0.0.0:4567; socket.ssl=yes. Needed " +
				"when the arbitrator must listen on a given address or port, or to use TLS.",
			Check: checkOptions,
		},
		{
			Name: pBinary, Default: "/usr/bin/garbd",
			Short: "garbd program",
			Long:  "The absolute path of the garbd program (galera-arbitrator-4 installs /usr/bin/garbd).",
			Check: checkAbsolute,
		},
		{
			Name: pLog, Default: "/var/log/garbd.log", Unique: true,
			Short: "Log file",
			Long: "The file garbd's output is appended to. The agent reads it to learn whether " +
				"garbd is in a Primary component, so each resource needs a file of its own.",
			Check: checkAbsolute,
		},
		{
			Name: pPid, Unique: true,
			Short: "Pid file",
			Long: "The file the agent records garbd's process id in (garbd writes none itself). " +
				"Empty means garbd-RESOURCE.pid in HA_RSCTMP (/run/resource-agents).",
			Check: checkAbsolute,
		},
		{
			Name: pWorkdir, Unique: true,
			Short: "Working directory",
			Long: "The directory garbd runs in and saves its view of the cluster to " +
				"(gvwstate.dat); it is created owned by user. Empty means garbd-RESOURCE " +
				"in HA_RSCTMP (/run/resource-agents).",
			Check: checkAbsolute,
		},
		{
			Name: pUser, Default: defaultUser,
			Short: "User garbd runs as",
			Long: "The account garbd runs as. It needs no privileges: only its working directory " +
				"is written, the log is opened by the agent, and the default port 4567 is not a " +
				"privileged port. galera-arbitrator-4's own service runs it as nobody. Use an " +
				"account that can read the TLS key and certificate when options enable socket.ssl.",
			Check: checkWord,
		},
		{
			Name:  pGroup,
			Short: "Group garbd runs as",
			Long:  "The group garbd runs as. Empty means the primary group of user.",
			Check: checkWord,
		},
		{
			Name:  pExtra,
			Short: "Additional garbd arguments",
			Long: "More arguments for garbd, separated by white space and passed as they are " +
				"(no shell), e.g. \"--cfg /etc/garbd.cnf\". Arguments that the agent sets itself " +
				"(--address, --group, --name, --options, --log, --daemon) are rejected.",
			Check: func(v string) error { return checkExtra(splitExtra(v)) },
		},
		{
			Name: pStopWait, Type: ocf.Integer, Default: "10", Min: ocf.Bound(1), Max: ocf.Bound(3600),
			Short: "Seconds stop waits after SIGTERM",
			Long: "How long stop waits for garbd to leave the cluster after SIGTERM before it " +
				"sends SIGKILL; never longer than the stop timeout allows. garbd normally leaves " +
				"within a fraction of a second, and a clean leave spares the other members a " +
				"few seconds of suspicion.",
		},
	}
}
