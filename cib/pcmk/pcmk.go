// Package pcmk runs Pacemaker's command-line tools (crm_verify,
// crm_simulate, crm_mon, cibadmin, crm_diff, crm_resource) for goha's CIB
// commands. Programs get an argv, never a shell; everything goes through a
// Runner so that callers can be tested without Pacemaker.
package pcmk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Runner runs a program and returns its standard output. A non-zero exit
// is an *ExitError carrying the exit code and the output.
type Runner interface {
	Run(ctx context.Context, stdin []byte, env []string, name string, args ...string) ([]byte, error)
}

// ExitError is a program that ran and exited non-zero.
type ExitError struct {
	Cmd    string
	Code   int
	Stdout []byte
	Stderr []byte
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(string(e.Stderr))
	if msg == "" {
		msg = strings.TrimSpace(string(e.Stdout))
	}
	return fmt.Sprintf("%s exited %d: %s", e.Cmd, e.Code, msg)
}

// Exec runs programs for real.
type Exec struct{}

// Run runs name with args; env entries are added to the environment.
func (Exec) Run(ctx context.Context, stdin []byte, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), &ExitError{Cmd: name, Code: ee.ExitCode(), Stdout: out.Bytes(), Stderr: errb.Bytes()}
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	return out.Bytes(), nil
}

// Installed reports whether program is on PATH.
func Installed(program string) bool {
	_, err := exec.LookPath(program)
	return err == nil
}

// SchemaDir is where Pacemaker keeps its RelaxNG schemas.
var SchemaDir = "/usr/share/pacemaker"

// KnowsSchema reports whether the installed Pacemaker can validate CIBs
// that name schema (pacemaker-3.7, pacemaker-4.0).
func KnowsSchema(schema string) bool {
	_, err := os.Stat(filepath.Join(SchemaDir, schema+".rng"))
	return err == nil
}

// Tools runs the Pacemaker tools through a Runner.
type Tools struct {
	R Runner
	// TempDir is where temporary CIB files go ("" for the system default).
	TempDir string
}

// Verify runs crm_verify on a CIB document and returns its messages; the
// error is non-nil when the CIB is invalid.
func (t Tools) Verify(ctx context.Context, cib []byte) (string, error) {
	f, cleanup, err := t.temp("cib-*.xml", cib)
	if err != nil {
		return "", err
	}
	defer cleanup()
	out, err := t.R.Run(ctx, nil, nil, "crm_verify", "--xml-file", f, "-V")
	msg := string(out)
	var ee *ExitError
	if errors.As(err, &ee) {
		msg += string(ee.Stderr)
		return strings.TrimSpace(msg), fmt.Errorf("crm_verify rejected the CIB:\n%s", strings.TrimSpace(msg))
	}
	return strings.TrimSpace(msg), err
}

// Query returns the live CIB (cibadmin --query).
func (t Tools) Query(ctx context.Context) ([]byte, error) {
	out, err := t.R.Run(ctx, nil, nil, "cibadmin", "--query")
	if err != nil {
		return nil, fmt.Errorf("read the live CIB: %w", err)
	}
	return out, nil
}

// Diff returns the patch that turns old into new (crm_diff --no-version,
// so that applying it does not depend on the epoch); nil when they do
// not differ.
func (t Tools) Diff(ctx context.Context, old, new []byte) ([]byte, error) {
	fo, c1, err := t.temp("old-*.xml", old)
	if err != nil {
		return nil, err
	}
	defer c1()
	fn, c2, err := t.temp("new-*.xml", new)
	if err != nil {
		return nil, err
	}
	defer c2()
	_, err = t.R.Run(ctx, nil, nil, "crm_diff", "--no-version", "--original", fo, "--new", fn)
	var ee *ExitError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &ee) && ee.Code == 1:
		return ee.Stdout, nil
	default:
		return nil, fmt.Errorf("crm_diff: %w", err)
	}
}

// Patch applies a patch from Diff to the live CIB (cibadmin --patch).
func (t Tools) Patch(ctx context.Context, patch []byte) error {
	f, cleanup, err := t.temp("patch-*.xml", patch)
	if err != nil {
		return err
	}
	defer cleanup()
	if _, err := t.R.Run(ctx, nil, nil, "cibadmin", "--patch", "--xml-file", f); err != nil {
		return fmt.Errorf("apply the patch: %w", err)
	}
	return nil
}

// Simulate runs crm_simulate --simulate on a CIB with the given extra
// arguments (--node-fail NODE, ...) and returns the resulting CIB.
func (t Tools) Simulate(ctx context.Context, cib []byte, args ...string) (result []byte, output string, err error) {
	in, c1, err := t.temp("sim-in-*.xml", cib)
	if err != nil {
		return nil, "", err
	}
	defer c1()
	outF, c2, err := t.temp("sim-out-*.xml", nil)
	if err != nil {
		return nil, "", err
	}
	defer c2()
	argv := append([]string{"--simulate", "--xml-file", in, "--save-output", outF}, args...)
	out, err := t.R.Run(ctx, nil, nil, "crm_simulate", argv...)
	if err != nil {
		return nil, string(out), fmt.Errorf("crm_simulate: %w", err)
	}
	res, err := os.ReadFile(outF)
	if err != nil {
		return nil, string(out), fmt.Errorf("read crm_simulate output: %w", err)
	}
	return res, string(out), nil
}

// Status returns crm_mon's XML view of a CIB file's status.
func (t Tools) Status(ctx context.Context, cib []byte) ([]byte, error) {
	f, cleanup, err := t.temp("mon-*.xml", cib)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	out, err := t.R.Run(ctx, nil, []string{"CIB_file=" + f}, "crm_mon", "--one-shot", "--output-as=xml", "--inactive")
	if err != nil {
		return nil, fmt.Errorf("crm_mon: %w", err)
	}
	return out, nil
}

// ShowMetadata returns an agent's meta-data (crm_resource --show-metadata).
func (t Tools) ShowMetadata(ctx context.Context, agent string) ([]byte, error) {
	out, err := t.R.Run(ctx, nil, nil, "crm_resource", "--show-metadata", agent)
	if err != nil {
		return nil, fmt.Errorf("meta-data of %s: %w", agent, err)
	}
	return out, nil
}

var versionRE = regexp.MustCompile(`Pacemaker (\d+\.\d+(\.\d+)?)`)

// InstalledVersion is the installed Pacemaker's version ("2.1.5"), or ""
// when it is not installed.
func (t Tools) InstalledVersion(ctx context.Context) string {
	out, err := t.R.Run(ctx, nil, nil, "crm_verify", "--version")
	if err != nil {
		return ""
	}
	if m := versionRE.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return ""
}

func (t Tools) temp(pattern string, data []byte) (string, func(), error) {
	f, err := os.CreateTemp(t.TempDir, "goha-"+pattern)
	if err != nil {
		return "", nil, fmt.Errorf("temporary file: %w", err)
	}
	name := f.Name()
	cleanup := func() { os.Remove(name) }
	if _, err := f.Write(data); err != nil {
		f.Close()
		cleanup()
		return "", nil, fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("write %s: %w", name, err)
	}
	return name, cleanup, nil
}
