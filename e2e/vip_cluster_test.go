package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

// TestVIPSingleNodeCluster runs ocf:goha:vip under a real Pacemaker: the
// address appears, an address deleted behind Pacemaker's back is found by
// the next monitor, and Pacemaker puts it back.
func TestVIPSingleNodeCluster(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 1, NoFencing: true, OCFAgents: []string{"vip"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vip, err := l.VIP(0)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(argv ...string) string {
		t.Helper()
		out, err := l.Exec(ctx, "n1", argv...)
		if err != nil {
			t.Fatalf("n1: %v: %v", argv, err)
		}
		return string(out)
	}
	exec("pcs", "resource", "create", "v", "ocf:goha:vip", "ip="+vip.String(), "cidr_netmask=24",
		"op", "monitor", "interval=2s")
	if _, err := l.WaitRole(ctx, "n1", "v", "Started"); err != nil {
		t.Fatal(err)
	}

	// the interface that carries the address, from `ip -o addr`
	nic := ""
	for _, line := range strings.Split(exec("ip", "-o", "addr", "show"), "\n") {
		if f := strings.Fields(line); len(f) > 3 && strings.HasPrefix(f[3], vip.String()+"/") {
			nic = f[1]
		}
	}
	if nic == "" {
		t.Fatalf("%s is not on any interface of n1 after start", vip)
	}
	t.Logf("%s is on %s", vip, nic)

	deleted := time.Now()
	exec("ip", "addr", "del", vip.String()+"/24", "dev", nic)
	for {
		if strings.Contains(exec("ip", "-o", "addr", "show", "dev", nic), " "+vip.String()+"/24 ") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Pacemaker did not put %s back: %v", vip, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("address back after %s", time.Since(deleted).Round(100*time.Millisecond))
	// The recovery must come from a failed monitor, not from chance: the
	// fail count records it.
	if out := exec("crm_failcount", "--query", "-r", "v", "-N", "n1"); !strings.Contains(out, "value=1") {
		t.Errorf("fail count after the delete: %q, want value=1", out)
	}
	if _, err := l.WaitRole(ctx, "n1", "v", "Started"); err != nil {
		t.Fatal(err)
	}
}
