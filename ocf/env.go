package ocf

import (
	"strconv"
	"strings"
	"time"
)

// Env is what Pacemaker tells an agent about one invocation, parsed from the
// process environment.
type Env struct {
	Resource   string            // OCF_RESOURCE_INSTANCE, e.g. "db:1"
	Params     map[string]string // OCF_RESKEY_<name>, without CRM_meta_*
	Meta       Meta              // OCF_RESKEY_CRM_meta_*
	Notify     Notification      // the notify variables, on notify actions
	CheckLevel int               // OCF_CHECK_LEVEL: 0, 10 or 20 by convention
}

// Meta holds the OCF_RESKEY_CRM_meta_* values an agent acts on.
type Meta struct {
	Timeout         time.Duration // the operation timeout; 0 when not run by Pacemaker
	Interval        time.Duration // the recurring interval; 0 for a probe or one-shot
	OnNode          string        // the node name this runs on
	Clone           string        // clone instance number, "" when not a clone
	CloneMax        int
	CloneNodeMax    int
	Promotable      bool
	PromotedMax     int
	PromotedNodeMax int
	NotifyEnabled   bool // the clone has notify=true
	GloballyUnique  bool
}

// Notification carries the notify variables (pre/post, which operation, and
// which nodes take part in each role).
type Notification struct {
	Type       string // "pre" or "post"
	Operation  string // "start", "stop", "promote" or "demote"
	Start      []string
	Stop       []string
	Promote    []string
	Demote     []string
	Active     []string
	Inactive   []string
	Promoted   []string
	Unpromoted []string
	Available  []string
	All        []string
}

// ParseEnv reads an environment in os.Environ form.
func ParseEnv(environ []string) Env {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	e := Env{Resource: vars["OCF_RESOURCE_INSTANCE"], Params: map[string]string{}}
	meta := map[string]string{}
	for k, v := range vars {
		name, ok := strings.CutPrefix(k, "OCF_RESKEY_")
		if !ok {
			continue
		}
		if m, ok := strings.CutPrefix(name, "CRM_meta_"); ok {
			meta[m] = v
			continue
		}
		e.Params[name] = v
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := meta[k]; ok {
				return v
			}
		}
		return ""
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(strings.TrimSpace(s)); return n }
	truth := func(s string) bool { b, _ := parseBool(s); return b }
	e.Meta = Meta{
		Timeout:         millis(meta["timeout"]),
		Interval:        millis(meta["interval"]),
		OnNode:          meta["on_node"],
		Clone:           meta["clone"],
		CloneMax:        atoi(meta["clone_max"]),
		CloneNodeMax:    atoi(meta["clone_node_max"]),
		Promotable:      truth(first("promotable", "master")),
		PromotedMax:     atoi(first("promoted_max", "master_max")),
		PromotedNodeMax: atoi(first("promoted_node_max", "master_node_max")),
		NotifyEnabled:   truth(meta["notify"]),
		GloballyUnique:  truth(meta["globally_unique"]),
	}
	list := func(keys ...string) []string { return strings.Fields(first(keys...)) }
	e.Notify = Notification{
		Type:       meta["notify_type"],
		Operation:  meta["notify_operation"],
		Start:      list("notify_start_uname"),
		Stop:       list("notify_stop_uname"),
		Promote:    list("notify_promote_uname"),
		Demote:     list("notify_demote_uname"),
		Active:     list("notify_active_uname"),
		Inactive:   list("notify_inactive_uname"),
		Promoted:   list("notify_promoted_uname", "notify_master_uname"),
		Unpromoted: list("notify_unpromoted_uname", "notify_slave_uname"),
		Available:  list("notify_available_uname"),
		All:        list("notify_all_uname"),
	}
	level := vars["OCF_CHECK_LEVEL"]
	if level == "" {
		level = e.Params["OCF_CHECK_LEVEL"]
	}
	e.CheckLevel = atoi(level)
	return e
}

// millis parses a CRM_meta duration, which Pacemaker gives in milliseconds.
func millis(s string) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// ResourceName is the resource id without the clone instance suffix
// ("db:1" -> "db"), the name promotion scores and attributes are keyed on.
func (e Env) ResourceName() string {
	name, _, _ := strings.Cut(e.Resource, ":")
	return name
}
