package labmariadb

import (
	"testing"

	"github.com/goha-ha/goha/agents/galera"
)

func TestPosition(t *testing.T) {
	uuid, seqno := Position(map[string]WsrepStatus{
		"n1": {galera.Wsrep{ClusterStateUUID: "aaaa", LastCommitted: 20}},
		"n2": {galera.Wsrep{ClusterStateUUID: "aaaa", LastCommitted: 25}},
		"n3": {galera.Wsrep{ClusterStateUUID: "bbbb", LastCommitted: 7}},
	})
	if uuid != "aaaa" || seqno != 25 {
		t.Errorf("Position = %s:%d, want aaaa:25", uuid, seqno)
	}
	if uuid, seqno := Position(nil); uuid != "" || seqno != -1 {
		t.Errorf("Position of nothing = %q:%d, want \"\":-1", uuid, seqno)
	}
}
