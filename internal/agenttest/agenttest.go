// Package agenttest runs an agent binary as Pacemaker does, for the
// agents' component tests: one process per action, the environment the
// cluster gives it, and the exit code and ocf-exit-reason it answers.
package agenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Result is one agent invocation.
type Result struct {
	RC             int
	Stdout, Stderr string
	Took           time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("rc=%d after %s\n%s%s", r.RC, r.Took.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// Env is the environment of one action: a fixed PATH and OCF_ROOT,
// HA_RSCTMP, OCF_RESOURCE_INSTANCE, and each parameter NAME=VALUE as
// OCF_RESKEY_NAME=VALUE; entries that already begin with OCF_ pass as they
// are.
func Env(rsctmp, resource string, params ...string) []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "HA_RSCTMP=" + rsctmp,
		"OCF_RESOURCE_INSTANCE=" + resource}
	for _, p := range params {
		if strings.HasPrefix(p, "OCF_") {
			env = append(env, p)
		} else {
			env = append(env, "OCF_RESKEY_"+p)
		}
	}
	return env
}

// Run runs argv (the agent and its action, or a wrapper such as ip netns
// exec in front of them) with env, ended after timeout. A program that
// cannot be run fails t; any exit code is a Result.
func Run(t testing.TB, timeout time.Duration, env []string, argv ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	begin := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Took: time.Since(begin)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.RC = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", argv, err)
	}
	return r
}

// Expect fails t unless r exited rc with reason in its stderr (the
// ocf-exit-reason line, or the log).
func Expect(t testing.TB, what string, r Result, rc int, reason string) {
	t.Helper()
	if r.RC != rc || !strings.Contains(r.Stderr, reason) {
		t.Fatalf("%s: got %v\nwant rc=%d with %q", what, r, rc, reason)
	}
}
