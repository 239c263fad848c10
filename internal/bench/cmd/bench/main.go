// Command bench compares the cost of goha's agents with the reference shell
// agents on the same targets and writes the result as markdown
// (BENCHMARKS.md). It needs root: the cases make network namespaces.
//
//	go run ./internal/bench/cmd/bench -goha bin/goha -o BENCHMARKS.md [-n 200] [-case vip]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/internal/bench"
)

// specCase names the CIB generation measurement for -case.
const specCase = "cib-spec"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "-", "write the markdown report to `file` (- for stdout)")
	calls := fs.Int("n", 200, "measured calls per agent")
	warmup := fs.Int("warmup", 10, "calls per agent before measuring, not counted")
	traced := fs.Int("traced", 5, "further calls per agent under strace, to count forks and execs")
	goha := fs.String("goha", "bin/goha", "the goha `binary` whose agents are measured")
	ocfRoot := fs.String("ocf-root", "/usr/lib/ocf", "where the reference agents are installed")
	only := fs.String("case", "", "comma-separated `names` of the cases to run (default all)")
	results := fs.String("results", "e2e/results", "`dir` of scenario result files (*.json) from the e2e tests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *calls < 1 || *warmup < 0 || *traced < 1 {
		return errors.New("-n and -traced must be at least 1, -warmup at least 0")
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: the cases create network namespaces")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		return errors.New("needs strace to count forks (apt-get install strace)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	bin, err := filepath.Abs(*goha)
	if err != nil {
		return err
	}
	agentDir, err := agentLinks(ctx, bin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(agentDir)
	version, err := gohaVersion(ctx, bin)
	if err != nil {
		return err
	}

	cfg := bench.Config{AgentDir: agentDir, OCFRoot: *ocfRoot}
	cases, loads := bench.Cases(cfg), bench.LoadCases(cfg)
	withSpec := true // the cib-spec measurement
	if *only != "" {
		want := strings.Split(*only, ",")
		cases = slices.DeleteFunc(cases, func(c bench.Case) bool { return !slices.Contains(want, c.Name) })
		loads = slices.DeleteFunc(loads, func(c bench.LoadCase) bool { return !slices.Contains(want, c.Name) })
		withSpec = slices.Contains(want, specCase)
		if n := len(cases) + len(loads); (withSpec && n+1 != len(want)) || (!withSpec && n != len(want)) {
			return fmt.Errorf("-case %s: unknown case among them", *only)
		}
	}
	scenarios, err := bench.ReadScenarios(*results)
	if err != nil {
		return err
	}

	report := bench.Report{
		Date:           time.Now(),
		Machine:        bench.MachineInfo(ctx, version),
		Calls:          *calls,
		Warmup:         *warmup,
		Traced:         *traced,
		Scenarios:      scenarios,
		ScenarioSource: *results,
	}
	opt := bench.Options{Calls: *calls, Warmup: *warmup, Traced: *traced, Log: stderr}
	for _, c := range cases {
		res, err := bench.Measure(ctx, c, opt)
		if err != nil {
			return err
		}
		report.Results = append(report.Results, res)
	}
	for _, c := range loads {
		res, err := c.Run(ctx, stderr)
		if err != nil {
			return err
		}
		report.Loads = append(report.Loads, res)
	}

	if withSpec {
		spec, err := bench.MeasureSpecScale(ctx, bin, bench.SpecScaleSize, 3, stderr)
		if err != nil {
			return err
		}
		report.Spec = &spec
	}

	var md bytes.Buffer
	if err := report.Markdown(&md); err != nil {
		return err
	}
	if *out == "-" {
		_, err := stdout.Write(md.Bytes())
		return err
	}
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(stderr, "bench: wrote %s\n", *out)
	return nil
}

// agentLinks makes a directory with one symlink per goha agent, named after
// it and pointing at bin, the way the package installs them under
// /usr/lib/ocf/resource.d/goha.
func agentLinks(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "agents").Output()
	if err != nil {
		return "", fmt.Errorf("list agents with %s agents (build it with go build -o bin/goha ./cmd/goha): %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "goha-bench-agents-")
	if err != nil {
		return "", fmt.Errorf("create agent dir: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if err := os.Symlink(bin, filepath.Join(dir, f[0])); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("link agent %s: %w", f[0], err)
		}
	}
	return dir, nil
}

// gohaVersion asks the binary for its version ("goha 0.1.0" -> "0.1.0").
func gohaVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", bin, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "goha "), nil
}
