package systemdroot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMirror(t *testing.T) {
	dir := t.TempDir()
	deb822 := filepath.Join(dir, "debian.sources")
	os.WriteFile(deb822, []byte(`Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
# a comment: with a colon
URIs: http://mirror.example/debian http://other.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
`), 0o644)
	list := filepath.Join(dir, "sources.list")
	os.WriteFile(list, []byte("# deb http://commented.example/debian trixie main\ndeb [arch=amd64 signed-by=/k.gpg] http://list.example/debian trixie main\n"), 0o644)
	for _, tc := range []struct {
		release, want string
	}{
		{"bookworm", "http://mirror.example/debian"},
		{"bookworm-security", "http://security.example/debian-security"},
		{"trixie", "http://list.example/debian"},
		{"sid", ""},
	} {
		got, err := debianMirror(deb822, list, tc.release)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("debianMirror(%s) = %q, %v; want %q", tc.release, got, err, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	a := RootOptions{Packages: []string{"b", "a"}}.key("bookworm")
	b := RootOptions{Packages: []string{"a", "b"}}.key("bookworm")
	c := RootOptions{Packages: []string{"a", "b"}, Disable: []string{"b.service"}}.key("bookworm")
	if a != b || a == c || !strings.HasPrefix(a, "bookworm-") {
		t.Fatalf("keys %q %q %q: the order of packages must not matter, Disable must", a, b, c)
	}
}

// TestBoot boots a real systemd, starts and stops a unit over D-Bus from
// the host, and checks that shutdown leaves no process, cgroup or state.
func TestBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots systemd: skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	s := Boot(t, Options{Name: "goha-systemdroot"})
	t.Logf("booted in %s (pid %d)", time.Since(start), s.PID)

	if host, _ := os.Hostname(); host == s.Name {
		t.Fatal("the container changed the host's hostname")
	}
	if _, err := os.Stat(s.Path("/" + markerFile)); err != nil {
		t.Fatalf("the container's root is not the built root: %v", err)
	}
	if err := s.WriteUnit(ctx, "goha-probe.service", "[Service]\nExecStart=/bin/sleep infinity\n"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan string, 1)
	if _, err := c.StartUnitContext(ctx, "goha-probe.service", "replace", done); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r != "done" {
		t.Fatalf("start job: %s", r)
	}
	p, err := c.GetUnitPropertyContext(ctx, "goha-probe.service", "ActiveState")
	if err != nil || p.Value.Value() != "active" {
		t.Fatalf("ActiveState %v, %v; want active", p, err)
	}
	if _, err := os.Stat(filepath.Join("/etc/systemd/system", "goha-probe.service")); err == nil {
		t.Fatal("the unit file landed in the host's /etc")
	}

	pid1, cgroup, state := s.PID, s.cgroup, s.state
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid1, 0); err == nil {
		t.Errorf("PID 1 (%d) still exists after shutdown", pid1)
	}
	for _, path := range []string{cgroup, state} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s still exists after shutdown: %v", path, err)
		}
	}
	if err := s.Shutdown(); err != nil {
		t.Errorf("a second shutdown: %v", err)
	}
}
