package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SpecScaleGoal is the bound on generating and validating the
// synthetic spec of 32 nodes, 1000 primitives and 3000 constraints.
const SpecScaleGoal = 2 * time.Second

// SpecSize is the shape of a synthetic spec (goha cib bench-spec flags).
type SpecSize struct{ Nodes, Primitives, Constraints int }

// SpecScaleSize is the size make bench measures.
var SpecScaleSize = SpecSize{Nodes: 32, Primitives: 1000, Constraints: 3000}

// SpecScale is goha cib bench-spec at one size, with Pacemaker's crm_verify
// on the CIB goha generates from the same spec.
type SpecScale struct {
	Size                SpecSize
	SpecBytes, CIBBytes int64
	// Runs is the wall time of each goha cib bench-spec process: start,
	// writing the spec, parsing, validating and generating.
	Runs []time.Duration
	// Own is goha's own parse+validate+generate total of each run, from
	// its report line.
	Own []time.Duration
	// Verify is the wall time of each crm_verify --xml-file on the CIB.
	Verify []time.Duration
	// Verdict is crm_verify's: "valid", or its first complaint.
	Verdict string
}

// ownTotal finds goha's total in bench-spec's report line ("bench-spec:
// parse 1ms, validate 2ms, generate 3ms, total 6ms").
var ownTotal = regexp.MustCompile(`(?m)^bench-spec: parse \S+, validate \S+, generate \S+, total (\S+)$`)

// ParseOwnTotal reads the total from goha cib bench-spec's stderr.
func ParseOwnTotal(stderr string) (time.Duration, error) {
	m := ownTotal.FindStringSubmatch(stderr)
	if m == nil {
		return 0, fmt.Errorf("no \"bench-spec: parse …, total …\" line in goha's output: %q", strings.TrimSpace(stderr))
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		return 0, fmt.Errorf("bench-spec total %q: %w", m[1], err)
	}
	return d, nil
}

// MeasureSpecScale runs goha cib bench-spec (bin is goha) runs times, has
// goha generate the CIB of that spec once, and times crm_verify on it runs
// times. A missing crm_verify leaves Verify empty and says so in Verdict.
func MeasureSpecScale(ctx context.Context, bin string, size SpecSize, runs int, log io.Writer) (SpecScale, error) {
	res := SpecScale{Size: size}
	dir, err := os.MkdirTemp("", "goha-bench-spec-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	specFile, cibFile := filepath.Join(dir, "spec.yaml"), filepath.Join(dir, "cib.xml")
	for i := 0; i < runs; i++ {
		cmd := exec.CommandContext(ctx, bin, "cib", "bench-spec", "--nodes", strconv.Itoa(size.Nodes),
			"--primitives", strconv.Itoa(size.Primitives), "--constraints", strconv.Itoa(size.Constraints), "-o", specFile)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		begin := time.Now()
		err := cmd.Run()
		took := time.Since(begin)
		if err != nil {
			return res, fmt.Errorf("goha cib bench-spec: %w\n%s", err, stderr.String())
		}
		own, err := ParseOwnTotal(stderr.String())
		if err != nil {
			return res, err
		}
		res.Runs, res.Own = append(res.Runs, took), append(res.Own, own)
	}
	if out, err := exec.CommandContext(ctx, bin, "cib", "generate", "-f", specFile, "-o", cibFile).CombinedOutput(); err != nil {
		return res, fmt.Errorf("goha cib generate: %w\n%s", err, out)
	}
	for f, n := range map[string]*int64{specFile: &res.SpecBytes, cibFile: &res.CIBBytes} {
		st, err := os.Stat(f)
		if err != nil {
			return res, err
		}
		*n = st.Size()
	}
	verify, err := exec.LookPath("crm_verify")
	if err != nil {
		res.Verdict = "not run: crm_verify is not installed"
		return res, nil
	}
	for i := 0; i < runs; i++ {
		begin := time.Now()
		out, err := exec.CommandContext(ctx, verify, "--xml-file", cibFile).CombinedOutput()
		res.Verify = append(res.Verify, time.Since(begin))
		res.Verdict = VerifyVerdict(string(out), err)
	}
	fmt.Fprintf(log, "bench: cib-spec: goha %v, crm_verify %v (%s)\n", res.Runs, res.Verify, res.Verdict)
	return res, nil
}

// VerifyVerdict reads crm_verify's answer. Warnings alone leave the CIB
// valid: on a CIB without a status section crm_verify warns that no node
// has joined, which says nothing of the configuration.
func VerifyVerdict(out string, err error) string {
	switch {
	case err == nil:
		return "valid"
	case strings.Contains(out, "Errors found"):
		first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
		return fmt.Sprintf("rejected (%v): %s", err, first)
	case strings.Contains(out, "Warnings found"):
		return "valid, with warnings (no node has joined a CIB without status)"
	}
	return fmt.Sprintf("failed (%v): %s", err, strings.TrimSpace(out))
}

// median of ds; 0 for none.
func median(ds []time.Duration) time.Duration {
	v := make([]float64, len(ds))
	for i, d := range ds {
		v[i] = float64(d)
	}
	return time.Duration(Percentile(v, 50))
}

// WriteSpecScale writes the "CIB generation at scale" section.
func WriteSpecScale(w io.Writer, s SpecScale) error {
	var b strings.Builder
	b.WriteString("## CIB generation at scale\n\n")
	b.WriteString("| spec | goha cib bench-spec (process) | goha's own total | goal | crm_verify on the CIB | crm_verify says |\n")
	b.WriteString("|---|---:|---:|---|---:|---|\n")
	goal := fmt.Sprintf("met (< %s)", FormatDuration(SpecScaleGoal))
	if m := median(s.Runs); m >= SpecScaleGoal {
		goal = fmt.Sprintf("**missed** (%s ≥ %s)", FormatDuration(m), FormatDuration(SpecScaleGoal))
	}
	verify := "—"
	if len(s.Verify) > 0 {
		verify = FormatDuration(median(s.Verify))
	}
	fmt.Fprintf(&b, "| %d nodes, %d primitives, %d constraints (spec %s, CIB %s) | %s | %s | %s | %s | %s |\n",
		s.Size.Nodes, s.Size.Primitives, s.Size.Constraints, FormatKiB(s.SpecBytes/1024), FormatKiB(s.CIBBytes/1024),
		FormatDuration(median(s.Runs)), FormatDuration(median(s.Own)), goal, verify, s.Verdict)
	fmt.Fprintf(&b, "\nMedians of %d runs. The process time is all of `goha cib bench-spec`: its start, writing the "+
		"synthetic spec, then parsing, checking (goha's semantic checks, against the agents' meta-data) and "+
		"generating the CIB, which is goha's own total; crm_verify is Pacemaker's validation of that CIB (`crm_verify "+
		"--xml-file`), which goha cib validate also runs.\n", len(s.Runs))
	_, err := io.WriteString(w, b.String())
	return err
}
