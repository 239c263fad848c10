// Package mysqlpair prepares two MariaDB servers on loopback, each on an
// address of its own (127.0.0.11 and 127.0.0.12, same port), ready to
// replicate from each other with GTIDs: the ground ocf:goha:mysql's
// component tests and benchmarks run on. New makes the data directories
// and configurations; the servers are started by whoever uses the pair (an
// agent, or a test by hand); Close ends every server of the pair by PID and
// removes what New made.
package mysqlpair

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/goha-ha/goha/internal/mariadb"
	"github.com/goha-ha/goha/internal/proc"
)

// What the servers need from the machine.
const (
	Mariadbd   = "/usr/sbin/mariadbd"
	InstallDB  = "mariadb-install-db"
	ServerUser = "mysql"
)

// Accounts every server of the pair has.
const (
	ReplUser     = "repl"
	ReplPassword = "repl-secret"
	// WriterUser writes test rows; it has no SUPER, so read_only stops it.
	WriterUser     = "writer"
	WriterPassword = "writer-secret"
	Database       = "goha_test"
)

// Missing says what this machine lacks to run the pair, "" when nothing.
func Missing() string {
	if os.Geteuid() != 0 {
		return "needs root to run mariadbd as user " + ServerUser
	}
	if _, err := os.Stat(Mariadbd); err != nil {
		return "needs " + Mariadbd + " (apt-get install mariadb-server)"
	}
	if _, err := exec.LookPath(InstallDB); err != nil {
		return "needs " + InstallDB + " (apt-get install mariadb-server)"
	}
	if _, err := user.Lookup(ServerUser); err != nil {
		return "needs the " + ServerUser + " user"
	}
	return ""
}

// Node is one server of the pair; the fields are what ocf:goha:mysql takes
// as parameters.
type Node struct {
	Name     string // the Pacemaker node name the tests give it: n1, n2
	Addr     string // its loopback address
	ServerID int
	Config   string
	Datadir  string
	Socket   string
	PidFile  string
	Log      string
}

// Pair is two nodes sharing a port.
type Pair struct {
	Dir   string
	Port  int
	Nodes [2]*Node
}

// HostMap is the agent's host_map for the pair.
func (p *Pair) HostMap() string {
	return fmt.Sprintf("%s:%s;%s:%s", p.Nodes[0].Name, p.Nodes[0].Addr, p.Nodes[1].Name, p.Nodes[1].Addr)
}

// New prepares the pair in dir (made 0755; its parents must be reachable by
// the server user): one data directory initialised with the accounts above
// and binary logging off (so the two start with empty, identical histories),
// copied for each node, and a my.cnf each with its own server_id.
func New(dir string) (*Pair, error) {
	if err := reachable(dir); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Pair{Dir: dir, Port: port}
	for i := range p.Nodes {
		d := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		p.Nodes[i] = &Node{
			Name: fmt.Sprintf("n%d", i+1), Addr: fmt.Sprintf("127.0.0.%d", 11+i), ServerID: i + 1,
			Config: filepath.Join(d, "my.cnf"), Datadir: filepath.Join(d, "data"),
			Socket: filepath.Join(d, "run", "mysqld.sock"), PidFile: filepath.Join(d, "run", "mysqld.pid"),
			Log: filepath.Join(d, "error.log"),
		}
		for _, sub := range []string{d, filepath.Join(d, "run")} {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return nil, err
			}
			if err := Chown(sub); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(p.Nodes[i].Config, []byte(p.config(p.Nodes[i])), 0o644); err != nil {
			return nil, err
		}
	}
	template := filepath.Join(dir, "template")
	if err := initTemplate(p.Nodes[0].Config, template); err != nil {
		return nil, err
	}
	for _, n := range p.Nodes {
		if out, err := exec.Command("cp", "-a", template, n.Datadir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("copy template: %w: %s", err, out)
		}
	}
	return p, os.RemoveAll(template)
}

// config is a node's my.cnf: GTID replication in both directions, crash-safe
// settings, and the loopback address of its own. Its temporary files go to
// its own directory: a MariaDB server deletes every #sql file in its tmpdir
// when it starts, also another server's.
func (p *Pair) config(n *Node) string {
	return fmt.Sprintf(`[mysqld]
server_id = %d
bind_address = %s
port = %d
log_bin = mysql-bin
log_slave_updates = ON
binlog_format = ROW
gtid_strict_mode = ON
sync_binlog = 1
innodb_flush_log_at_trx_commit = 1
relay_log = relay-bin
skip_name_resolve = ON
innodb_buffer_pool_size = 32M
innodb_log_file_size = 16M
performance_schema = OFF
tmpdir = %s
`, n.ServerID, n.Addr, p.Port, filepath.Dir(n.Config))
}

// initTemplate installs a data directory and creates the accounts with
// binary logging off.
func initTemplate(cnf, datadir string) error {
	if err := os.Mkdir(datadir, 0o750); err != nil {
		return err
	}
	if err := Chown(datadir); err != nil {
		return err
	}
	install := exec.Command(InstallDB, "--defaults-file="+cnf, "--datadir="+datadir,
		"--user="+ServerUser, "--auth-root-authentication-method=socket", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", InstallDB, err, out)
	}
	sqlText := fmt.Sprintf(`USE mysql;
CREATE USER '%[1]s'@'%%' IDENTIFIED BY '%[2]s';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '%[1]s'@'%%';
CREATE DATABASE %[5]s;
CREATE USER '%[3]s'@'%%' IDENTIFIED BY '%[4]s';
GRANT ALL ON %[5]s.* TO '%[3]s'@'%%';
`, ReplUser, ReplPassword, WriterUser, WriterPassword, Database)
	boot := exec.Command(Mariadbd, "--defaults-file="+cnf, "--datadir="+datadir, "--user="+ServerUser,
		"--bootstrap", "--skip-log-bin", "--skip-grant-tables=0", "--log-error="+filepath.Join(filepath.Dir(datadir), "bootstrap.log"))
	boot.Stdin = strings.NewReader(sqlText)
	if out, err := boot.CombinedOutput(); err != nil {
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(datadir), "bootstrap.log"))
		return fmt.Errorf("create accounts: %w: %s %s", err, out, b)
	}
	return nil
}

// Pids returns every live server of the pair.
func (p *Pair) Pids() []int {
	var pids []int
	for _, n := range p.Nodes {
		s := n.Server()
		pids = append(pids, s.Find()...)
	}
	return pids
}

// Server is the node as internal/mariadb describes a server.
func (n *Node) Server() mariadb.Server {
	return mariadb.Server{Binary: Mariadbd, Config: n.Config, Datadir: n.Datadir, User: ServerUser, Group: ServerUser,
		Log: n.Log, PidFile: n.PidFile, Socket: n.Socket}
}

// Close ends every server of the pair (SIGTERM, then SIGKILL) and removes
// the directory.
func (p *Pair) Close() error {
	if pids := p.Pids(); len(pids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		if err := proc.Terminate(ctx, pids, time.Now().Add(30*time.Second)); err != nil {
			return err
		}
	}
	return os.RemoveAll(p.Dir)
}

// Root connects to n as root over its socket.
func (n *Node) Root() (*sql.DB, error) {
	return mariadb.Connect(n.Socket, mariadb.Credentials{User: "root"})
}

// Writer connects to n over TCP as the writer account, to the test database.
func (n *Node) Writer(port int) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(n.Addr, strconv.Itoa(port))
	cfg.User, cfg.Passwd, cfg.DBName = WriterUser, WriterPassword, Database
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.11:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func reachable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// Chown gives path to the server user.
func Chown(path string) error {
	u, err := user.Lookup(ServerUser)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}
