package labmariadb

import (
	"os"
	"reflect"
	"strings"
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

func TestCreateArgs(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	tests := []struct {
		agent string
		want  []string // agent parameters, in order, after the cluster address
	}{
		{AgentGoha, []string{"check_defaults_file=/etc/mysql/goha-check.cnf", "log=/var/log/mysql/error.log"}},
		{AgentReference, []string{"binary=/usr/sbin/mariadbd", "check_user=root", "log=/var/log/mysql/error.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.agent, func(t *testing.T) {
			args, err := CreateArgs(tt.agent, nodes, "extra=1")
			if err != nil {
				t.Fatal(err)
			}
			head := []string{"pcs", "resource", "create", "db", tt.agent, "wsrep_cluster_address=gcomm://n1,n2,n3"}
			head = append(head, tt.want...)
			head = append(head, "extra=1", "op")
			if !reflect.DeepEqual(args[:len(head)], head) {
				t.Errorf("args start %q, want %q", args[:len(head)], head)
			}
			line := strings.Join(args, " ")
			for _, want := range []string{
				"op monitor interval=10s role=Promoted timeout=30s",
				"op monitor interval=15s role=Unpromoted timeout=30s",
				"op promote timeout=300s", "op start timeout=120s", "op stop timeout=120s",
			} {
				if !strings.Contains(line, want) {
					t.Errorf("%q lacks %q", line, want)
				}
			}
			if !strings.HasSuffix(line, " promotable promoted-max=3 notify=true") {
				t.Errorf("%q does not end with the promotable clone options", line)
			}
		})
	}
	if _, err := CreateArgs("ocf:heartbeat:mysql", nodes); err == nil {
		t.Error("unknown agent accepted")
	}
}
