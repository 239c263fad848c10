package lab

import (
	"os"
	"reflect"
	"testing"
)

func TestParseCloneState(t *testing.T) {
	tests := []struct {
		file         string
		wantRoles    map[string]string
		wantPromoted []string
		wantFailures []string
	}{
		{
			// Captured from a lab running ocf:heartbeat:galera: every
			// instance of the anonymous clone has the id "db".
			file:         "crm_mon_promoted.xml",
			wantRoles:    map[string]string{"n1": "Promoted", "n2": "Promoted", "n3": "Promoted"},
			wantPromoted: []string{"n1", "n2", "n3"},
		},
		{
			file:         "crm_mon_recovering.xml",
			wantRoles:    map[string]string{"n1": "Promoted", "n2": "Unpromoted"},
			wantPromoted: []string{"n1"},
			wantFailures: []string{"n2 db_monitor_10000 rc=7 (mariadbd is gone)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			st, err := ParseCloneState(b, "db")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st.Roles, tt.wantRoles) {
				t.Errorf("roles = %v, want %v", st.Roles, tt.wantRoles)
			}
			if got := st.Promoted(); !reflect.DeepEqual(got, tt.wantPromoted) {
				t.Errorf("promoted = %v, want %v", got, tt.wantPromoted)
			}
			if !reflect.DeepEqual(st.Failures, tt.wantFailures) {
				t.Errorf("failures = %q, want %q", st.Failures, tt.wantFailures)
			}
		})
	}
	if _, err := ParseCloneState([]byte("<pacemaker-result"), "db"); err == nil {
		t.Error("truncated XML parsed without error")
	}
}
