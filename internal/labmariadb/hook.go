package labmariadb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/goha-ha/goha/internal/mariadb"

	"github.com/goha-ha/goha/internal/lab"
)

// Host directories of a node's MariaDB files, under lab.NodeInfo.Dir.
const (
	etcDir = "etc-mysql"
	libDir = "var-lib-mysql"
	logDir = "var-log-mysql"
	// writerFile holds the writer's credentials, for the host side only:
	// it sits beside the node's config but the writer reads it from the host.
	writerFile = "goha-writer.cnf"
)

// Hook gives each lab node its own MariaDB Galera installation: /etc/mysql
// with a wsrep my.cnf and the agent's check credentials, /var/lib/mysql
// copied from the shared template, /var/log/mysql, and a fresh /run/mysqld
// at every boot, all owned by mysql.
func Hook() lab.NodeHook {
	return lab.NodeHookFunc(func(ctx context.Context, n lab.NodeInfo) ([]lab.Mount, error) {
		return prepareNode(ctx, n, MyCnf(n.Name, n.Addr))
	})
}

// ReplicationHook is Hook for servers that replicate from each other
// (ReplicaCnf): each node's server_id is the last byte of its address, so
// no two nodes of a lab share one.
func ReplicationHook() lab.NodeHook {
	return lab.NodeHookFunc(func(ctx context.Context, n lab.NodeInfo) ([]lab.Mount, error) {
		b := n.Addr.AsSlice()
		return prepareNode(ctx, n, ReplicaCnf(n.Name, int(b[len(b)-1])))
	})
}

func prepareNode(ctx context.Context, n lab.NodeInfo, myCnf string) ([]lab.Mount, error) {
	t, err := SharedTemplate(ctx)
	if err != nil {
		return nil, err
	}
	// The bind targets must exist on the host; mariadb-server creates the
	// first two, not always the log directory.
	for _, d := range []string{"/etc/mysql", DataDir, filepath.Dir(ErrorLog)} {
		if err := ensureHostDir(d, t.UID, t.GID); err != nil {
			return nil, err
		}
	}
	etc := filepath.Join(n.Dir, etcDir)
	lib := filepath.Join(n.Dir, libDir)
	logs := filepath.Join(n.Dir, logDir)
	for _, d := range []string{etc, logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("galera node %s: %w", n.Name, err)
		}
	}
	if err := os.RemoveAll(lib); err != nil {
		return nil, fmt.Errorf("galera node %s: %w", n.Name, err)
	}
	if err := copyTree(t.Dir, lib, t.UID, t.GID); err != nil {
		return nil, fmt.Errorf("galera node %s: data directory from template: %w", n.Name, err)
	}
	files := []struct {
		name    string
		content string
		mode    os.FileMode
	}{
		{"my.cnf", myCnf, 0o644},
		{filepath.Base(CheckConfigFile), CheckCnf(t.CheckPassword), 0o600},
		{filepath.Base(ReplConfigFile), ReplCnf(t.ReplPassword), 0o600},
		{writerFile, "[client]\nuser = " + WriterUser + "\npassword = " + t.WriterPassword + "\n", 0o600},
	}
	for _, f := range files {
		p := filepath.Join(etc, f.name)
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			return nil, fmt.Errorf("galera node %s: %w", n.Name, err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{etc, logs} {
		if err := chownTree(d, t.UID, t.GID); err != nil {
			return nil, fmt.Errorf("galera node %s: %w", n.Name, err)
		}
	}
	if err := os.Chmod(logs, 0o750); err != nil {
		return nil, err
	}
	return []lab.Mount{
		{Source: etc, Target: "/etc/mysql", Dir: true},
		{Source: lib, Target: DataDir, Dir: true},
		{Source: logs, Target: filepath.Dir(ErrorLog), Dir: true},
		{Target: filepath.Dir(Socket), Tmpfs: true, UID: t.UID, GID: t.GID, Mode: 0o755},
	}, nil
}

// ensureHostDir creates a missing bind target on the host, as the MariaDB
// package would (owned by mysql); an existing one is left as it is.
func ensureHostDir(dir string, uid, gid int) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create bind target %s: %w", dir, err)
	}
	return os.Chown(dir, uid, gid)
}

// nodeDir is the host directory of a node's files, from the lab state.
func nodeDir(l *lab.Lab, node string) (string, error) {
	s, err := l.State()
	if err != nil {
		return "", err
	}
	for _, n := range s.Nodes {
		if n.Name == node {
			return n.Dir, nil
		}
	}
	return "", fmt.Errorf("lab %s has no node %q", s.Name, node)
}

// WriterCredentials reads the writer's user and password that the hook
// stored for a node of l.
func WriterCredentials(l *lab.Lab, node string) (user, password string, err error) {
	return nodeCredentials(l, node, writerFile)
}

// ReplCredentials reads the replication user and password of a node of l,
// for agents that take them as parameters (ocf:heartbeat:mysql).
func ReplCredentials(l *lab.Lab, node string) (user, password string, err error) {
	return nodeCredentials(l, node, filepath.Base(ReplConfigFile))
}

// nodeCredentials reads the [client] section of a file the hook wrote
// into a node's /etc/mysql.
func nodeCredentials(l *lab.Lab, node, file string) (user, password string, err error) {
	dir, err := nodeDir(l, node)
	if err != nil {
		return "", "", err
	}
	p := filepath.Join(dir, etcDir, file)
	c, err := mariadb.LoadCredentials(p, "", false)
	if err != nil {
		return "", "", err
	}
	if c.User == "" || c.Password == "" {
		return "", "", fmt.Errorf("%s lacks user or password", p)
	}
	return c.User, c.Password, nil
}

// ErrorLogPath is where a node's MariaDB error log lies on the host; it is
// readable while the node is off.
func ErrorLogPath(l *lab.Lab, node string) (string, error) {
	dir, err := nodeDir(l, node)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, logDir, filepath.Base(ErrorLog)), nil
}
