// Package bench measures what one call of a goha agent costs next to the
// reference shell agent doing the same job on the same target: wall time,
// CPU time and peak memory of the whole process tree, and the processes it
// forks. It renders the comparison as the markdown of BENCHMARKS.md
// (see cmd/bench, run by make bench).
//
// A comparison is a Case: a Setup that prepares the target (a network
// namespace, started resources) and the two Invocations to measure. The
// numbers are pure functions of the samples (stats.go, report.go,
// strace.go) and are tested without running anything.
package bench

import (
	"context"
	"fmt"
	"io"
)

// Case is one comparison: the same job done by a goha agent and by the
// reference agent. To add one, write a function returning a Case (see
// VIPCase) and list it in Cases.
type Case struct {
	Name  string
	Notes string // how the target is set up, shown under the table
	Goal  *Goal  // what the issue asks of the goha agent; nil for none
	// Action is the measured action; "" means "monitor".
	Action          string
	Goha, Reference Invocation
	// Setup prepares the target both agents act on and returns environment
	// to add to every call of both (e.g. HA_RSCTMP) and a cleanup that
	// Measure runs however the measurement ends. Setup undoes its own
	// partial work when it fails. nil means nothing to prepare.
	Setup func(ctx context.Context) (env []string, cleanup func(), err error)
}

// Options says how much to measure.
type Options struct {
	Calls  int       // measured calls per agent
	Warmup int       // calls per agent before measuring, not counted
	Traced int       // calls per agent under strace, for forks and execs
	Log    io.Writer // progress; nil for none
}

// Measure sets the case up, calls the two agents alternately
// (goha, reference, goha, ...) so that noise on the shared machine falls on
// both alike, then traces a few more calls of each for the fork counts.
func Measure(ctx context.Context, c Case, opt Options) (res Result, err error) {
	action := c.Action
	if action == "" {
		action = "monitor"
	}
	logf := func(format string, args ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "bench: %s: "+format+"\n", append([]any{c.Name}, args...)...)
		}
	}
	goha, ref := c.Goha, c.Reference
	if c.Setup != nil {
		logf("setting up")
		env, cleanup, err := c.Setup(ctx)
		if err != nil {
			return res, fmt.Errorf("case %s: set up: %w", c.Name, err)
		}
		defer func() {
			logf("cleaning up")
			cleanup()
		}()
		goha, ref = goha.With(env...), ref.With(env...)
	}

	var r Runner
	defer r.Close()
	pair := []Invocation{goha, ref}
	samples := make([][]Sample, len(pair))
	total := opt.Warmup + opt.Calls
	for i := 0; i < total; i++ {
		for j, inv := range pair {
			s, err := r.Measure(ctx, inv, action)
			if err != nil {
				return res, fmt.Errorf("case %s: call %d: %w", c.Name, i+1, err)
			}
			if i >= opt.Warmup {
				samples[j] = append(samples[j], s)
			}
		}
		if n := i + 1 - opt.Warmup; n > 0 && (n%50 == 0 || n == opt.Calls) {
			logf("%d/%d calls", n, opt.Calls)
		}
	}
	counts := make([][]Count, len(pair))
	for i := 0; i < opt.Traced; i++ {
		for j, inv := range pair {
			n, err := r.Trace(ctx, inv, action)
			if err != nil {
				return res, fmt.Errorf("case %s: %w", c.Name, err)
			}
			counts[j] = append(counts[j], n)
		}
	}
	logf("traced %d calls each", opt.Traced)
	for j, inv := range pair {
		// Two independent counts of the same thing: taskstats over the
		// measured calls, strace over the traced ones.
		s, t := SummarizeCounts(counts[j]), Summarize(samples[j], Procs{})
		if s.ForksMin < t.Procs.ForksMin || s.ForksMax > t.Procs.ForksMax {
			logf("warning: %s: strace saw %s forks per call, taskstats %s", inv.Agent,
				FormatRange(s.ForksMin, s.ForksMax), FormatRange(t.Procs.ForksMin, t.Procs.ForksMax))
		}
	}
	return Result{
		Case:      c.Name,
		Notes:     c.Notes,
		Goal:      c.Goal,
		Goha:      AgentResult{Agent: goha.Agent, Summary: Summarize(samples[0], SummarizeCounts(counts[0]))},
		Reference: AgentResult{Agent: ref.Agent, Summary: Summarize(samples[1], SummarizeCounts(counts[1]))},
	}, nil
}
