package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/labmariadb"
)

// TestGaleraPartition splits a 4-node Galera cluster in two halves of two
// nodes: neither half has a majority, so neither may be Primary or take
// writes, and Pacemaker has quorum on neither side. Once the network heals
// the cluster must recover by itself with every acknowledged row.
func TestGaleraPartition(t *testing.T) {
	galeraNeeds(t)
	agent, all := galeraAgent()
	if !all {
		t.Skipf("the partition scenario runs against ocf:goha:galera, which is not registered yet (%s=%s runs it against the reference agent)",
			galeraAgentEnv, labmariadb.AgentReference)
	}
	fx := newGaleraFixture(t, agent, 4)
	defer fx.writeTimings(t, map[string]string{
		"cold start 4 nodes": "pcs resource create to all instances promoted and every server Synced (s)",
		"partition 2+2":      "network heal to all promoted and Synced (s)",
	})
	fx.scenario(t, "partition 2+2", fx.partitionHalves)
}

// partitionHalves cuts the network between {n1, n2, c1} and {n3, n4, c2}
// (c1 runs the writer, c2 watches the far half), checks for 40 s that no
// node is Primary in a component without a majority and that no write is
// acknowledged once the halves noticed, then heals the network.
func (fx *galeraFixture) partitionHalves(t *testing.T, ctx context.Context) time.Time {
	if _, err := fx.l.Client(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	halves := map[string][]string{"c1": {"n1", "n2"}, "c2": {"n3", "n4"}}
	if err := fx.l.Partition(ctx, []string{"n1", "n2", "c1"}, []string{"n3", "n4", "c2"}); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	t.Cleanup(func() { _ = fx.l.Heal(context.Background()) })
	majority := len(fx.l.Nodes())/2 + 1
	var ackedAt20 int
	for time.Since(cut) < 40*time.Second {
		for client, nodes := range halves {
			st, _, err := labmariadb.StatusFrom(ctx, fx.l, client, nodes)
			if err != nil {
				t.Fatal(err)
			}
			for n, s := range st {
				if s.ClusterStatus == "Primary" && s.ClusterSize < majority {
					t.Errorf("%s is Primary in a component of %d %s after the partition: %s", n, s.ClusterSize, time.Since(cut).Round(100*time.Millisecond), s)
				}
			}
		}
		if ackedAt20 == 0 && time.Since(cut) >= 20*time.Second {
			ackedAt20 = fx.w.Stats().Acked
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := fx.w.Stats().Acked; got != ackedAt20 {
		t.Errorf("%d writes acknowledged between 20 s and 40 s into the partition, want none", got-ackedAt20)
	}
	for _, n := range []string{"n1", "n3"} {
		v, err := fx.l.View(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if v.Quorum {
			t.Errorf("%s has Pacemaker quorum in a half of the partition: online %v", n, v.Online)
		}
	}
	begin := time.Now()
	if err := fx.l.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	return begin
}
