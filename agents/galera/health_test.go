package galera

import (
	"strings"
	"testing"
)

func synced() map[string]string {
	return map[string]string{
		"wsrep_ready": "ON", "wsrep_cluster_status": "Primary", "wsrep_local_state": "4",
		"wsrep_local_state_comment": "Synced", "wsrep_local_state_uuid": uuidA,
		"wsrep_cluster_state_uuid": uuidA, "wsrep_last_committed": "42", "wsrep_cluster_size": "3",
	}
}

func with(kv ...string) map[string]string {
	m := synced()
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		donorOK bool
		serving bool
		reason  string
	}{
		{"synced primary", synced(), false, true, ""},
		{"non-primary", with("wsrep_cluster_status", "non-Primary"), true, false, "not in a Primary component (wsrep_cluster_status=non-Primary)"},
		{"disconnected", with("wsrep_cluster_status", "Disconnected", "wsrep_ready", "OFF"), true, false, "Disconnected"},
		{"not ready", with("wsrep_ready", "OFF"), true, false, "wsrep_ready is OFF"},
		{"donor accepted", with("wsrep_local_state", "2", "wsrep_local_state_comment", "Donor/Desynced"), true, true, ""},
		{"donor refused", with("wsrep_local_state", "2", "wsrep_local_state_comment", "Donor/Desynced"), false, false, "Donor/Desynced and donor_ok is false"},
		{"joined after donating", with("wsrep_local_state", "3", "wsrep_local_state_comment", "Joined"), true, true, ""},
		{"joining", with("wsrep_local_state", "1", "wsrep_local_state_comment", "Joining: receiving State Transfer"), true, false, "Joining: receiving State Transfer"},
		{"state uuid disagrees", with("wsrep_cluster_state_uuid", uuidB), true, false, "differs from the cluster's"},
	}
	for _, tt := range tests {
		w, err := ParseWsrep(tt.vars)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		h := Judge(w, tt.donorOK)
		if h.Serving != tt.serving || !strings.Contains(h.Reason, tt.reason) || (tt.serving && h.Reason != "") {
			t.Errorf("%s: %+v, want serving=%v reason %q", tt.name, h, tt.serving, tt.reason)
		}
	}
}

func TestParseWsrep(t *testing.T) {
	if _, err := ParseWsrep(map[string]string{"version": "10.11"}); err == nil || !strings.Contains(err.Error(), "no wsrep status") {
		t.Errorf("server without wsrep: %v", err)
	}
	if _, err := ParseWsrep(with("wsrep_local_state", "x")); err == nil {
		t.Error("bad wsrep_local_state accepted")
	}
	w, err := ParseWsrep(synced())
	if err != nil || w.LastCommitted != 42 || w.ClusterSize != 3 || !Synced(w) {
		t.Errorf("ParseWsrep(synced) = %+v, %v", w, err)
	}
}
