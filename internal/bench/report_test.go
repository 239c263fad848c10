package bench

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestFormatRatio(t *testing.T) {
	tests := []struct {
		goha, ref float64
		want      string
	}{
		{1, 0, "—"},
		{0, 0, "—"},
		{0, 22, "0×"},
		{1, 40, "0.025×"},
		{1, 5, "0.20×"},
		{3, 2, "1.50×"},
		{250, 2, "125×"},
	}
	for _, tt := range tests {
		if got := FormatRatio(tt.goha, tt.ref); got != tt.want {
			t.Errorf("FormatRatio(%v, %v) = %q, want %q", tt.goha, tt.ref, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 µs"},
		{812 * time.Microsecond, "812 µs"},
		{2345 * time.Microsecond, "2.35 ms"},
		{31250 * time.Microsecond, "31.2 ms"},
		{312 * time.Millisecond, "312 ms"},
		{9700 * time.Millisecond, "9.70 s"},
		{12 * time.Second, "12.0 s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestFormatSizesAndRanges(t *testing.T) {
	if got := FormatKiB(5324); got != "5.2 MiB" {
		t.Errorf("FormatKiB = %q", got)
	}
	if got := FormatRange(3, 3); got != "3" {
		t.Errorf("FormatRange(3,3) = %q", got)
	}
	if got := FormatRange(21, 23); got != "21–23" {
		t.Errorf("FormatRange(21,23) = %q", got)
	}
}

func result(gohaCPU time.Duration, gohaForks int) Result {
	return Result{
		Case: "vip",
		Goha: AgentResult{Agent: "ocf:goha:vip", Summary: Summary{
			Calls: 200, WallP50: 3 * time.Millisecond, WallP99: 6 * time.Millisecond,
			CPU: gohaCPU, MaxRSS: 8192, Procs: Procs{Traced: 5, ForksMin: gohaForks, ForksMax: gohaForks},
		}},
		Reference: AgentResult{Agent: "ocf:heartbeat:IPaddr2", Summary: Summary{
			Calls: 200, WallP50: 30 * time.Millisecond, WallP99: 60 * time.Millisecond,
			CPU: 40 * time.Millisecond, MaxRSS: 4096, Procs: Procs{Traced: 5, ForksMin: 21, ForksMax: 23, ExecsMin: 20, ExecsMax: 20},
		}},
		Goal: &Goal{MaxRatio: 0.2, MaxForks: 0},
	}
}

func TestGoalCheck(t *testing.T) {
	tests := []struct {
		name string
		res  Result
		ok   bool
		why  string
	}{
		{"met", result(4*time.Millisecond, 0), true, ""},
		{"cpu too high", result(10*time.Millisecond, 0), false, "CPU 0.25× > 0.20×"},
		{"forks", result(4*time.Millisecond, 2), false, "2 forks > 0"},
		{"both", result(10*time.Millisecond, 1), false, "CPU 0.25× > 0.20×, 1 forks > 0"},
	}
	for _, tt := range tests {
		ok, why := tt.res.Goal.Check(tt.res)
		if ok != tt.ok || why != tt.why {
			t.Errorf("%s: Check = %v %q, want %v %q", tt.name, ok, why, tt.ok, tt.why)
		}
	}
	// A zero reference cannot be divided by: the ratio bound is missed.
	res := result(time.Millisecond, 0)
	res.Reference.WallP50 = 0
	if ok, why := res.Goal.Check(res); ok || !strings.Contains(why, "wall —") {
		t.Errorf("zero reference wall: %v %q", ok, why)
	}
	if got := (Goal{MaxRatio: 0.1, MaxForks: 0, CPUOnly: true}).String(); got != "CPU ≤ 0.10×, ≤ 0 forks" {
		t.Errorf("CPU-only goal reads %q", got)
	}
	if got := (Goal{MaxRatio: 0.2, MaxForks: -1}).String(); got != "CPU and wall p50 ≤ 0.20×" {
		t.Errorf("String = %q", got)
	}
}

func testReport() Report {
	missed := result(10*time.Millisecond, 1)
	missed.Case = "other"
	missed.Notes = "a second case"
	return Report{
		Date:    time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC),
		Machine: "Linux 6.1 x86_64, Test CPU, 2 CPUs, 24.0 GiB RAM; go1.26; resource-agents 4.12.0-2; goha 0.1.0",
		Calls:   200, Warmup: 10, Traced: 5,
		Results: []Result{result(4*time.Millisecond, 0), missed},
		Scenarios: []Scenario{
			{Name: "vip: power cut", Metric: "client reaches the VIP", Goha: ScenarioSide{Agent: "ocf:goha:vip", Seconds: []float64{3, 4, 3.5}},
				Reference: &ScenarioSide{Agent: "ocf:heartbeat:IPaddr2", Seconds: []float64{9.7}}, Notes: "3 nodes"},
			{Name: "vip: graceful stop", Metric: "address moved", Goha: ScenarioSide{Agent: "ocf:goha:vip", Seconds: []float64{0.5}}},
		},
		ScenarioSource: "e2e/results",
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, line := range []string{
		"- Date: 2026-03-04 05:06 UTC",
		"| vip | 0.10× | 0.10× | 0.10× | 0× | 2.00× | met (CPU and wall p50 ≤ 0.20×, ≤ 0 forks) |",
		"| other | 0.10× | 0.10× | 0.25× | 0.045× | 2.00× | **missed** (CPU 0.25× > 0.20×, 1 forks > 0) |",
		"| vip | ocf:goha:vip | 200 | 3.00 ms | 6.00 ms | 4.00 ms | 0 | 0 | 8.0 MiB |",
		"| vip | ocf:heartbeat:IPaddr2 | 200 | 30.0 ms | 60.0 ms | 40.0 ms | 21–23 | 20 | 4.0 MiB |",
		"- other: a second case",
		"| vip: power cut | client reaches the VIP | 3.50 s (ocf:goha:vip, n=3, 3.00 s–4.00 s) | 9.70 s (ocf:heartbeat:IPaddr2, n=1) | 0.36× | 3 nodes |",
		"| vip: graceful stop | address moved | 500 ms (ocf:goha:vip, n=1) | — | — |  |",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("report lacks line %q", line)
		}
	}
	const golden = "testdata/report.golden.md"
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s (go test -update to accept):\n%s", golden, got)
	}

	b.Reset()
	empty := Report{ScenarioSource: "some/dir"}
	if err := empty.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No scenario results yet (none in some/dir).") {
		t.Errorf("empty report:\n%s", b.String())
	}
}
