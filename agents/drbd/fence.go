package drbd

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Exit codes of a fence-peer handler, as DRBD interprets them (drbd.conf-9.0(5),
// handlers section, and the convention of the handlers drbd-utils ships).
const (
	FenceFailed          = 1 // nothing was done; DRBD keeps I/O frozen under resource-and-stonith
	FencePeerOutdated    = 3 // the peer's disk is already Outdated or worse
	FencePeerFenced      = 4 // the peer is kept from being promoted
	FencePeerUnreachable = 5 // the peer is unreachable and assumed dead
)

// FenceEnv is what DRBD tells a handler in its environment.
type FenceEnv struct {
	Resource   string         // DRBD_RESOURCE
	Conf       string         // DRBD_CONF
	MyNodeID   int            // DRBD_MY_NODE_ID, -1 when absent (DRBD 8.4)
	PeerNodeID int            // DRBD_PEER_NODE_ID, -1 when absent
	Nodes      map[int]string // DRBD_NODE_ID_<n>: node id -> host name
	UpToDate   uint64         // UP_TO_DATE_NODES, the mask of nodes with good data
	HasMask    bool           // UP_TO_DATE_NODES was given
}

// ParseFenceEnv reads the handler environment.
func ParseFenceEnv(getenv func(string) string, environ []string) (FenceEnv, error) {
	e := FenceEnv{Resource: getenv("DRBD_RESOURCE"), Conf: getenv("DRBD_CONF"), MyNodeID: -1, PeerNodeID: -1, Nodes: map[int]string{}}
	if e.Resource == "" {
		return e, fmt.Errorf("DRBD_RESOURCE is not set: run this as DRBD's fence-peer or unfence-peer handler")
	}
	for _, kv := range []struct {
		name string
		dst  *int
	}{{"DRBD_MY_NODE_ID", &e.MyNodeID}, {"DRBD_PEER_NODE_ID", &e.PeerNodeID}} {
		if v := getenv(kv.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 31 {
				return e, fmt.Errorf("%s=%q is not a node id from 0 to 31", kv.name, v)
			}
			*kv.dst = n
		}
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if rest, ok := strings.CutPrefix(k, "DRBD_NODE_ID_"); ok && v != "" {
			if n, err := strconv.Atoi(rest); err == nil && n >= 0 && n <= 31 {
				e.Nodes[n] = v
			}
		}
	}
	if v := getenv("UP_TO_DATE_NODES"); v != "" {
		m, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(v), "0x"), 16, 64)
		if err != nil || !strings.HasPrefix(strings.ToLower(v), "0x") {
			return e, fmt.Errorf("UP_TO_DATE_NODES=%q is not a 0x... hex mask", v)
		}
		e.UpToDate, e.HasMask = m, true
	}
	return e, nil
}

// FenceDecision is what the fence-peer handler does.
type FenceDecision struct {
	Exit      int
	Constrain bool     // place the constraint
	Keep      []string // the nodes that may still be promoted
	Why       string
}

// DecideFence decides, from this node's DRBD state, whether to keep the
// lost peer from being promoted. Only a node with good data fences: an
// Outdated or Inconsistent node that lost its link must not lock the
// cluster onto itself. up is false when the resource is not configured.
func DecideFence(e FenceEnv, self string, up bool, s Status) FenceDecision {
	if !up {
		return FenceDecision{Exit: FenceFailed, Why: fmt.Sprintf("resource %s is not up here: did not place a constraint", e.Resource)}
	}
	disk := weakestDisk(s)
	if diskRank(disk) < diskRank(Consistent) {
		return FenceDecision{Exit: FenceFailed, Why: fmt.Sprintf("my disk is %s: did not place a constraint", disk)}
	}
	peer := peerConnection(e, s)
	if peer != nil && len(peer.PeerDevices) > 0 {
		worse := true
		for _, pd := range peer.PeerDevices {
			worse = worse && diskRank(pd.PeerDiskState) > 0 && diskRank(pd.PeerDiskState) <= diskRank(Outdated)
		}
		if worse {
			return FenceDecision{Exit: FencePeerOutdated, Why: fmt.Sprintf("peer %s is already %s: no constraint needed", peer.Name, peer.PeerDevices[0].PeerDiskState)}
		}
	}
	keep := map[string]bool{self: true}
	if e.MyNodeID >= 0 && e.Nodes[e.MyNodeID] != "" {
		keep[e.Nodes[e.MyNodeID]] = true
	}
	if e.HasMask {
		for id, name := range e.Nodes {
			if e.UpToDate&(1<<id) != 0 && id != e.PeerNodeID {
				keep[name] = true
			}
		}
	}
	names := make([]string, 0, len(keep))
	for n := range keep {
		names = append(names, n)
	}
	sort.Strings(names)
	return FenceDecision{Exit: FencePeerFenced, Constrain: true, Keep: names,
		Why: fmt.Sprintf("my disk is %s: only %s may be promoted", disk, strings.Join(names, ", "))}
}

// peerConnection finds the connection to the peer DRBD named, or the only
// one when it named none.
func peerConnection(e FenceEnv, s Status) *Connection {
	for i, c := range s.Connections {
		if (e.PeerNodeID >= 0 && c.PeerNodeID == e.PeerNodeID) || (e.PeerNodeID < 0 && len(s.Connections) == 1) {
			return &s.Connections[i]
		}
	}
	return nil
}

// DecideUnfence reports whether the fencing constraint may go: only once
// this node and every peer are connected and UpToDate again, that is when
// the resync is done. A peer still out of reach may still hold old data
// that it believes UpToDate.
func DecideUnfence(up bool, s Status) (bool, string) {
	if !up {
		return false, "resource is not up here"
	}
	if disk := weakestDisk(s); disk != UpToDate {
		return false, fmt.Sprintf("my disk is %s, not UpToDate", disk)
	}
	for _, c := range s.Connections {
		if c.ConnectionState != Connected {
			return false, fmt.Sprintf("peer %s is %s", c.Name, c.ConnectionState)
		}
		for _, pd := range c.PeerDevices {
			if pd.PeerDiskState != UpToDate {
				return false, fmt.Sprintf("peer %s volume %d is %s, not UpToDate", c.Name, pd.Volume, pd.PeerDiskState)
			}
		}
	}
	return true, ""
}

// ConstraintPrefix starts the id of every fencing constraint of resource.
func ConstraintPrefix(resource string) string { return "drbd-fence-by-handler-" + resource + "-" }

// Constraint builds the location constraint that keeps clone from being
// promoted anywhere but on the keep nodes. role is the CIB's spelling of
// the promoted role ("Promoted", or "Master" for older schemas).
func Constraint(resource, clone, role string, keep []string) *etree.Element {
	id := ConstraintPrefix(resource) + clone
	loc := etree.NewElement("rsc_location")
	loc.CreateAttr("id", id)
	loc.CreateAttr("rsc", clone)
	rule := loc.CreateElement("rule")
	rule.CreateAttr("id", id+"-rule")
	rule.CreateAttr("role", role)
	rule.CreateAttr("score", "-INFINITY")
	rule.CreateAttr("boolean-op", "and")
	for i, n := range keep {
		x := rule.CreateElement("expression")
		x.CreateAttr("id", id+"-expr-"+strconv.Itoa(i))
		x.CreateAttr("attribute", "#uname")
		x.CreateAttr("operation", "ne")
		x.CreateAttr("value", n)
	}
	return loc
}

// FindClone returns the id of the promotable clone whose drbd primitive
// (ocf:goha:drbd or ocf:linbit:drbd) manages DRBD resource, and the role
// name the CIB's schema accepts for promoted instances.
func FindClone(cib *etree.Document, resource string) (clone, role string, err error) {
	root := cib.Root()
	if root == nil {
		return "", "", fmt.Errorf("empty CIB")
	}
	role = promotedRole(root.SelectAttrValue("validate-with", ""))
	var found []string
	for _, prim := range root.FindElements("//resources//primitive[@type='drbd']") {
		if prim.SelectAttrValue("class", "") != "ocf" {
			continue
		}
		manages := false
		for _, nv := range prim.FindElements("instance_attributes/nvpair[@name='drbd_resource']") {
			manages = manages || nv.SelectAttrValue("value", "") == resource
		}
		if !manages {
			continue
		}
		for p := prim.Parent(); p != nil; p = p.Parent() {
			if p.Tag == "master" || (p.Tag == "clone" && isPromotable(p)) {
				found = append(found, p.SelectAttrValue("id", ""))
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return "", role, fmt.Errorf("no promotable clone in the CIB manages DRBD resource %s", resource)
	case 1:
		return found[0], role, nil
	}
	return "", role, fmt.Errorf("several clones manage DRBD resource %s: %s", resource, strings.Join(found, ", "))
}

func isPromotable(clone *etree.Element) bool {
	for _, nv := range clone.FindElements("meta_attributes/nvpair") {
		if n := nv.SelectAttrValue("name", ""); n == "promotable" {
			v := strings.ToLower(nv.SelectAttrValue("value", ""))
			return v == "true" || v == "yes" || v == "1" || v == "on"
		}
	}
	return false
}

// promotedRole is "Promoted" for schemas pacemaker-3.7 and later, which
// know it, and "Master" before.
func promotedRole(validateWith string) string {
	v, ok := strings.CutPrefix(validateWith, "pacemaker-")
	if !ok {
		return "Master"
	}
	major, minor, _ := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || ma < 3 || (ma == 3 && mi < 7) {
		return "Master"
	}
	return "Promoted"
}

// FenceConstraintIDs lists the ids of resource's fencing constraints in cib.
func FenceConstraintIDs(cib *etree.Document, resource string) []string {
	var ids []string
	if cib.Root() == nil {
		return nil
	}
	for _, loc := range cib.Root().FindElements("//constraints/rsc_location") {
		if id := loc.SelectAttrValue("id", ""); strings.HasPrefix(id, ConstraintPrefix(resource)) {
			ids = append(ids, id)
		}
	}
	return ids
}
