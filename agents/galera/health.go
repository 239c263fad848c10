package galera

import (
	"fmt"
	"strconv"
)

// Wsrep is the part of SHOW GLOBAL STATUS LIKE 'wsrep_%' the agent judges a
// running server by.
type Wsrep struct {
	Ready            bool   // wsrep_ready
	ClusterStatus    string // wsrep_cluster_status: Primary, non-Primary, Disconnected
	LocalState       int    // wsrep_local_state: 1 Joining, 2 Donor/Desynced, 3 Joined, 4 Synced
	LocalComment     string // wsrep_local_state_comment
	LocalStateUUID   string // wsrep_local_state_uuid
	ClusterStateUUID string // wsrep_cluster_state_uuid
	LastCommitted    int64  // wsrep_last_committed
	ClusterSize      int    // wsrep_cluster_size
}

// Galera's wsrep_local_state values.
const (
	StateJoining = 1
	StateDonor   = 2
	StateJoined  = 3
	StateSynced  = 4
)

// ParseWsrep builds a Wsrep from name/value rows of SHOW STATUS.
func ParseWsrep(vars map[string]string) (Wsrep, error) {
	w := Wsrep{
		Ready:            vars["wsrep_ready"] == "ON",
		ClusterStatus:    vars["wsrep_cluster_status"],
		LocalComment:     vars["wsrep_local_state_comment"],
		LocalStateUUID:   vars["wsrep_local_state_uuid"],
		ClusterStateUUID: vars["wsrep_cluster_state_uuid"],
	}
	if _, ok := vars["wsrep_ready"]; !ok {
		return w, fmt.Errorf("server reports no wsrep status: is wsrep_on set and the Galera provider loaded?")
	}
	var err error
	if w.LocalState, err = atoiOr(vars["wsrep_local_state"], 0); err != nil {
		return w, fmt.Errorf("wsrep_local_state: %w", err)
	}
	if w.ClusterSize, err = atoiOr(vars["wsrep_cluster_size"], 0); err != nil {
		return w, fmt.Errorf("wsrep_cluster_size: %w", err)
	}
	if v := vars["wsrep_last_committed"]; v != "" {
		if w.LastCommitted, err = strconv.ParseInt(v, 10, 64); err != nil {
			return w, fmt.Errorf("wsrep_last_committed: %w", err)
		}
	} else {
		w.LastCommitted = -1
	}
	return w, nil
}

func atoiOr(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}

// Health is the verdict on a running server.
type Health struct {
	Serving bool   // joined, Primary and in a state that may take traffic
	Reason  string // when not serving: why, for ocf-exit-reason and galera-health
}

// Judge decides whether a running server serves. A Donor (or Desynced) node
// serves when donorOK, as does a node in Joined state catching up after it
// donated; a Joining node never does.
func Judge(w Wsrep, donorOK bool) Health {
	switch {
	case w.ClusterStatus != "Primary":
		return Health{Reason: fmt.Sprintf("not in a Primary component (wsrep_cluster_status=%s)", orNone(w.ClusterStatus))}
	case !w.Ready:
		return Health{Reason: "wsrep_ready is OFF"}
	case w.LocalStateUUID != w.ClusterStateUUID:
		return Health{Reason: fmt.Sprintf("local state %s differs from the cluster's %s", w.LocalStateUUID, w.ClusterStateUUID)}
	}
	switch w.LocalState {
	case StateSynced:
		return Health{Serving: true}
	case StateDonor, StateJoined:
		if donorOK {
			return Health{Serving: true}
		}
		return Health{Reason: fmt.Sprintf("node is %s and donor_ok is false", w.LocalComment)}
	}
	return Health{Reason: fmt.Sprintf("node is %s (wsrep_local_state=%d)", orNone(w.LocalComment), w.LocalState)}
}

// Synced reports whether a joining node has finished taking state.
func Synced(w Wsrep) bool {
	return w.ClusterStatus == "Primary" && w.Ready && w.LocalState == StateSynced && w.LocalStateUUID == w.ClusterStateUUID
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
