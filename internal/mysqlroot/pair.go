package mysqlroot

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/goha-ha/goha/internal/mysqlpair"
)

// Pair is two MySQL servers' directories and configurations in one root;
// the servers are started by whoever uses the pair.
type Pair struct {
	*mysqlpair.Pair
	Root *Root
	// Binary is the wrapper that runs the root's mysqld: the agent's
	// binary parameter.
	Binary string
}

// New prepares a pair in dir (made 0755; its parents must be reachable by
// the server user): the root mounted under dir/mysqlroot, the servers'
// directories under dir/pair shared with it, one data directory
// initialised with the accounts of internal/mysqlpair and binary logging
// off, copied for each node with a server UUID of its own, and a my.cnf
// each. gtid sets gtid_mode and enforce_gtid_consistency ON, else OFF.
// Close ends the servers, then unmounts the root.
func New(dir string, gtid bool) (*Pair, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	shared := filepath.Join(dir, "pair")
	if err := os.Mkdir(shared, 0o755); err != nil {
		return nil, err
	}
	root, err := Mount(filepath.Join(dir, "mysqlroot"), shared)
	if err != nil {
		return nil, err
	}
	p := &Pair{Root: root, Binary: filepath.Join(dir, "mysqld")}
	if err := p.prepare(shared, gtid); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Pair) prepare(dir string, gtid bool) error {
	if err := p.Root.WriteWrapper(p.Binary); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	p.Pair = &mysqlpair.Pair{Dir: dir, Port: port}
	for i := range p.Nodes {
		d := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		p.Nodes[i] = &mysqlpair.Node{
			Name: fmt.Sprintf("n%d", i+1), Addr: fmt.Sprintf("127.0.0.%d", 21+i), ServerID: i + 1,
			Config: filepath.Join(d, "my.cnf"), Datadir: filepath.Join(d, "data"),
			Socket: filepath.Join(d, "run", "mysqld.sock"), PidFile: filepath.Join(d, "run", "mysqld.pid"),
			Log: filepath.Join(d, "error.log"),
		}
		for _, sub := range []string{d, filepath.Join(d, "run"), filepath.Join(d, "files")} {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
			if err := mysqlpair.Chown(sub); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p.Nodes[i].Config, []byte(config(p.Nodes[i], port, gtid)), 0o644); err != nil {
			return err
		}
	}
	template := filepath.Join(dir, "template")
	if err := p.initTemplate(p.Nodes[0].Config, template); err != nil {
		return err
	}
	for _, n := range p.Nodes {
		if out, err := exec.Command("cp", "-a", template, n.Datadir).CombinedOutput(); err != nil {
			return fmt.Errorf("copy template: %w: %s", err, out)
		}
		// Each server makes a UUID of its own at first start; two with
		// the same one refuse to replicate from each other.
		if err := os.Remove(filepath.Join(n.Datadir, "auto.cnf")); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return os.RemoveAll(template)
}

// config is a node's my.cnf: binary logs in both directions, crash-safe
// settings, its own loopback address, and no X protocol listener (it
// would take port 33060 on every address).
func config(n *mysqlpair.Node, port int, gtid bool) string {
	mode := "OFF"
	if gtid {
		mode = "ON"
	}
	return fmt.Sprintf(`[mysqld]
server_id = %d
bind_address = %s
port = %d
mysqlx = OFF
log_bin = mysql-bin
log_replica_updates = ON
gtid_mode = %s
enforce_gtid_consistency = %s
sync_binlog = 1
innodb_flush_log_at_trx_commit = 1
relay_log = relay-bin
skip_name_resolve = ON
secure_file_priv = %s
innodb_buffer_pool_size = 32M
innodb_redo_log_capacity = 16M
performance_schema = OFF
`, n.ServerID, n.Addr, port, mode, mode, filepath.Join(filepath.Dir(n.Datadir), "files"))
}

// initTemplate initialises a data directory with root@localhost without a
// password and the pair's accounts, binary logging off so that both
// servers begin with empty, identical histories.
func (p *Pair) initTemplate(cnf, datadir string) error {
	initFile := filepath.Join(filepath.Dir(cnf), "init.sql")
	sqlText := fmt.Sprintf(`CREATE USER '%[1]s'@'%%' IDENTIFIED BY '%[2]s';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '%[1]s'@'%%';
CREATE DATABASE %[5]s;
CREATE USER '%[3]s'@'%%' IDENTIFIED BY '%[4]s';
GRANT ALL ON %[5]s.* TO '%[3]s'@'%%';
`, mysqlpair.ReplUser, mysqlpair.ReplPassword, mysqlpair.WriterUser, mysqlpair.WriterPassword, mysqlpair.Database)
	if err := os.WriteFile(initFile, []byte(sqlText), 0o644); err != nil {
		return err
	}
	defer os.Remove(initFile)
	log := filepath.Join(filepath.Dir(cnf), "initialize.log")
	cmd := p.Root.Command("--defaults-file="+cnf, "--initialize-insecure", "--datadir="+datadir,
		"--user="+ServerUser, "--disable-log-bin", "--init-file="+initFile, "--log-error="+log)
	if out, err := cmd.CombinedOutput(); err != nil {
		b, _ := os.ReadFile(log)
		return fmt.Errorf("mysqld --initialize-insecure: %w: %s %s", err, out, b)
	}
	return nil
}

// Close ends every server of the pair by pid, removes its directories and
// unmounts the root.
func (p *Pair) Close() error {
	var err error
	if p.Pair != nil {
		err = p.Pair.Close()
	}
	if uerr := p.Root.Close(); err == nil {
		err = uerr
	}
	return err
}

// freePort is a port free on the pair's first address.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.21:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Version is what the root's mysqld --version says.
func (p *Pair) Version() (string, error) {
	out, err := exec.Command(p.Binary, "--version").Output()
	return strings.TrimSpace(string(out)), err
}
