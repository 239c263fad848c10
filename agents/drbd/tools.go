package drbd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/beevik/etree"
)

// ExitNoUpToDate is the status of `drbdadm primary` when the node has no
// access to UpToDate data: retrying cannot help.
const ExitNoUpToDate = 17

// drbdTools runs drbd-utils for one resource. Only this file forks.
type drbdTools interface {
	// Status returns the resource's state; up is false when the kernel
	// does not know the resource (down, or no DRBD module at all).
	Status(ctx context.Context) (s Status, up bool, err error)
	// Adm runs `drbdadm -c CONF CMD RES`.
	Adm(ctx context.Context, cmd string) error
}

// ToolError is a drbd-utils command that failed, with its exit status and
// what it said.
type ToolError struct {
	Argv   []string
	Code   int // -1 when it did not run or was killed
	Output string
	Err    error
}

func (e *ToolError) Error() string {
	msg := strings.TrimSpace(e.Output)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:] // drbdadm's last line says what went wrong
	}
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s: exit %d: %s", strings.Join(e.Argv, " "), e.Code, msg)
}

func (e *ToolError) Unwrap() error { return e.Err }

// exitCode returns the exit status of a failed tool, or -1.
func exitCode(err error) int {
	var te *ToolError
	if errors.As(err, &te) {
		return te.Code
	}
	return -1
}

// execTools is drbdTools over the real (or simulated) programs.
type execTools struct {
	drbdadm, drbdsetup string // program names or paths
	conf, resource     string
}

func run(ctx context.Context, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return out.Bytes(), &ToolError{Argv: argv, Code: code, Output: errb.String() + out.String(), Err: err}
	}
	return out.Bytes(), nil
}

func (t execTools) Status(ctx context.Context) (Status, bool, error) {
	out, err := run(ctx, t.drbdsetup, "status", t.resource, "--json")
	if err != nil {
		var te *ToolError
		if errors.As(err, &te) && notConfigured(te.Output) {
			return Status{}, false, nil
		}
		return Status{}, false, err
	}
	s, err := ParseStatus(out, t.resource)
	return s, err == nil, err
}

// notConfigured recognises drbdsetup's answers for a resource the kernel
// does not have: the resource is down, or DRBD is not even loaded.
func notConfigured(output string) bool {
	return strings.Contains(output, "No such resource") || strings.Contains(output, "modprobe drbd") ||
		strings.Contains(output, "Unknown resource")
}

func (t execTools) Adm(ctx context.Context, cmd string) error {
	_, err := run(ctx, t.drbdadm, "-c", t.conf, cmd, t.resource)
	return err
}

// cib reads and changes the cluster configuration for the fence-peer
// handler.
type cib interface {
	Query(ctx context.Context) (*etree.Document, error)
	// Put creates the constraint or replaces the one with its id.
	Put(ctx context.Context, constraint *etree.Element) error
	// Delete removes the constraint with id; a missing one is no error.
	Delete(ctx context.Context, id string) error
}

// cibadmin is cib over Pacemaker's cibadmin.
type cibadmin struct {
	program string // "" means cibadmin from PATH
}

// crmExNoSuch is cibadmin's status for an object that does not exist.
const crmExNoSuch = 105

func (c cibadmin) prog() string {
	if c.program == "" {
		return "cibadmin"
	}
	return c.program
}

func (c cibadmin) Query(ctx context.Context) (*etree.Document, error) {
	out, err := run(ctx, c.prog(), "--query")
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		return nil, fmt.Errorf("parse the CIB from cibadmin --query: %w", err)
	}
	return doc, nil
}

func (c cibadmin) Put(ctx context.Context, constraint *etree.Element) error {
	doc := etree.NewDocument()
	doc.SetRoot(constraint.Copy())
	x, err := doc.WriteToString()
	if err != nil {
		return err
	}
	_, err = run(ctx, c.prog(), "--modify", "--allow-create", "-o", "constraints", "-X", x)
	return err
}

func (c cibadmin) Delete(ctx context.Context, id string) error {
	x := etree.NewDocument()
	x.CreateElement("rsc_location").CreateAttr("id", id)
	s, err := x.WriteToString()
	if err != nil {
		return err
	}
	if _, err = run(ctx, c.prog(), "--delete", "-o", "constraints", "-X", s); exitCode(err) == crmExNoSuch {
		return nil
	}
	return err
}
