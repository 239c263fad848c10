package labmariadb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Template is an initialised data directory that every node's
// /var/lib/mysql starts as a copy of: system tables, the check and writer
// users, the test database. Building it takes a few seconds, so one test
// process builds it once and every lab reuses it.
type Template struct {
	Dir            string // the data directory
	CheckPassword  string // of CheckUser
	WriterPassword string // of WriterUser
	ReplPassword   string // of ReplUser
	UID, GID       int    // of the mysql user
	root           string // temporary directory holding Dir
}

var (
	templateMu sync.Mutex
	template   *Template
)

// SharedTemplate returns this process's template, building it on first use.
func SharedTemplate(ctx context.Context) (*Template, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	if template != nil {
		if _, err := os.Stat(template.Dir); err == nil {
			return template, nil
		}
	}
	t, err := BuildTemplate(ctx)
	if err != nil {
		return nil, err
	}
	template = t
	return t, nil
}

// RemoveSharedTemplate deletes this process's template, if any; a later
// SharedTemplate builds a new one. Labs already built keep their copies.
func RemoveSharedTemplate() error {
	templateMu.Lock()
	defer templateMu.Unlock()
	if template == nil {
		return nil
	}
	err := template.Remove()
	template = nil
	return err
}

// Remove deletes the template's files.
func (t *Template) Remove() error { return os.RemoveAll(t.root) }

// templateSQL creates the users and databases of the lab, with the
// privileges the agent's check and the writer need and nothing more.
func templateSQL(checkPassword, writerPassword, replPassword string) string {
	return strings.Join([]string{
		"CREATE DATABASE IF NOT EXISTS goha",
		"CREATE DATABASE IF NOT EXISTS test",
		"CREATE TABLE test.seq (id BIGINT NOT NULL PRIMARY KEY, node VARCHAR(64) NOT NULL, at DATETIME(6) NOT NULL) ENGINE=InnoDB",
		"CREATE USER '" + CheckUser + "'@'localhost' IDENTIFIED BY '" + checkPassword + "'",
		"GRANT USAGE ON *.* TO '" + CheckUser + "'@'localhost'",
		"GRANT CREATE, INSERT, SELECT, DELETE, UPDATE, DROP ON goha.* TO '" + CheckUser + "'@'localhost'",
		"CREATE USER '" + WriterUser + "'@'%' IDENTIFIED BY '" + writerPassword + "'",
		"GRANT ALL ON test.* TO '" + WriterUser + "'@'%'",
		"CREATE USER '" + ReplUser + "'@'%' IDENTIFIED BY '" + replPassword + "'",
		// What ocf:heartbeat:mysql needs besides: it runs its local
		// replication statements and read_only switches as this user
		// (ocf:goha:mysql does not). MariaDB 10.11's SUPER no longer
		// includes READ_ONLY ADMIN.
		"GRANT REPLICATION SLAVE, REPLICATION CLIENT, SUPER, PROCESS, RELOAD, READ_ONLY ADMIN, " +
			"REPLICATION SLAVE ADMIN, BINLOG MONITOR, SLAVE MONITOR ON *.* TO '" + ReplUser + "'@'%'",
		"FLUSH PRIVILEGES",
	}, ";\n") + ";\n"
}

// BuildTemplate initialises a data directory with mariadb-install-db, then
// runs a temporary server without wsrep and without networking on a private
// socket to create the users, and shuts it down cleanly so that the copies
// start without crash recovery.
func BuildTemplate(ctx context.Context) (*Template, error) {
	for _, p := range []string{"mariadb-install-db", "mariadbd", "mariadb"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("galera template needs %s: %w", p, err)
		}
	}
	uid, gid, err := mysqlIDs()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "goha-galera-template-")
	if err != nil {
		return nil, fmt.Errorf("galera template: %w", err)
	}
	t := &Template{Dir: filepath.Join(root, "data"), UID: uid, GID: gid, root: root}
	fail := func(err error) (*Template, error) {
		_ = t.Remove()
		return nil, fmt.Errorf("galera template: %w", err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		return fail(err)
	}
	if err := os.Chown(root, uid, gid); err != nil {
		return fail(err)
	}
	if t.CheckPassword, err = randomPassword(); err != nil {
		return fail(err)
	}
	if t.WriterPassword, err = randomPassword(); err != nil {
		return fail(err)
	}
	if t.ReplPassword, err = randomPassword(); err != nil {
		return fail(err)
	}
	// Temporary files go to the template's own directory: a MariaDB
	// server deletes every #sql file in its tmpdir when it starts, also
	// another server's.
	install := exec.CommandContext(ctx, "mariadb-install-db", "--no-defaults", "--user=mysql",
		"--datadir="+t.Dir, "--auth-root-authentication-method=socket", "--skip-test-db",
		"--innodb-log-file-size=16M", "--tmpdir="+root)
	if out, err := install.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("mariadb-install-db: %w\n%s", err, out))
	}
	sock := filepath.Join(root, "init.sock")
	logPath := filepath.Join(root, "init.log")
	srv := exec.Command("mariadbd", "--no-defaults", "--user=mysql", "--datadir="+t.Dir, "--tmpdir="+root,
		"--socket="+sock, "--pid-file="+filepath.Join(root, "init.pid"), "--skip-networking",
		"--log-error="+logPath, "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
		"--performance-schema=OFF")
	if err := srv.Start(); err != nil {
		return fail(fmt.Errorf("start temporary mariadbd: %w", err))
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
		}
	}()
	client := func(sql string) error {
		cmd := exec.CommandContext(ctx, "mariadb", "--no-defaults", "--socket="+sock, "--user=root", "--batch")
		cmd.Stdin = strings.NewReader(sql)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		return nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := client("SELECT 1")
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			stopped = true
			log, _ := os.ReadFile(logPath)
			return fail(fmt.Errorf("temporary mariadbd exited (%v):\n%s", werr, log))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fail(fmt.Errorf("temporary mariadbd not answering on %s: %v", sock, err))
		}
	}
	if err := client(templateSQL(t.CheckPassword, t.WriterPassword, t.ReplPassword)); err != nil {
		return fail(fmt.Errorf("create users: %w", err))
	}
	if err := client("SHUTDOWN"); err != nil {
		return fail(fmt.Errorf("shut down temporary mariadbd: %w", err))
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			return fail(fmt.Errorf("temporary mariadbd: %w", err))
		}
	case <-time.After(60 * time.Second):
		return fail(errors.New("temporary mariadbd did not shut down within 60s"))
	}
	if err := chownTree(t.Dir, uid, gid); err != nil {
		return fail(err)
	}
	return t, nil
}

// randomPassword is 24 hex digits from the system's random source.
func randomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// mysqlIDs is the uid and gid of the mysql user the packages create.
func mysqlIDs() (int, int, error) {
	u, err := user.Lookup("mysql")
	if err != nil {
		return 0, 0, fmt.Errorf("look up user mysql (mariadb-server creates it): %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("uid of mysql: %w", err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, fmt.Errorf("gid of mysql: %w", err)
	}
	return uid, gid, nil
}

// chownTree gives every file under dir to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		return nil
	})
}

// copyTree copies the directory src to dst (which must not exist),
// keeping modes and giving everything to uid:gid. Regular files,
// directories and symlinks are all a data directory holds.
func copyTree(src, dst string, uid, gid int) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			if err := os.Mkdir(target, fi.Mode().Perm()); err != nil {
				return fmt.Errorf("copy %s: %w", p, err)
			}
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(p, target, fi.Mode().Perm()); err != nil {
				return fmt.Errorf("copy %s: %w", p, err)
			}
		default:
			return fmt.Errorf("copy %s: not a regular file, directory or symlink", p)
		}
		if err := os.Lchown(target, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", target, err)
		}
		if fi.IsDir() {
			// Mkdir applied the umask.
			return os.Chmod(target, fi.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
