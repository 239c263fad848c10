package bench

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/testbuild"
)

func TestParseOwnTotal(t *testing.T) {
	for _, tc := range []struct {
		stderr string
		want   time.Duration
		errHas string
	}{
		{"bench-spec: 32 nodes, 1000 primitives, 3000 constraints: spec 1 bytes, CIB 2 bytes\n" +
			"bench-spec: parse 120ms, validate 310ms, generate 95ms, total 525ms\n", 525 * time.Millisecond, ""},
		{"bench-spec: parse 1ms, validate 2ms, generate 3ms, total 1.2s\n", 1200 * time.Millisecond, ""},
		{"bench-spec: parse 1ms, validate 2ms, total 3ms\n", 0, "no \"bench-spec: parse"},
		{"bench-spec: parse 1ms, validate 2ms, generate 3ms, total soon\n", 0, "total \"soon\""},
		{"", 0, "no \"bench-spec: parse"},
	} {
		got, err := ParseOwnTotal(tc.stderr)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ParseOwnTotal(%q) = %v, %v; want an error containing %q", tc.stderr, got, err, tc.errHas)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseOwnTotal(%q) = %v, %v; want %v", tc.stderr, got, err, tc.want)
		}
	}
}

func TestWriteSpecScale(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var ds []time.Duration
		for _, v := range n {
			ds = append(ds, time.Duration(v)*time.Millisecond)
		}
		return ds
	}
	base := SpecScale{Size: SpecScaleSize, SpecBytes: 2 << 20, CIBBytes: 5 << 20,
		Runs: ms(900, 700, 800), Own: ms(600, 500, 550), Verify: ms(4000, 3000, 3500), Verdict: "valid"}
	slow := base
	slow.Runs = ms(2500, 2100, 2300)
	unverified := base
	unverified.Verify, unverified.Verdict = nil, "not run: crm_verify is not installed"
	for _, tc := range []struct {
		name string
		s    SpecScale
		want []string
	}{
		{"met", base, []string{"## CIB generation at scale", "| 32 nodes, 1000 primitives, 3000 constraints (spec 2.0 MiB, CIB 5.0 MiB) | 800 ms | 550 ms | met (< 2.00 s) | 3.50 s | valid |", "Medians of 3 runs"}},
		{"missed", slow, []string{"| 2.30 s |", "**missed** (2.30 s ≥ 2.00 s)"}},
		{"no crm_verify", unverified, []string{"| — | not run: crm_verify is not installed |"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteSpecScale(&b, tc.s); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("section lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestVerifyVerdict(t *testing.T) {
	exit := func(code int) error { return fmt.Errorf("exit status %d", code) }
	for _, tc := range []struct {
		out  string
		err  error
		want string
	}{
		{"", nil, "valid"},
		{"crm_verify: Warnings found during check: config may not be valid\n", exit(78), "valid, with warnings"},
		{"error: Resource x is bad\ncrm_verify: Errors found during check: config not valid\n", exit(78), "rejected"},
		{"Killed", exit(137), "failed"},
	} {
		if got := VerifyVerdict(tc.out, tc.err); !strings.HasPrefix(got, tc.want) {
			t.Errorf("VerifyVerdict(%q) = %q, want it to begin %q", tc.out, got, tc.want)
		}
	}
}

// TestMeasureSpecScale runs the measurement for real, at a small size,
// with goha built from this tree.
func TestMeasureSpecScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds goha: not in -short mode")
	}
	if _, err := exec.LookPath("crm_verify"); err != nil {
		t.Skip("crm_verify is not installed (apt-get install pacemaker-cli-utils)")
	}
	bin, err := testbuild.Main(t.TempDir(), "goha", "./cmd/goha")
	if err != nil {
		t.Fatal(err)
	}
	size := SpecSize{Nodes: 3, Primitives: 20, Constraints: 30}
	s, err := MeasureSpecScale(context.Background(), bin, size, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 2 || len(s.Own) != 2 || len(s.Verify) != 2 {
		t.Fatalf("runs %v, own %v, verify %v: want 2 of each", s.Runs, s.Own, s.Verify)
	}
	for i := range s.Runs {
		if s.Own[i] <= 0 || s.Own[i] > s.Runs[i] {
			t.Errorf("run %d: goha's own total %v should be positive and within the process's %v", i, s.Own[i], s.Runs[i])
		}
	}
	if !strings.HasPrefix(s.Verdict, "valid") {
		t.Errorf("crm_verify on the generated CIB: %s", s.Verdict)
	}
	if s.SpecBytes == 0 || s.CIBBytes <= s.SpecBytes {
		t.Errorf("spec %d bytes, CIB %d bytes: want both written, the CIB the larger", s.SpecBytes, s.CIBBytes)
	}
}
