package labmariadb

import (
	"strings"
	"testing"
)

// Lines as MariaDB 10.11.19 with Galera 26.4.23 and rsync SST logged them
// in this lab (timestamps and UUIDs shortened).
const (
	logBootstrap = `2026-11-23 13:04:09 0 [Note] WSREP: Connecting with bootstrap option: 1
2026-11-23 13:04:09 2 [Note] WSREP: Synchronized with group, ready for connections
WSREP_SST: [INFO] rsync SST completed on donor (20261123 13:04:21.010)
2026-11-23 13:04:21 2 [Note] WSREP: Synchronized with group, ready for connections
2026-11-23 13:04:21 0 [Note] WSREP: 1.0 (n1): State transfer from 0.0 (n3) complete.
`
	logSST = `2026-11-23 13:04:14 0 [Note] WSREP: Connecting with bootstrap option: 0
2026-11-23 13:04:21 0 [Note] WSREP: 1.0 (n1): State transfer from 0.0 (n3) complete.
WSREP_SST: [INFO] rsync SST completed on joiner (20261123 13:04:23.357)
2026-11-23 13:04:24 0 [Note] WSREP: 2.0 (n2): State transfer from 0.0 (n3) complete.
2026-11-23 13:04:24 2 [Note] WSREP: Synchronized with group, ready for connections
`
	logIST = `2026-11-23 13:04:50 0 [Note] WSREP: Connecting with bootstrap option: 0
2026-11-23 13:04:55 0 [Note] WSREP: 2.0 (n3): State transfer from 0.0 (n1) complete.
WSREP_SST: [INFO] rsync IST completed on joiner (20261123 13:04:55.640)
2026-11-23 13:04:55 3 [Note] WSREP: SST received: 5f33bcf4:596
2026-11-23 13:04:56 2 [Note] WSREP: Receiving IST: 255 writesets, seqnos 599-853
2026-11-23 13:04:56 0 [Note] WSREP: 1.0 (n2): State transfer from 0.0 (n1) complete.
2026-11-23 13:04:56 2 [Note] WSREP: Synchronized with group, ready for connections
`
	// A donor that served an IST afterwards: its own join stays as it was.
	logDonorAfter = `WSREP_SST: [INFO] rsync IST completed on donor (20261123 13:04:38.103)
2026-11-23 13:04:38 2 [Note] WSREP: Synchronized with group, ready for connections
2026-11-23 13:04:39 0 [Note] WSREP: 2.0 (n3): State transfer from 1.0 (n2) complete.
`
	logNoTransfer = `2026-11-23 13:10:00 0 [Note] WSREP: Connecting with bootstrap option: 0
2026-11-23 13:10:01 2 [Note] WSREP: Synchronized with group, ready for connections
`
	logUnfinished = `2026-11-23 13:11:00 0 [Note] WSREP: Connecting with bootstrap option: 0
2026-11-23 13:11:01 0 [Note] WSREP: Member 2.0 (n2) requested state transfer from '*any*'. Selected 0.0 (n1)(SYNCED) as donor.
`
)

func TestLastJoin(t *testing.T) {
	tests := []struct {
		name string
		log  string
		node string
		want Join
	}{
		{"empty", "", "n1", Join{}},
		{"bootstrap, then donor", logBootstrap, "n3", Join{Method: JoinBootstrap, Synced: true, Line: 1}},
		{"SST from n3", logSST, "n2", Join{Method: JoinSST, Donor: "n3", Synced: true, Line: 1}},
		{"IST from n1", logIST, "n2", Join{Method: JoinIST, Donor: "n1", Writesets: 255, Synced: true, Line: 1}},
		{"IST, then donor", logIST + logDonorAfter, "n2", Join{Method: JoinIST, Donor: "n1", Writesets: 255, Synced: true, Line: 1}},
		{"the last join counts", logSST + logIST, "n2", Join{Method: JoinIST, Donor: "n1", Writesets: 255, Synced: true, Line: 6}},
		{"bootstrap after IST", logIST + logBootstrap, "n3", Join{Method: JoinBootstrap, Synced: true, Line: 8}},
		{"nothing to transfer", logNoTransfer, "n1", Join{Method: JoinNone, Synced: true, Line: 1}},
		{"unfinished", logIST + logUnfinished, "n2", Join{Method: JoinUnknown, Line: 8}},
		{"output before the first start is ignored", logDonorAfter, "n3", Join{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LastJoin(tt.log, tt.node); got != tt.want {
				t.Errorf("LastJoin = %+v, want %+v\nlog:\n%s", got, tt.want, tt.log)
			}
		})
	}
}

// TestLastJoinDonorIsOwnTransfer checks that only the node's own transfer
// names its donor, not transfers it watched or served.
func TestLastJoinDonorIsOwnTransfer(t *testing.T) {
	log := strings.Join([]string{
		"2026-11-23 13:04:50 0 [Note] WSREP: Connecting with bootstrap option: 0",
		"2026-11-23 13:04:55 0 [Note] WSREP: 2.0 (n13): State transfer from 0.0 (n1) complete.",
		"2026-11-23 13:04:56 0 [Note] WSREP: 1.0 (n3): State transfer from 2.0 (n2) complete.",
	}, "\n")
	if got := LastJoin(log, "n3").Donor; got != "n2" {
		t.Errorf("donor of n3 = %q, want n2", got)
	}
}
