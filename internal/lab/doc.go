// Package lab runs real multi-node Pacemaker/Corosync clusters on one Linux
// machine, each node a set of namespaces, for end-to-end tests of goha.
//
// A node is a network namespace with a veth into the lab's bridge plus a
// process tree in its own PID, mount, UTS and IPC namespaces. The tree's PID 1
// is the goha binary itself re-executed as `goha lab _init`: it makes the
// mount namespace private, mounts a fresh /proc, /sys, a tmpfs on /run and
// /dev/shm, bind-mounts the node's own directories over /etc/corosync,
// /var/lib/pacemaker, /var/log/pacemaker, /var/log/cluster, /var/lib/corosync
// and /var/lib/goha, then starts corosync and pacemakerd, reaps orphans and
// stops the stack cleanly on request. The lab's fence agent (and any OCF
// agents asked for) appear in /usr/sbin and /usr/lib/ocf/resource.d/goha
// through a read-only overlay, so nothing is installed on the host. Every
// node starts from the same initial CIB (fencing configured, short
// dc-deadtime), which brings a 3-node lab to quorum in about 10 s. Nothing
// is ever booted with systemd.
//
// Host layout of a lab named L:
//
//	/run/goha/lab/L/            state.json, control socket, logs, status files
//	/var/lib/goha-lab/L/<node>/ the node's persistent directories
//	/run/netns/goha-L-<node>    the node's network namespace (kept across crashes)
//	glab<k>                     the bridge, address 10.213.<k>.254/24
//	/sys/fs/cgroup/unified/goha-lab/L/<node>  freeze and kill
//	/sys/fs/cgroup/memory/goha-lab/L/<node>   memory accounting (cgroup v1)
//
// Power actions (crash, boot) are carried out by a per-lab controller, a
// detached `goha lab _controller` process on the host that serves a unix
// socket inside the lab's run directory. The run directory is bind-mounted
// into every node, so the fence agent fence_goha_lab, which Pacemaker runs
// inside a node, reaches the controller through that socket: a process in one
// node's PID namespace cannot signal the processes of another node, but the
// controller in the host namespaces can. The controller is also the parent of
// every node's init, so crashed nodes are reaped (the host's PID 1 on these
// machines does not reap orphans).
package lab
