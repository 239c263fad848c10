// Package labmariadb runs MariaDB on the nodes of a lab cluster
// (internal/lab), as a Galera cluster or as servers replicating from each
// other: a node hook that gives every node its own configuration, data
// directory and logs, a writer that commits numbered rows from a client
// namespace, and checks that no acknowledged row was lost and that every
// node holds the same data. The e2e tests, the demo and the benchmarks
// share it.
package labmariadb

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// Paths inside a node, as the agents and the MariaDB packaging expect them.
const (
	ConfigFile      = "/etc/mysql/my.cnf"
	CheckConfigFile = "/etc/mysql/goha-check.cnf"
	ReplConfigFile  = "/etc/mysql/goha-repl.cnf"
	ErrorLog        = "/var/log/mysql/error.log"
	DataDir         = "/var/lib/mysql"
	Socket          = "/run/mysqld/mysqld.sock"
	ProviderLib     = "/usr/lib/galera/libgalera_smm.so"
	Port            = 3306
)

// Users the template data directory holds.
const (
	CheckUser  = "goha_check"  // @localhost, for the agent's write/read-back check in database goha
	WriterUser = "goha_writer" // @%, ALL on test.*
	ReplUser   = "goha_repl"   // @%, replication and what ocf:heartbeat:mysql asks of it
)

// MyCnf is the server configuration of one node: wsrep on with rsync SST,
// the settings Galera requires (ROW binlog, interleaved auto-increment
// locks, InnoDB), and a small memory footprint so that three servers fit in
// one lab machine. The cluster address is a placeholder: the resource agent
// passes the real one on the command line.
func MyCnf(node string, addr netip.Addr) string {
	lines := append(serverLines(node),
		"binlog_format = ROW",
		"innodb_autoinc_lock_mode = 2",
		"innodb_buffer_pool_size = 32M",
		"innodb_log_file_size = 16M",
		"performance_schema = OFF",
		"max_connections = 50",
		// Clients reach a Galera node at its own address (or through a
		// load balancer, which may run on the same node and bind port 3306
		// of a VIP there).
		"bind_address = "+addr.String(),
		"",
		"wsrep_on = ON",
		"wsrep_provider = "+ProviderLib,
		"wsrep_provider_options = \"gcache.size=64M\"",
		"wsrep_cluster_name = goha-lab",
		"wsrep_cluster_address = gcomm://",
		"wsrep_node_address = "+addr.String(),
		"wsrep_node_name = "+node,
		"wsrep_sst_method = rsync",
		"",
	)
	return strings.Join(lines, "\n")
}

// CheckCnf is the client option file the goha agent reads with
// check_defaults_file: the check user and its password.
func CheckCnf(password string) string {
	return "[client]\nuser = " + CheckUser + "\npassword = " + password + "\n"
}

// ReplicaCnf is the server configuration of one node of a replicated pair
// (ocf:goha:mysql): GTID replication with every transaction in the binary
// log (also those replicated from the other server), crash-safe commits,
// and the node's own server_id.
func ReplicaCnf(node string, serverID int) string {
	lines := append(serverLines(node),
		fmt.Sprintf("server_id = %d", serverID),
		"log_bin = mysql-bin",
		"log_slave_updates = ON",
		"binlog_format = ROW",
		"gtid_strict_mode = ON",
		"sync_binlog = 1",
		"innodb_flush_log_at_trx_commit = 1",
		"relay_log = relay-bin",
		"innodb_buffer_pool_size = 32M",
		"innodb_log_file_size = 16M",
		"performance_schema = OFF",
		"max_connections = 50",
		"",
	)
	return strings.Join(lines, "\n")
}

// ReplCnf is the client option file the mysql agent reads with
// replication_defaults_file.
func ReplCnf(password string) string {
	return "[client]\nuser = " + ReplUser + "\npassword = " + password + "\n"
}

// serverLines begin every node's my.cnf: the paths the agents and the
// MariaDB packaging expect, the port, and name resolution off.
func serverLines(node string) []string {
	return []string{
		"# Written by the goha lab (internal/labmariadb) for node " + node + ".",
		"[client]",
		"socket = " + Socket,
		"",
		"[mysqld]",
		"user = mysql",
		"datadir = " + DataDir,
		"socket = " + Socket,
		"pid-file = /run/mysqld/mysqld.pid",
		// The nodes share the host's /tmp, and a starting server deletes
		// every #sql file in its tmpdir, also another node's.
		"tmpdir = " + filepath.Dir(Socket),
		"log_error = " + ErrorLog,
		fmt.Sprintf("port = %d", Port),
		"bind-address = 0.0.0.0",
		"skip-name-resolve",
		"default_storage_engine = InnoDB",
	}
}
