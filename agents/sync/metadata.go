// Package sync is ocf:goha:sync, a directory tree kept in step with peers.
//
// On the node where a group runs (a session manager's data directory, say)
// the agent runs a small daemon that watches the tree with inotify and
// ships every change to the other nodes with rsync, over ssh or to an rsync
// daemon. It replaces the inotify-plus-rsync scripts such stacks carry by
// hand: the cluster starts it where the data is written and stops it
// before the data moves, so it never runs on a passive node.
//
// The package reads top-down: this file declares the agent; config.go
// (parameters, peers and rsync's argv), schedule.go (batching of events,
// each peer's state and retry backoff) and health.go (what a monitor
// concludes from the daemon's report) are the pure core; state.go,
// watch.go and process.go are the adapters to files, inotify, rsync and
// processes; daemon.go is the daemon's loop and actions.go wires
// everything into start, stop, monitor and validate-all.
//
// The daemon is this same program run with the argument DaemonCommand.
// start launches it in its own session, waits for its first full sync of
// every peer, and returns; stop asks it for a last sync of what is
// pending, then ends it and its rsyncs for good. It writes a JSON report
// (per peer: state, changes not yet shipped and since when, last success,
// last error) that monitor reads together with /proc, forking nothing.
// A peer that cannot be reached is retried with a growing delay and
// receives a full sync when it is back; it does not fail the active node
// unless fail_on_peer_down asks for it, but monitor names it in the node
// attribute RESOURCE-peers-down, written only when that list changes.
//
// Copies go one way, from wherever the resource runs, with --delete. A
// node that takes over may hold an older tree (it was down while changes
// were made on the other): before its first push to a peer it merges in
// what that peer holds newer (rsync --update, deleting nothing), so a file
// written on the peer meanwhile is kept, not deleted by the push. A file
// the peer deleted meanwhile comes back.
package sync

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pDirectory      = "directory"
	pPeers          = "peers"
	pTransport      = "transport"
	pModule         = "rsync_module"
	pRemoteDir      = "remote_directory"
	pSSHUser        = "ssh_user"
	pSSHKey         = "ssh_key"
	pPasswordFile   = "password_file"
	pRsync          = "rsync"
	pRsyncOptions   = "rsync_options"
	pExclude        = "exclude"
	pDebounce       = "debounce"
	pMaxLag         = "max_lag"
	pFailOnPeerDown = "fail_on_peer_down"
	pIOTimeout      = "io_timeout"
	pRetryMax       = "retry_max"
	pStateDir       = "state_dir"
)

// Transports, the values of the transport parameter.
const (
	transportSSH    = "ssh"
	transportDaemon = "daemon"
)

// Agent returns the ocf:goha:sync declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{sys: host{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "sync",
		Version: version.Version,
		Short:   "Keeps a directory tree in sync with peers (inotify and rsync)",
		Long: "Runs a daemon on the active node that watches a directory tree with inotify and " +
			"copies every change to each peer with rsync (over ssh, or to an rsync daemon), " +
			"deleting on the peer what was deleted here. start launches the daemon and waits for " +
			"a first full sync of every peer; changes are then batched (debounce) and shipped. " +
			"A peer that cannot be reached is retried with a growing delay and gets a full sync " +
			"when it is back. monitor reads the daemon's report and /proc without running " +
			"anything: it fails when the daemon is dead or hung, or when a reachable peer lags " +
			"more than max_lag; a peer that is down only fails the monitor with " +
			"fail_on_peer_down=true. stop first ships pending changes to the reachable peers, " +
			"then ends the daemon and any rsync it runs (rsyncs still busy are killed shortly " +
			"before the stop timeout). Put the resource in the group whose data it copies, " +
			"before the service that writes the data, so that it starts before and stops after " +
			"that service and runs only where the data is written.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 120 * time.Second},
			{Name: "stop", Timeout: 30 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 30 * time.Second},
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
			Name: pDirectory, Required: true, Unique: true,
			Short: "Directory tree to keep in sync",
			Long: "The absolute path of the local directory whose contents are copied to every " +
				"peer, subdirectories included. Files deleted here are deleted on the peers " +
				"(rsync_options=--max-delete=N bounds how many one sync may delete).",
			Check: checkLocalDirectory,
		},
		{
			Name: pPeers, Required: true,
			Short: "Peers that receive the copies (space-separated)",
			Long: "The nodes to copy to, separated by spaces. With transport=ssh each is a host " +
				"name or address, optionally user@host; IPv6 addresses go in brackets. With " +
				"transport=daemon each is host or host:port of an rsync daemon (the module comes " +
				"from rsync_module), or a full rsync://[user@]host[:port]/module/path URL. Name " +
				"only the other nodes: the agent copies to every peer listed.",
			Check: func(v string) error { _, err := splitPeers(v); return err },
		},
		{
			Name: pTransport, Type: ocf.Enum, Values: []string{transportSSH, transportDaemon}, Default: transportSSH,
			Short: "How rsync reaches the peers: ssh or daemon",
			Long: "ssh runs rsync over ssh (rsync must be installed on the peers, and the key " +
				"must let this node log in without a passphrase or a prompt: BatchMode is on, " +
				"and the peers' host keys must already be in known_hosts). daemon talks to an " +
				"rsync daemon on each peer (rsync --daemon, port 873 unless the peer names " +
				"another), which needs no login but a writable module.",
		},
		{
			Name:  pModule,
			Short: "rsync daemon module on the peers (transport=daemon)",
			Long: "The module of the peers' rsync daemons to copy into, for peers given as " +
				"host or host:port. Not used with transport=ssh nor for peers given as " +
				"rsync:// URLs.",
			Check: checkModule,
		},
		{
			Name:  pRemoteDir,
			Short: "Directory on the peers",
			Long: "Where the copy goes on each peer. With transport=ssh an absolute path; empty " +
				"means the same path as directory. With transport=daemon a path inside the " +
				"module; empty means the module's root.",
			Check: checkRemoteDirectory,
		},
		{
			Name:  pSSHUser,
			Short: "User to log in as on the peers (transport=ssh)",
			Long: "The account rsync logs in as on every peer that does not name one itself " +
				"(user@host). Empty leaves it to ssh: the user the agent runs as (root).",
			Check: checkWord,
		},
		{
			Name:  pSSHKey,
			Short: "Private key file for ssh (transport=ssh)",
			Long: "The private key ssh authenticates with (ssh -i). Empty uses ssh's defaults " +
				"(~/.ssh/id_*). The key must have no passphrase: nobody is there to type it.",
			Check: checkKeyPath,
		},
		{
			Name:  pPasswordFile,
			Short: "Password file for the rsync daemon (transport=daemon)",
			Long: "A file holding the password of the user named in the peers' rsync:// URLs, " +
				"for modules with auth users (rsync --password-file). It must not be readable by " +
				"other users, or rsync refuses it. The password itself never appears in the CIB.",
			Check: checkAbsolute,
		},
		{
			Name: pRsync, Default: "/usr/bin/rsync",
			Short: "rsync program",
			Long:  "The absolute path of the rsync program.",
			Check: checkAbsolute,
		},
		{
			Name:  pRsyncOptions,
			Short: "More rsync options",
			Long: "Options added to rsync's command line, separated by spaces and passed as they " +
				"are (no shell), e.g. \"--numeric-ids --hard-links\". The agent always passes " +
				"--archive --delete and --timeout; options that choose the remote shell or files " +
				"(-e, --rsh, --files-from, --remove-source-files) are rejected.",
			Check: func(v string) error { return checkRsyncOptions(splitFields(v)) },
		},
		{
			Name:  pExclude,
			Short: "Patterns to leave out (space-separated)",
			Long: "rsync exclude patterns, separated by spaces, each passed as --exclude, e.g. " +
				"\"*.tmp .lock cache/\". Excluded files are not copied and not deleted on the " +
				"peers. Changes to files whose name matches a pattern without a slash do not " +
				"start a sync by themselves.",
		},
		{
			Name: pDebounce, Type: ocf.Integer, Default: "200", Min: ocf.Bound(0), Max: ocf.Bound(60000),
			Short: "Milliseconds of quiet before changes are shipped",
			Long: "Changes are collected until none has come for this long, then shipped in one " +
				"rsync per peer, so that a program writing many files causes a few syncs, not " +
				"one per file. Under a steady stream of changes a batch is shipped at least every " +
				"two seconds (or every debounce, when that is longer).",
		},
		{
			Name: pMaxLag, Type: ocf.Integer, Default: "60", Min: ocf.Bound(0), Max: ocf.Bound(86400),
			Short: "Seconds a reachable peer may lag before monitor fails",
			Long: "When a change has waited longer than this for a peer that is reachable (its " +
				"last sync succeeded), the daemon is not keeping up and monitor fails, so that " +
				"Pacemaker restarts it. With fail_on_peer_down=true it is also how long a peer " +
				"may be unreachable. 0 disables both checks.",
		},
		{
			Name: pFailOnPeerDown, Type: ocf.Boolean, Default: "false",
			Short: "Fail the monitor when a peer is unreachable",
			Long: "By default a peer that cannot be reached is only reported (monitor's warnings " +
				"in the log, and the transient node attribute RESOURCE-peers-down, which lists " +
				"such peers and is removed when all are reachable again) and retried: the " +
				"active node must not give up its services " +
				"because the passive one is down. With true, monitor fails once a peer has been " +
				"unreachable for longer than max_lag.",
		},
		{
			Name: pIOTimeout, Type: ocf.Integer, Default: "30", Min: ocf.Bound(1), Max: ocf.Bound(3600),
			Short: "Seconds rsync waits for a silent peer",
			Long: "rsync's --timeout (and --contimeout, or ssh's ConnectTimeout): a peer that " +
				"stops answering for this long fails the sync, which is then retried.",
		},
		{
			Name: pRetryMax, Type: ocf.Integer, Default: "30", Min: ocf.Bound(1), Max: ocf.Bound(3600),
			Short: "Longest delay in seconds between retries of a failing peer",
			Long: "A failed sync is retried after 1 s, then after twice the previous delay, up " +
				"to this many seconds, until the peer answers again.",
		},
		{
			Name: pStateDir, Unique: true,
			Short: "Directory of the daemon's pid, report and log files",
			Long: "Where the daemon's files go: sync-RESOURCE.pid, .conf, .state and .log. " +
				"Empty means HA_RSCTMP (/run/resource-agents), which is emptied at boot.",
			Check: checkAbsolute,
		},
	}
}
