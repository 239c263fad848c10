package labmariadb

import (
	"reflect"
	"strings"
	"testing"
)

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
