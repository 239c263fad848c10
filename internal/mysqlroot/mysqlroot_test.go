package mysqlroot

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/mysqlpair"
	"github.com/goha-ha/goha/internal/proc"
)

// TestServer builds (or reuses) the MySQL root, prepares a pair with
// GTIDs, runs one server through the wrapper as an agent would, and checks
// that a host client reaches it over the shared socket, that it is MySQL
// with gtid_mode ON and the pair's accounts, and that it ends by pid.
func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian root and runs mysqld: skipped in -short mode")
	}
	if why := Missing(); why != "" {
		t.Skip(why)
	}
	dir, err := os.MkdirTemp("", "goha-mysqlroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	start := time.Now()
	p, err := New(dir, true)
	if errors.Is(err, ErrNoRoot) {
		t.Skipf("no MySQL root here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	t.Logf("root mounted and pair initialised in %s", time.Since(start))
	v, err := p.Version()
	if err != nil || !strings.Contains(v, "Ver 9.") || strings.Contains(strings.ToLower(v), "mariadb") {
		t.Fatalf("%s --version: %q %v", p.Binary, v, err)
	}
	n := p.Nodes[0]
	s := n.Server()
	s.Binary = p.Binary
	// mysqld opens its log as the server user.
	if err := os.WriteFile(n.Log, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := mysqlpair.Chown(n.Log); err != nil {
		t.Fatal(err)
	}
	pid, err := s.Launch(s.Args())
	if err != nil {
		t.Fatal(err)
	}
	var db interface{ Close() error }
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := n.Root()
		if err == nil {
			var mode, version string
			if err = c.QueryRow("SELECT @@gtid_mode, @@version").Scan(&mode, &version); err == nil {
				if mode != "ON" || !strings.HasPrefix(version, "9.") {
					t.Fatalf("gtid_mode %q version %q", mode, version)
				}
				var users int
				if err := c.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE user IN ('repl', 'writer')").Scan(&users); err != nil || users != 2 {
					t.Fatalf("accounts: %d %v", users, err)
				}
				db = c
				break
			}
			c.Close()
		}
		if time.Now().After(deadline) || !proc.Alive(pid) {
			b, _ := os.ReadFile(n.Log)
			t.Fatalf("server does not answer: %v\n%s", err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	db.Close()
	if got := s.Find(); len(got) != 1 || got[0] != pid {
		t.Fatalf("Find = %v, want [%d]", got, pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := proc.Terminate(ctx, []int{pid}, time.Now().Add(50*time.Second)); err != nil {
		t.Fatal(err)
	}
}
