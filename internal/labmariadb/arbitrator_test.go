package labmariadb

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/goha-ha/goha/agents/galera"
)

// The arbitrator joins under the name the servers' configuration gives
// their cluster; garbd never joins a cluster of another name.
func TestClusterNameMatchesMyCnf(t *testing.T) {
	cnf := MyCnf("n1", netip.MustParseAddr("10.213.1.1"))
	if want := "wsrep_cluster_name = " + ClusterName + "\n"; !strings.Contains(cnf, want) {
		t.Errorf("MyCnf lacks %q:\n%s", want, cnf)
	}
}

func TestArbitratorCreateArgs(t *testing.T) {
	got := ArbitratorCreateArgs("n5", []string{"n1", "n2", "n3", "n4"}, "--disabled")
	want := []string{"pcs", "resource", "create", "arb", "ocf:goha:garbd",
		"wsrep_cluster_address=gcomm://n1,n2,n3,n4", "wsrep_cluster_name=goha-lab",
		"name=n5", "log=/var/log/cluster/garbd.log", "--disabled"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ArbitratorCreateArgs =\n%q\nwant\n%q", got, want)
	}
}

func TestPinArgs(t *testing.T) {
	tests := []struct {
		name    string
		on, off []string
		want    [][]string
	}{
		{"both", []string{"n5"}, []string{"n1", "n2"}, [][]string{
			{"pcs", "constraint", "location", "arb", "prefers", "n5"},
			{"pcs", "constraint", "location", "arb", "avoids", "n1", "n2"},
		}},
		{"only off", nil, []string{"n5"}, [][]string{
			{"pcs", "constraint", "location", "arb", "avoids", "n5"},
		}},
		{"nothing", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PinArgs("arb", tt.on, tt.off); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PinArgs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSyncedIn(t *testing.T) {
	synced := func(size int) WsrepStatus {
		return WsrepStatus{galera.Wsrep{Ready: true, ClusterStatus: "Primary", LocalState: galera.StateSynced,
			LocalComment: "Synced", LocalStateUUID: "u", ClusterStateUUID: "u", ClusterSize: size}}
	}
	donor := synced(5)
	donor.LocalState, donor.LocalComment = galera.StateDonor, "Donor/Desynced"
	nodes := []string{"n1", "n2"}
	tests := []struct {
		name   string
		st     map[string]WsrepStatus
		errs   map[string]error
		want   bool
		whyHas string
		size   int
	}{
		{"all synced with the arbitrator", map[string]WsrepStatus{"n1": synced(5), "n2": synced(5)}, nil, true, "", 5},
		{"arbitrator not counted yet", map[string]WsrepStatus{"n1": synced(4), "n2": synced(5)}, nil, false, "n1:", 5},
		{"donor", map[string]WsrepStatus{"n1": synced(5), "n2": donor}, nil, false, "n2:", 5},
		{"no answer", map[string]WsrepStatus{"n1": synced(5)}, map[string]error{"n2": errors.New("connection refused")}, false, "connection refused", 5},
		{"missing", map[string]WsrepStatus{"n1": synced(5)}, nil, false, "n2: no status", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := SyncedIn(nodes, tt.size, tt.st, tt.errs)
			if ok != tt.want || !strings.Contains(why, tt.whyHas) {
				t.Errorf("SyncedIn = %v, %q; want %v and a reason with %q", ok, why, tt.want, tt.whyHas)
			}
		})
	}
}
