package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// TestDemo runs `goha demo` as make demo does, on a lab of its own, and
// checks that it shows the File Fabric failover it promises: the pcs
// commands, the writer's node crashed, the other server promoted with the
// VIP, the client's writes acknowledged again, and every acknowledged row
// found on the new writer.
func TestDemo(t *testing.T) {
	galeraNeeds(t)
	bin := labBinary(t)
	holdLabTurn(t)
	name := fmt.Sprintf("demo%d", os.Getpid()%1000000)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, bin, "lab", "down", "--name", name).CombinedOutput(); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	out, err := exec.CommandContext(ctx, bin, "demo", "--name", name).CombinedOutput()
	if err != nil {
		t.Fatalf("goha demo: %v\n%s", err, out)
	}
	t.Logf("goha demo ran in %s", time.Since(begin).Round(time.Second))
	for _, want := range []string{
		`\$ pcs resource create db ocf:goha:mysql .*semi_sync=true`,
		`\$ pcs constraint colocation add vip with Promoted db-clone INFINITY`,
		`(n1|n2) is the writer and holds the VIP`,
		`== crashing (n1|n2), the writer's node`,
		`Pacemaker fenced (n1|n2) and promoted (n1|n2); the VIP followed it`,
		`the client's first write through \S+ was acknowledged [0-9.]+m?s after the crash`,
		`every one of the [0-9]+ acknowledged rows is on (n1|n2)`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`== crashing (n[12]),[\s\S]*fenced (n[12]) and promoted (n[12])`).FindSubmatch(out)
	if m == nil || string(m[1]) != string(m[2]) || string(m[2]) == string(m[3]) {
		t.Errorf("the crashed node must be the one fenced, and another promoted: %q", m)
	}
}
