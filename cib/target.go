// Package cib turns a goha cluster spec (package spec) into a Pacemaker CIB
// and back, validates it (goha's semantic checks and Pacemaker's own
// crm_verify), compares it with a live CIB, applies only the difference and
// simulates failures with crm_simulate.
package cib

import (
	"fmt"
	"strconv"
	"strings"
)

// Target is the Pacemaker release a CIB is written for. It decides the
// schema named in validate-with and the spelling of roles.
type Target struct {
	// Release is "2.0", "2.1" or "3".
	Release string
	// Schema is the validate-with value.
	Schema string
	// LegacyRoles writes Master/Slave instead of Promoted/Unpromoted
	// (schemas before pacemaker-3.7, i.e. Pacemaker 2.0).
	LegacyRoles bool
	// IntegerType says whether expressions may use type="integer"
	// (rule schema 3.5 and later); before that "number" is written.
	IntegerType bool
	// OneRulePerLocation is the pacemaker-4.0 limit of one <rule> per
	// rsc_location.
	OneRulePerLocation bool
	// NoLegacyRoles rejects Master/Slave in the spec (pacemaker-4.0).
	NoLegacyRoles bool
}

// DefaultRelease is the release used when neither the spec, a flag nor the
// installed Pacemaker says otherwise.
const DefaultRelease = "2.1"

// ParseTarget reads a release: 2.0, 2.1, 3 (also 2.0.5, 2.1.5, 3.0, 3.0.1).
func ParseTarget(release string) (Target, error) {
	r := strings.TrimSpace(release)
	switch {
	case r == "2.0" || strings.HasPrefix(r, "2.0."):
		// pacemaker-3.0 is what every 2.0.x release accepts.
		return Target{Release: "2.0", Schema: "pacemaker-3.0", LegacyRoles: true}, nil
	case r == "2.1" || strings.HasPrefix(r, "2.1."):
		// pacemaker-3.7 came with 2.1.0 and brought Promoted/Unpromoted.
		return Target{Release: "2.1", Schema: "pacemaker-3.7", IntegerType: true}, nil
	case r == "3" || r == "3.0" || strings.HasPrefix(r, "3.0."):
		return Target{Release: "3", Schema: "pacemaker-4.0", IntegerType: true,
			OneRulePerLocation: true, NoLegacyRoles: true}, nil
	}
	return Target{}, fmt.Errorf("unsupported Pacemaker release %q (want 2.0, 2.1 or 3)", release)
}

// TargetForSchema is the target whose CIBs name schema, used when
// importing: pacemaker-3.0 to 3.6 are 2.0, 3.7 to 3.x are 2.1, 4.x is 3.
func TargetForSchema(schema string) (Target, error) {
	v, ok := strings.CutPrefix(schema, "pacemaker-")
	if !ok {
		return Target{}, fmt.Errorf("unknown schema %q", schema)
	}
	major, minor, _ := strings.Cut(v, ".")
	maj, err1 := strconv.Atoi(major)
	mnr, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return Target{}, fmt.Errorf("unknown schema %q", schema)
	}
	switch {
	case maj >= 4:
		return ParseTarget("3")
	case maj == 3 && mnr >= 7:
		return ParseTarget("2.1")
	case maj == 3:
		return ParseTarget("2.0")
	}
	return Target{}, fmt.Errorf("schema %q predates Pacemaker 2.0", schema)
}

// Role spellings. The spec uses the current names; legacy ones are
// accepted where the target allows them.
var (
	specRoles   = map[string]string{"Started": "Started", "Stopped": "Stopped", "Promoted": "Promoted", "Unpromoted": "Unpromoted"}
	legacyRoles = map[string]string{"Master": "Promoted", "Slave": "Unpromoted"}
)

// CanonicalRole maps a role as written in a spec or CIB to its current
// name; ok is false for an unknown role.
func CanonicalRole(role string) (canonical string, legacy, ok bool) {
	if r, ok := specRoles[role]; ok {
		return r, false, true
	}
	if r, ok := legacyRoles[role]; ok {
		return r, true, true
	}
	return "", false, false
}

// Role is how the target spells a role.
func (t Target) Role(role string) string {
	c, _, ok := CanonicalRole(role)
	if !ok {
		return role
	}
	if t.LegacyRoles {
		switch c {
		case "Promoted":
			return "Master"
		case "Unpromoted":
			return "Slave"
		}
	}
	return c
}

// ExprType is how the target spells an expression's type.
func (t Target) ExprType(typ string) string {
	if typ == "integer" && !t.IntegerType {
		return "number"
	}
	return typ
}
