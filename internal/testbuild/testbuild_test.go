package testbuild

import (
	"os/exec"
	"strings"
	"testing"
)

func TestMainBuildsTheTree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	path, err := Main(t.TempDir(), "goha", "./cmd/goha")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "agents").Output()
	if err != nil || !strings.Contains(string(out), "galera") {
		t.Fatalf("%s agents: %v\n%s", path, err, out)
	}
	if _, err := Main(t.TempDir(), "x", "./no/such/package"); err == nil {
		t.Fatal("building a missing package succeeded")
	}
}
