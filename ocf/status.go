// Package ocf implements the OCF resource-agent protocol once, so that goha's
// agents only declare their parameters and implement their actions.
//
// An agent is an Agent value: its meta-data declaration (parameters, actions)
// and one function per action. Run parses the environment Pacemaker passes
// (OCF_RESKEY_*, OCF_RESKEY_CRM_meta_*, notify variables, OCF_CHECK_LEVEL),
// validates the parameters against the declaration, serialises concurrent
// invocations of the same instance, applies the operation timeout as a
// context deadline, and turns the action's error into an exit code and an
// ocf-exit-reason line.
package ocf

import (
	"errors"
	"fmt"
)

// Status is an OCF exit code.
type Status int

// The OCF exit codes (resource-agent API 1.1, section "Return codes").
const (
	Success          Status = 0 // OCF_SUCCESS
	ErrGeneric       Status = 1 // OCF_ERR_GENERIC: soft error, recover locally
	ErrArgs          Status = 2 // OCF_ERR_ARGS: bad arguments for this node
	ErrUnimplemented Status = 3 // OCF_ERR_UNIMPLEMENTED: action not supported
	ErrPerm          Status = 4 // OCF_ERR_PERM: insufficient permission
	ErrInstalled     Status = 5 // OCF_ERR_INSTALLED: a needed program or file is missing
	ErrConfigured    Status = 6 // OCF_ERR_CONFIGURED: the configuration is wrong on every node
	NotRunning       Status = 7 // OCF_NOT_RUNNING: cleanly stopped
	RunningPromoted  Status = 8 // OCF_RUNNING_PROMOTED (OCF_RUNNING_MASTER)
	FailedPromoted   Status = 9 // OCF_FAILED_PROMOTED (OCF_FAILED_MASTER)
)

var statusNames = [...]string{
	"OCF_SUCCESS", "OCF_ERR_GENERIC", "OCF_ERR_ARGS", "OCF_ERR_UNIMPLEMENTED",
	"OCF_ERR_PERM", "OCF_ERR_INSTALLED", "OCF_ERR_CONFIGURED", "OCF_NOT_RUNNING",
	"OCF_RUNNING_PROMOTED", "OCF_FAILED_PROMOTED",
}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("OCF_STATUS_%d", int(s))
}

// Error is an action outcome other than success: an exit code and the
// one-line reason Pacemaker shows as the exit reason.
type Error struct {
	Status Status
	Reason string
	Err    error // the underlying cause, if any
}

func (e *Error) Error() string {
	switch {
	case e.Reason != "" && e.Err != nil:
		return e.Reason + ": " + e.Err.Error()
	case e.Reason != "":
		return e.Reason
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Status.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Fail returns an error that makes the action exit with status and reason.
func Fail(status Status, format string, args ...any) error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// Wrap returns an error that exits with status, keeping err as the cause.
func Wrap(status Status, err error, format string, args ...any) error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...), Err: err}
}

// ErrNotRunning is the plain "cleanly stopped" answer of a monitor.
var ErrNotRunning error = &Error{Status: NotRunning}

// ErrRunningPromoted is the answer of a monitor on a healthy promoted instance.
var ErrRunningPromoted error = &Error{Status: RunningPromoted}

// StatusOf maps an action's error to its exit code: nil is Success, an
// *Error its own status, anything else ErrGeneric.
func StatusOf(err error) Status {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return ErrGeneric
}

// ReasonOf returns the exit reason for err ("" when there is none to show).
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Reason == "" && e.Err == nil {
		return ""
	}
	return err.Error()
}
