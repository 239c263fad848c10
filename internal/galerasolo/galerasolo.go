// Package galerasolo runs a single-node MariaDB Galera server on loopback in
// a directory of its own, for the galera agents' component tests and
// benchmarks: Init seeds a template data directory once, New copies it for
// one use with its own my.cnf and free ports, and Close ends every server of
// that copy by PID and removes what New made. The server itself is started
// by whoever uses it (an agent, or a test by hand); this package only
// provides the ground it runs on.
//
// It needs root, mariadbd, the Galera provider, mariadb-install-db and the
// mysql user; Missing says which of them this machine lacks.
package galerasolo

import (
	"github.com/goha-ha/goha/internal/proc"

	"github.com/goha-ha/goha/agents/galera/grastate"

	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sys/unix"
)

// What the server needs from the machine.
const (
	Mariadbd   = "/usr/sbin/mariadbd"
	Provider   = "/usr/lib/galera/libgalera_smm.so"
	InstallDB  = "mariadb-install-db"
	ServerUser = "mysql" // mariadbd runs as this user (--user)
)

// Time limits for a server to come up and to go away.
const (
	UpLimit  = 60 * time.Second
	EndLimit = 30 * time.Second
)

// Missing says what this machine lacks to run a server, "" when nothing:
// a caller skips (a test) or fails (a benchmark) with it.
func Missing() string {
	if os.Geteuid() != 0 {
		return "needs root to run mariadbd as user " + ServerUser
	}
	for _, p := range []string{Mariadbd, Provider} {
		if _, err := os.Stat(p); err != nil {
			return "needs " + p + " (apt-get install mariadb-server galera-4)"
		}
	}
	if _, err := exec.LookPath(InstallDB); err != nil {
		return "needs " + InstallDB + " (apt-get install mariadb-server)"
	}
	if _, err := user.Lookup(ServerUser); err != nil {
		return "needs the " + ServerUser + " user"
	}
	return ""
}

// Template is a data directory initialised and run once as a new cluster,
// so that its grastate.dat holds a real, cleanly saved position. New copies
// it; it is never run itself again.
type Template struct {
	Datadir string
}

// Init makes dir (0755, as the server user must reach what is inside; its
// parents must be reachable too) and seeds a template data directory in it.
// The caller removes dir when done.
func Init(dir string) (*Template, error) {
	if err := makeReachable(dir); err != nil {
		return nil, err
	}
	gport, iport, err := freePorts()
	if err != nil {
		return nil, err
	}
	cnf := filepath.Join(dir, "seed.cnf")
	if err := writeConfig(cnf, gport, iport); err != nil {
		return nil, err
	}
	t := &Template{Datadir: filepath.Join(dir, "template")}
	if err := os.Mkdir(t.Datadir, 0o750); err != nil {
		return nil, fmt.Errorf("create template datadir: %w", err)
	}
	if err := ChownToServerUser(t.Datadir); err != nil {
		return nil, err
	}
	install := exec.Command(InstallDB, "--defaults-file="+cnf, "--datadir="+t.Datadir,
		"--user="+ServerUser, "--auth-root-authentication-method=socket")
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", InstallDB, err, out)
	}
	run := filepath.Join(dir, "seed")
	if err := os.Mkdir(run, 0o755); err != nil {
		return nil, fmt.Errorf("create seed run dir: %w", err)
	}
	if err := ChownToServerUser(run); err != nil {
		return nil, err
	}
	if err := seed(cnf, t.Datadir, run); err != nil {
		return nil, err
	}
	g, err := ReadGrastate(t.Datadir)
	if err != nil || g.Seqno < 0 {
		return nil, fmt.Errorf("seed left no clean grastate.dat: %+v %v", g, err)
	}
	return t, nil
}

// seed runs the template once as a new cluster until it is Synced, then
// shuts it down cleanly.
func seed(cnf, datadir, run string) error {
	socket, log := filepath.Join(run, "s.sock"), filepath.Join(run, "err.log")
	cmd := exec.Command(Mariadbd, "--defaults-file="+cnf, "--datadir="+datadir,
		"--socket="+socket, "--pid-file="+filepath.Join(run, "p.pid"), "--user="+ServerUser,
		"--log-error="+log, "--wsrep-new-cluster")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start seed server: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), UpLimit)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := WaitSynced(ctx, socket); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		b, _ := os.ReadFile(log)
		return fmt.Errorf("seed server: %w\n%s", err, lastBytes(b, 2000))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop seed server: %w", err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			return fmt.Errorf("seed server shutdown: %w", waitErr)
		}
	case <-time.After(EndLimit):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("seed server did not shut down in %s", EndLimit)
	}
	return nil
}

// Server is one use of the template: a copy of its data directory, a my.cnf
// with ports of its own, and where the server keeps its socket, pid file
// and error log. The fields are what the galera agents take as parameters.
type Server struct {
	Host       string // this machine's hostname, the Galera node name
	Dir        string // holds everything below
	Config     string // my.cnf
	Datadir    string
	Socket     string
	PidFile    string
	Log        string // error log
	GaleraPort int    // gmcast.listen_addr on 127.0.0.1
	ISTPort    int    // ist.recv_addr on 127.0.0.1

	madeDir bool // New created Dir, so Close removes it too
}

// New prepares a server in dir (created if missing, made 0755; its parents
// must be reachable by the server user): a copy of the template's data
// directory and a my.cnf with two ports free on loopback. Nothing runs yet.
func (t *Template) New(dir string) (*Server, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("hostname: %w", err)
	}
	_, statErr := os.Stat(dir)
	if err := makeReachable(dir); err != nil {
		return nil, err
	}
	gport, iport, err := freePorts()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Host: host, Dir: dir, Config: filepath.Join(dir, "my.cnf"), Datadir: filepath.Join(dir, "d"),
		GaleraPort: gport, ISTPort: iport, madeDir: errors.Is(statErr, os.ErrNotExist),
	}
	s.Socket = filepath.Join(s.Datadir, "s.sock")
	s.PidFile = filepath.Join(s.Datadir, "p.pid")
	s.Log = filepath.Join(s.Datadir, "err.log")
	if err := writeConfig(s.Config, gport, iport); err != nil {
		s.remove()
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", t.Datadir, s.Datadir).CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("copy template datadir: %w\n%s", err, out)
	}
	return s, nil
}

// Address is the wsrep_cluster_address naming this node and its port, as
// the agents are configured with it.
func (s *Server) Address() string { return fmt.Sprintf("gcomm://%s:%d", s.Host, s.GaleraPort) }

// Params are the agent parameters that describe this server, by OCF name.
func (s *Server) Params() map[string]string {
	return map[string]string{
		"wsrep_cluster_address": s.Address(),
		"config":                s.Config,
		"datadir":               s.Datadir,
		"socket":                s.Socket,
		"pid":                   s.PidFile,
		"log":                   s.Log,
	}
}

// Pids lists the mariadbd processes running on this server's data
// directory, by their command line.
func (s *Server) Pids() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(argv[0]) != "mariadbd" {
			continue
		}
		for _, a := range argv[1:] {
			if a == "--datadir="+s.Datadir {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// Close kills every server on this data directory by PID, waits until each
// is gone, reaps those this process inherited as a subreaper, and removes
// what New made. It reports a server that survived SIGKILL.
func (s *Server) Close() error {
	var errs []error
	for _, pid := range s.Pids() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !WaitGone(pid, EndLimit) {
			errs = append(errs, fmt.Errorf("server pid %d of %s survived SIGKILL", pid, s.Datadir))
		}
	}
	reapServerZombies()
	if len(errs) > 0 {
		return errors.Join(errs...) // its files stay: the server may still use them
	}
	return s.remove()
}

func (s *Server) remove() error {
	if s.madeDir {
		if err := os.RemoveAll(s.Dir); err != nil {
			return fmt.Errorf("remove %s: %w", s.Dir, err)
		}
		return nil
	}
	for _, p := range []string{s.Config, s.Datadir} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// reapServerZombies reaps the exited mariadbd children of this process:
// servers an agent launched detached, inherited as their subreaper.
func reapServerZombies() {
	self := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil || !bytes.HasPrefix(b, []byte(e.Name()+" (mariadbd) ")) {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[0] == "Z" && fields[1] == self {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// Gone reports whether pid has exited (a zombie counts), reaping it when it
// is this process's child.
func Gone(pid int) bool {
	if proc.Alive(pid) {
		return false
	}
	var ws unix.WaitStatus
	_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	return true
}

// WaitGone polls Gone until it holds or limit passes.
func WaitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !Gone(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// writeConfig writes the my.cnf of a single-node cluster on loopback. The
// address in it is empty; whoever starts the server passes the real one.
func writeConfig(path string, galeraPort, istPort int) error {
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	// The server's temporary files go to a directory of its own: a
	// MariaDB server deletes every #sql file in its tmpdir when it
	// starts, also another server's.
	tmp := filepath.Join(filepath.Dir(path), "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := ChownToServerUser(tmp); err != nil {
		return err
	}
	cnf := fmt.Sprintf(`[mysqld]
wsrep_on=ON
wsrep_provider=%s
wsrep_cluster_address=gcomm://
wsrep_cluster_name=goha_solo
wsrep_node_name=%s
wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d
wsrep_sst_method=rsync
binlog_format=ROW
innodb_autoinc_lock_mode=2
skip-networking
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
performance_schema=OFF
tmpdir=%s
`, Provider, host, galeraPort, istPort, tmp)
	if err := os.WriteFile(path, []byte(cnf), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// freePorts picks two TCP ports free on loopback.
func freePorts() (int, int, error) {
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("pick a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

func makeReachable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// ChownToServerUser gives path to the server user and its group.
func ChownToServerUser(path string) error {
	u, err := user.Lookup(ServerUser)
	if err != nil {
		return fmt.Errorf("look up %s: %w", ServerUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, ServerUser, err)
	}
	return nil
}

// RootDB opens a connection to the server on socket as root, who needs no
// password there (unix_socket authentication).
func RootDB(socket string) *sql.DB {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User = "unix", socket, "root"
	cfg.Timeout = 2 * time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err) // a static configuration
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	return db
}

// StatusVar reads one global status variable; name is a constant of the
// caller's, since SHOW takes no placeholders.
func StatusVar(ctx context.Context, db *sql.DB, name string) (string, error) {
	var k, v string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
		return "", fmt.Errorf("status %s: %w", name, err)
	}
	return v, nil
}

// WaitSynced waits until the server on socket is a Synced member of a
// Primary component and returns its wsrep_last_committed.
func WaitSynced(ctx context.Context, socket string) (int64, error) {
	db := RootDB(socket)
	defer db.Close()
	var last error
	for {
		state, err := StatusVar(ctx, db, "wsrep_local_state")
		if err == nil && state == "4" {
			var v string
			if v, err = StatusVar(ctx, db, "wsrep_last_committed"); err == nil {
				return strconv.ParseInt(v, 10, 64)
			}
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("wsrep_local_state %s", state)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("server on %s not synced: %v", socket, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReadGrastate reads datadir's grastate.dat with the agent's own parser.
func ReadGrastate(datadir string) (grastate.Position, error) {
	b, err := os.ReadFile(filepath.Join(datadir, "grastate.dat"))
	if err != nil {
		return grastate.Position{}, fmt.Errorf("read grastate: %w", err)
	}
	return grastate.Parse(b)
}

// lastBytes is the end of a log, short enough for an error message.
func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
