package labmariadb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTemplateUsers builds the template, starts a server without wsrep on
// a copy of it, and checks the credentials the agents and the writer get:
// the check user can do its write/read-back in database goha with the
// option file the hook writes and nothing outside it, root still logs in
// over the socket without a password, and the writer owns test.seq.
func TestTemplateUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the template needs root (mariadbd runs as mysql)")
	}
	for _, p := range []string{"mariadb-install-db", "mariadbd", "mariadb"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("the template needs %s (mariadb-server)", p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tpl, err := BuildTemplate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tpl.Remove() })

	// Not t.TempDir: its parent is private to root, and mysql must reach
	// the data directory and the log.
	dir, err := os.MkdirTemp("", "goha-galera-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, tpl.UID, tpl.GID); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := copyTree(tpl.Dir, data, tpl.UID, tpl.GID); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	srv := exec.Command("mariadbd", "--no-defaults", "--user=mysql", "--datadir="+data, "--socket="+sock,
		"--pid-file="+filepath.Join(dir, "p.pid"), "--skip-networking", "--log-error="+filepath.Join(dir, "err.log"),
		"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--performance-schema=OFF")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })

	checkCnf := filepath.Join(dir, "check.cnf")
	if err := os.WriteFile(checkCnf, []byte(CheckCnf(tpl.CheckPassword)), 0o600); err != nil {
		t.Fatal(err)
	}
	writerCnf := filepath.Join(dir, "writer.cnf")
	if err := os.WriteFile(writerCnf, []byte("[client]\nuser = "+WriterUser+"\npassword = "+tpl.WriterPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(defaults, sql string) (string, error) {
		args := []string{"--socket=" + sock, "--batch", "--skip-column-names", "-e", sql}
		if defaults != "" {
			args = append([]string{"--defaults-file=" + defaults}, args...)
		} else {
			args = append([]string{"--no-defaults", "--user=root"}, args...)
		}
		out, err := exec.CommandContext(ctx, "mariadb", args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := run("", "SELECT 1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			t.Fatalf("server on the template copy does not answer:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}

	if out, err := run("", "SELECT CURRENT_USER()"); err != nil || out != "root@localhost" {
		t.Errorf("root over the socket: %q, %v", out, err)
	}
	checkSQL := "CREATE TABLE IF NOT EXISTS goha.probe (id INT PRIMARY KEY, v INT); " +
		"REPLACE INTO goha.probe VALUES (1, 42); UPDATE goha.probe SET v = 43 WHERE id = 1; " +
		"SELECT v FROM goha.probe WHERE id = 1; DELETE FROM goha.probe; DROP TABLE goha.probe"
	if out, err := run(checkCnf, checkSQL); err != nil || out != "43" {
		t.Errorf("check user write/read-back in goha: %q, %v", out, err)
	}
	if out, err := run(checkCnf, "SHOW GLOBAL STATUS LIKE 'wsrep_ready'"); err != nil {
		t.Errorf("check user reads status: %q, %v", out, err)
	}
	if out, err := run(checkCnf, "SELECT COUNT(*) FROM test.seq"); err == nil {
		t.Errorf("check user reads test.seq (%q): it should see only goha", out)
	}
	if out, err := run(writerCnf, "INSERT INTO test.seq (id, node, at) VALUES (1, @@hostname, NOW(6)); SELECT COUNT(*) FROM test.seq"); err != nil || out != "1" {
		t.Errorf("writer insert into test.seq: %q, %v", out, err)
	}
	if out, err := run(writerCnf, "SELECT COUNT(*) FROM mysql.user"); err == nil {
		t.Errorf("writer reads mysql.user (%q): it should see only test", out)
	}
}
