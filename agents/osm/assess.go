package osm

import (
	"fmt"
	"strings"

	"github.com/goha-ha/goha/ocf"
)

// ServiceState is what the status command says of the service.
type ServiceState int

// The states of the session-manager service.
const (
	NoService      ServiceState = iota // the resource has no service
	ServiceRunning                     // status exited 0
	ServiceStopped                     // status exited 1, 2 or 3 (LSB: not running)
	ServiceUnknown                     // status failed otherwise
)

// ServiceStatus is the service's state and what explains it.
type ServiceStatus struct {
	State  ServiceState
	Detail string
}

// serviceStatus reads an LSB status answer: the exit code of the status
// command (-1 when it did not exit normally), its output and the error
// that kept it from running, if any.
func serviceStatus(code int, output string, runErr error) ServiceStatus {
	out := firstLine(output)
	switch {
	case runErr != nil:
		return ServiceStatus{ServiceUnknown, fmt.Sprintf("%s failed: %v", pStatus, runErr)}
	case code == 0:
		return ServiceStatus{ServiceRunning, ""}
	case code == 3:
		return ServiceStatus{ServiceStopped, ""}
	case code == 1 || code == 2:
		return ServiceStatus{ServiceStopped, fmt.Sprintf("%s exited with %d: the service is dead but left its pid or lock file%s", pStatus, code, out)}
	case code < 0:
		return ServiceStatus{ServiceUnknown, fmt.Sprintf("%s did not exit normally%s", pStatus, out)}
	}
	return ServiceStatus{ServiceUnknown, fmt.Sprintf("%s exited with %d (unknown state)%s", pStatus, code, out)}
}

// firstLine is the first line of a command's output, as ": line", for
// reasons; "" when there is none.
func firstLine(output string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(output), "\n")
	if line == "" {
		return ""
	}
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return ": " + line
}

// Verdict is a monitor's answer: an exit status and why.
type Verdict struct {
	Status ocf.Status
	Reason string
}

// assess decides what a monitor answers from the tables of the resource's
// name (in whatever families they exist) and the service's state.
func assess(rs Ruleset, tables []Observed, svc ServiceStatus) Verdict {
	if svc.State == ServiceUnknown {
		return Verdict{ocf.ErrGeneric, "cannot tell whether the service runs: " + svc.Detail}
	}
	var owned []Observed
	var foreign []string
	for _, t := range tables {
		if t.Owned() {
			owned = append(owned, t)
		} else {
			foreign = append(foreign, fmt.Sprintf("table %s %s exists but is not this resource's (it has no chain %s)",
				familyName(t.Family), rs.Table, chainName))
		}
	}
	if len(owned) == 0 {
		if svc.State == ServiceRunning {
			return Verdict{ocf.ErrGeneric, fmt.Sprintf("the service runs but the SNAT table %s is missing", rs.Table)}
		}
		why := "the SNAT table " + rs.Table + " is absent"
		if svc.State == ServiceStopped {
			why += " and the service is stopped"
		}
		if len(foreign) > 0 {
			why += "; " + strings.Join(foreign, "; ")
		}
		return Verdict{ocf.NotRunning, why}
	}
	if len(owned) > 1 {
		var fams []string
		for _, t := range owned {
			fams = append(fams, familyName(t.Family))
		}
		return Verdict{ocf.ErrGeneric, fmt.Sprintf("table %s exists in several families (%s)", rs.Table, strings.Join(fams, ", "))}
	}
	if diffs := rs.Differences(owned[0]); len(diffs) > 0 {
		return Verdict{ocf.ErrGeneric, fmt.Sprintf("table %s %s was changed: %s",
			familyName(owned[0].Family), rs.Table, strings.Join(diffs, "; "))}
	}
	if svc.State == ServiceStopped {
		why := "the service is stopped while its SNAT rule is in place"
		if svc.Detail != "" {
			why += " (" + svc.Detail + ")"
		}
		return Verdict{ocf.ErrGeneric, why}
	}
	return Verdict{ocf.Success, ""}
}
