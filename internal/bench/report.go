package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Goal is what a case is expected to show, e.g. the issue's "monitor costs at
// most one fifth of the reference's CPU and wall time, with no fork".
type Goal struct {
	MaxRatio float64 // of CPU/call and of wall p50; 0 means no bound
	MaxForks int     // per goha call; negative means no bound
	// CPUOnly bounds the CPU ratio alone, for a goal stated in CPU time
	// (wall time then also holds the service's answer, not the agent's).
	CPUOnly bool
}

// Result is one case measured: both agents' summaries.
type Result struct {
	Case      string
	Notes     string // how the target was set up, one line
	Goha      AgentResult
	Reference AgentResult
	Goal      *Goal
}

// AgentResult is one agent's summary in a case.
type AgentResult struct {
	Agent string // e.g. "ocf:goha:vip"
	Summary
}

// Report is everything BENCHMARKS.md shows.
type Report struct {
	Date      time.Time
	Machine   string
	Calls     int // measured calls per agent and case
	Warmup    int // calls per agent before measuring, not counted
	Traced    int // extra calls per agent under strace, for forks and execs
	Results   []Result
	Loads     []LoadResult // comparisons under client load
	Spec      *SpecScale   // goha cib bench-spec at scale, with crm_verify
	Scenarios []Scenario
	// ScenarioSource says where scenario results were looked for, for the
	// line shown when there are none.
	ScenarioSource string
}

// Ratio is goha / reference; ok is false when the reference is zero.
func Ratio(goha, reference float64) (r float64, ok bool) {
	if reference == 0 {
		return 0, false
	}
	return goha / reference, true
}

// FormatRatio prints a ratio with two significant digits or so, "—" when
// the reference is zero.
func FormatRatio(goha, reference float64) string {
	r, ok := Ratio(goha, reference)
	switch {
	case !ok:
		return "—"
	case r == 0:
		return "0×"
	case r < 0.1:
		return fmt.Sprintf("%.3f×", r)
	case r < 10:
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.0f×", r)
}

// FormatDuration prints d with a unit that keeps two or three significant digits.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// FormatKiB prints a size given in KiB (the unit of ru_maxrss) in MiB.
func FormatKiB(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

// FormatRange prints "n" or "min–max".
func FormatRange(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

// mid is the middle of a range, the value ratios of counts are taken of.
func mid(lo, hi int) float64 { return float64(lo+hi) / 2 }

// Check tells whether res meets its goal, and if not, why.
func (g Goal) Check(res Result) (bool, string) {
	var missed []string
	if g.MaxRatio > 0 {
		if r, ok := Ratio(float64(res.Goha.CPU), float64(res.Reference.CPU)); !ok || r > g.MaxRatio {
			missed = append(missed, fmt.Sprintf("CPU %s > %.2f×", FormatRatio(float64(res.Goha.CPU), float64(res.Reference.CPU)), g.MaxRatio))
		}
		if r, ok := Ratio(float64(res.Goha.WallP50), float64(res.Reference.WallP50)); !g.CPUOnly && (!ok || r > g.MaxRatio) {
			missed = append(missed, fmt.Sprintf("wall %s > %.2f×", FormatRatio(float64(res.Goha.WallP50), float64(res.Reference.WallP50)), g.MaxRatio))
		}
	}
	if g.MaxForks >= 0 && res.Goha.Procs.ForksMax > g.MaxForks {
		missed = append(missed, fmt.Sprintf("%d forks > %d", res.Goha.Procs.ForksMax, g.MaxForks))
	}
	if len(missed) > 0 {
		return false, strings.Join(missed, ", ")
	}
	return true, ""
}

// String describes the goal in the table's words.
func (g Goal) String() string {
	var parts []string
	switch {
	case g.MaxRatio > 0 && g.CPUOnly:
		parts = append(parts, fmt.Sprintf("CPU ≤ %.2f×", g.MaxRatio))
	case g.MaxRatio > 0:
		parts = append(parts, fmt.Sprintf("CPU and wall p50 ≤ %.2f×", g.MaxRatio))
	}
	if g.MaxForks >= 0 {
		parts = append(parts, fmt.Sprintf("≤ %d forks", g.MaxForks))
	}
	return strings.Join(parts, ", ")
}

// Markdown writes the report as BENCHMARKS.md.
func (r Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `make bench` (internal/bench); do not edit by hand.\n\n")
	fmt.Fprintf(&b, "- Date: %s\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", r.Machine)
	fmt.Fprintf(&b, "- Calls: %d `monitor` calls per agent, the two agents of a case interleaved (goha, reference, goha, ...), after %d warm-up calls each that are not counted; forks and execs from %d further calls per agent under strace.\n\n", r.Calls, r.Warmup, r.Traced)
	b.WriteString("The machine is shared and noisy: compare the ratios, not the absolute times.\n\n")

	b.WriteString("## Ratios (goha / reference)\n\n")
	b.WriteString("| case | wall p50 | wall p99 | CPU/call | forks/call | peak RSS | goal |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|\n")
	for _, res := range r.Results {
		g, ref := res.Goha, res.Reference
		goal := "—"
		if res.Goal != nil {
			if ok, why := res.Goal.Check(res); ok {
				goal = "met (" + res.Goal.String() + ")"
			} else {
				goal = "**missed** (" + why + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", res.Case,
			FormatRatio(float64(g.WallP50), float64(ref.WallP50)),
			FormatRatio(float64(g.WallP99), float64(ref.WallP99)),
			FormatRatio(float64(g.CPU), float64(ref.CPU)),
			FormatRatio(mid(g.Procs.ForksMin, g.Procs.ForksMax), mid(ref.Procs.ForksMin, ref.Procs.ForksMax)),
			FormatRatio(float64(g.MaxRSS), float64(ref.MaxRSS)),
			goal)
	}

	b.WriteString("\n## Monitor cost per call\n\n")
	b.WriteString("| case | agent | calls | wall p50 | wall p99 | CPU/call | forks/call | execs/call | peak RSS |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, res := range r.Results {
		for _, a := range []AgentResult{res.Goha, res.Reference} {
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", res.Case, a.Agent, a.Calls,
				FormatDuration(a.WallP50), FormatDuration(a.WallP99), FormatDuration(a.CPU),
				FormatRange(a.Procs.ForksMin, a.Procs.ForksMax), FormatRange(a.Procs.ExecsMin, a.Procs.ExecsMax),
				FormatKiB(a.MaxRSS))
		}
	}
	var notes []string
	for _, res := range r.Results {
		if res.Notes != "" {
			notes = append(notes, fmt.Sprintf("- %s: %s\n", res.Case, res.Notes))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, ""))
	}

	if len(r.Loads) > 0 {
		b.WriteString("\n")
		if err := WriteLoadResults(&b, r.Loads); err != nil {
			return err
		}
	}

	if r.Spec != nil {
		b.WriteString("\n")
		if err := WriteSpecScale(&b, *r.Spec); err != nil {
			return err
		}
	}

	b.WriteString("\n## Lab scenarios\n\n")
	if len(r.Scenarios) == 0 {
		fmt.Fprintf(&b, "No scenario results yet (none in %s).\n", r.ScenarioSource)
	} else {
		b.WriteString("| scenario | measured | goha | reference | ratio | notes |\n")
		b.WriteString("|---|---|---:|---:|---:|---|\n")
		for _, s := range r.Scenarios {
			ref, ratio := "—", "—"
			if s.Reference != nil {
				ref = s.Reference.describe()
			}
			if s.Reference != nil && len(s.Reference.Seconds) > 0 && len(s.Goha.Seconds) > 0 {
				ratio = FormatRatio(Percentile(s.Goha.Seconds, 50), Percentile(s.Reference.Seconds, 50))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", s.Name, s.Metric, s.Goha.describe(), ref, ratio, s.Notes)
		}
	}

	b.WriteString("\n## How it is measured\n\n")
	b.WriteString(methodology)
	_, err := io.WriteString(w, b.String())
	return err
}

// describe prints a side's median, count and spread, and the runs that
// failed: "9.7 s (ocf:goha:vip, n=3, 9.1–10.2)", "... ; 4 of 10 never did".
func (s ScenarioSide) describe() string {
	var d string
	switch len(s.Seconds) {
	case 0:
		d = fmt.Sprintf("— (%s)", s.Agent)
	case 1:
		d = fmt.Sprintf("%s (%s, n=1)", seconds(s.Seconds[0]), s.Agent)
	default:
		d = fmt.Sprintf("%s (%s, n=%d, %s–%s)", seconds(Percentile(s.Seconds, 50)), s.Agent, len(s.Seconds),
			seconds(Percentile(s.Seconds, 0)), seconds(Percentile(s.Seconds, 100)))
	}
	if s.Failed > 0 {
		d += fmt.Sprintf("; %d of %d never did", s.Failed, s.Failed+len(s.Seconds))
	}
	return d
}

func seconds(v float64) string {
	return FormatDuration(time.Duration(math.Round(v * float64(time.Second))))
}

const methodology = `- Each call is a fork and exec of the agent by the harness, with the
  environment Pacemaker gives a recurring monitor (OCF_ROOT,
  OCF_RESOURCE_INSTANCE, OCF_RESKEY_*, OCF_RESKEY_CRM_meta_interval=10000,
  OCF_RESKEY_CRM_meta_timeout=20000, PATH, and a private HA_RSCTMP) and
  nothing else; it runs in the
  case's network namespace (the harness thread enters it before forking, so
  no helper process is added). A call must exit with the expected status or
  the run fails.
- Wall time: from fork to reaping, monotonic clock.
- CPU/call: mean of user+sys from the rusage wait4 returns for the agent,
  which includes every descendant the agent waited for (the kernel folds a
  reaped child's times into its parent's child times); the harness is the
  child subreaper, so processes the agent left behind are reaped by it and
  their rusage added to the call.
- Peak RSS and forks, on every measured call: the kernel's taskstats
  exit record of each task (generic netlink, all CPUs), joined into the
  agent's tree by parent; peak RSS is the largest hiwater_rss of any one
  process in the tree (not a sum), forks the processes of the tree besides
  the agent. (ru_maxrss is not used: a child keeps the peak of the memory it
  was forked with, here the harness's, until it execs.)
- Execs: the same call run under ` + "`strace -f -qq -e trace=process`" + `,
  counting successful execve calls besides the agent's own; strace's count
  of fork, vfork and clone/clone3 without CLONE_THREAD is checked against
  the taskstats count. Tracing slows a call, so these calls are not timed.
- Ratios are goha / reference of the figures above; a fork ratio uses the
  middle of the range seen.
- Lab scenarios come from JSON files that the e2e tests write (see
  internal/bench/scenario.go for the format).
`
