// Package haproxy is ocf:goha:haproxy, HAProxy as a cluster resource.
//
// A pair of HAProxy servers behind a floating address is the front door of
// several stacks goha serves (OpenUDS among them). systemd's haproxy unit
// cannot serve there: it restarts a crashed haproxy behind Pacemaker's back,
// and nothing in it tells a haproxy whose backends are all down from a
// healthy one. This agent runs haproxy in master-worker mode, detached from
// the agent, with a master CLI socket of its own:
//
//   - start checks the configuration with `haproxy -c` and refuses a bad one
//     with haproxy's own ALERT lines, launches haproxy (-W -D -S -p) and
//     returns once every TCP address of every frontend listens.
//   - reload checks the configuration first, so a bad file never replaces a
//     good running haproxy, then sends `reload` to the master socket. In
//     HAProxy 2.6 the re-executed master hands the listening sockets of the
//     old worker to the new one itself (-x sockpair@), so no connection is
//     refused while old workers finish theirs; no stats socket with
//     expose-fd listeners is needed.
//   - monitor forks nothing: the master from the pid file and /proc, `show
//     proc` on the master socket for its current worker, the worker's `show
//     stat` for frontends and required backends, and the kernel's listening
//     TCP sockets (a sock_diag dump filtered to LISTEN, which stays small on a
//     proxy with many connections, unlike /proc/net/tcp) for every bind
//     address the configuration had when haproxy last started or reloaded.
//     A listening socket is not tied to its owner: another program bound to
//     the same address with SO_REUSEPORT would satisfy the check too.
//   - stop sends SIGTERM to the master and its workers, SIGKILL after
//     stop_grace, and succeeds only when every process of the resource,
//     old workers included, is gone.
//
// The package reads top-down: this file declares the agent; config.go (the
// parameters, haproxy's argv, and what a haproxy.cfg binds) and status.go
// (`show proc` and `show stat` and the judgement a monitor draws from them)
// are the pure core; haproxy.go is the adapter to processes, the master
// socket, the kernel's sockets and files; actions.go wires them together.
package haproxy

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pConfig    = "config"
	pBinary    = "binary"
	pPidfile   = "pidfile"
	pSocket    = "master_socket"
	pRequired  = "required_backends"
	pExtra     = "extra_args"
	pStopGrace = "stop_grace"
)

// Agent returns the ocf:goha:haproxy declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{sys: host{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "haproxy",
		Version: version.Version,
		Short:   "HAProxy load balancer in master-worker mode",
		Long: "Runs HAProxy in master-worker mode with a master CLI socket of its own. start " +
			"checks the configuration with haproxy -c and returns once every frontend listens; " +
			"reload checks the configuration again and reloads through the master socket, so " +
			"listening sockets pass to the new worker without a refused connection and old " +
			"workers finish their connections; a configuration haproxy rejects never replaces " +
			"a running one. monitor forks nothing: it checks the master, its current worker, " +
			"that every frontend address listens and, with required_backends, that each of " +
			"those backends has a server up. stop ends the master and every worker, old ones " +
			"included. Apply an edited haproxy.cfg with the reload action. A reload whose " +
			"configuration haproxy rejects fails with OCF_ERR_GENERIC and leaves the running " +
			"haproxy serving; give the reload operation on-fail=block to keep it so until the " +
			"file is fixed, rather than the default restart, whose start would refuse the file.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 60 * time.Second},
			{Name: "stop", Timeout: 60 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "reload", Timeout: 60 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Reload:   a.reload,
		Validate: a.validate,
	}
}

func params() []ocf.Param {
	return []ocf.Param{
		{
			Name: pConfig, Default: "/etc/haproxy/haproxy.cfg", Unique: true,
			Short: "haproxy.cfg path",
			Long: "The configuration file haproxy runs with (-f). The agent also reads it to learn " +
				"which addresses the frontends and listen sections bind. Edit the file and run the " +
				"reload action to apply it without dropping connections; changing the path itself " +
				"restarts haproxy.",
			Check: checkAbsolute,
		},
		{
			Name: pBinary, Default: "/usr/sbin/haproxy",
			Short: "haproxy program",
			Long: "The absolute path of the haproxy program. A reload re-executes the program at " +
				"this path, so an upgraded package takes effect on the next reload.",
			Check: checkAbsolute,
		},
		{
			Name: pPidfile, Unique: true,
			Short: "Pid file of the haproxy master",
			Long: "Where haproxy records its master's pid (-p). Empty means " +
				"/run/goha/haproxy-RESOURCE.pid.",
			Check: checkAbsolute,
		},
		{
			Name: pSocket, Unique: true,
			Short: "Master CLI socket",
			Long: "The UNIX socket of haproxy's master CLI (-S), created mode 0600. The agent " +
				"reloads and monitors haproxy through it and recognises the processes of this " +
				"resource by it. Empty means /run/goha/haproxy-RESOURCE.sock.",
			Check: checkAbsolute,
		},
		{
			Name: pRequired, Reloadable: true,
			Short: "Backends that must have a server up",
			Long: "Backend (or listen section) names, separated by spaces. monitor fails when one " +
				"of them has no server in state UP, so that the address moves to a node whose " +
				"haproxy reaches its servers. A server without health checks (no check) counts as " +
				"up, so give the servers of these backends the check keyword. Empty checks no " +
				"backend.",
			Check: checkBackendNames,
		},
		{
			Name:  pExtra,
			Short: "More haproxy arguments",
			Long: "More arguments for haproxy, separated by white space and passed as they are " +
				"(no shell), e.g. \"-f /etc/haproxy/conf.d\" or \"-L node1\". They apply to the " +
				"configuration check as well. Arguments the agent sets itself (-W, -D, -S, -p, " +
				"-c, -sf, -st, -x, -q) are rejected. A change restarts haproxy on the next reload.",
			Check: func(v string) error { return checkExtra(splitExtra(v)) },
		},
		{
			Name: pStopGrace, Type: ocf.Integer, Default: "10", Min: ocf.Bound(0), Max: ocf.Bound(3600),
			Reloadable: true,
			Short:      "Seconds stop waits after SIGTERM",
			Long: "How long stop waits for haproxy to exit after SIGTERM before it sends SIGKILL; " +
				"never longer than the stop timeout allows. haproxy exits at once on SIGTERM, " +
				"closing the connections it proxies.",
		},
	}
}
