package drbd

import (
	"encoding/json"
	"fmt"
)

// Status is what `drbdsetup status RES --json` reports about one resource
// on this node: its role, the disk of each volume and, per peer, the
// connection and the peer's view of each volume.
type Status struct {
	Name        string       `json:"name"`
	NodeID      int          `json:"node-id"`
	Role        string       `json:"role"` // Primary, Secondary, Unknown
	Suspended   bool         `json:"suspended"`
	Devices     []Device     `json:"devices"`
	Connections []Connection `json:"connections"`
}

// Device is one local volume.
type Device struct {
	Volume    int    `json:"volume"`
	Minor     int    `json:"minor"`
	DiskState string `json:"disk-state"` // UpToDate, Consistent, Outdated, Inconsistent, Diskless, ...
	Client    bool   `json:"client"`     // an intentionally diskless node
	Quorum    *bool  `json:"quorum"`     // absent before DRBD 9.0.14
}

// Connection is the link to one peer.
type Connection struct {
	PeerNodeID      int          `json:"peer-node-id"`
	Name            string       `json:"name"`
	ConnectionState string       `json:"connection-state"` // Connected, Connecting, StandAlone, ...
	PeerRole        string       `json:"peer-role"`
	PeerDevices     []PeerDevice `json:"peer_devices"` // drbdsetup spells this one key with an underscore
}

// PeerDevice is one volume as the peer has it.
type PeerDevice struct {
	Volume           int     `json:"volume"`
	ReplicationState string  `json:"replication-state"` // Established, SyncSource, SyncTarget, Off, ...
	PeerDiskState    string  `json:"peer-disk-state"`
	PeerClient       bool    `json:"peer-client"`
	OutOfSync        int64   `json:"out-of-sync"`
	PercentInSync    float64 `json:"percent-in-sync"`
}

// ParseStatus reads the JSON array `drbdsetup status --json` prints and
// returns the entry of resource name.
func ParseStatus(raw []byte, name string) (Status, error) {
	var all []Status
	if err := json.Unmarshal(raw, &all); err != nil {
		return Status{}, fmt.Errorf("parse drbdsetup status --json: %w", err)
	}
	for _, s := range all {
		if s.Name == name {
			if len(s.Devices) == 0 {
				return Status{}, fmt.Errorf("drbdsetup status: resource %s has no volume", name)
			}
			return s, nil
		}
	}
	return Status{}, fmt.Errorf("drbdsetup status: resource %s is not in the output", name)
}
