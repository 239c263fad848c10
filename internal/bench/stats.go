package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0..100) of samples, interpolating
// linearly between the two nearest ranks, so that p50 of an even count is
// the mean of the middle pair. It returns 0 for no samples.
func Percentile(samples []float64, p float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	p = math.Max(0, math.Min(100, p))
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// Mean returns the arithmetic mean of samples, 0 for none.
func Mean(samples []float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range samples {
		sum += v
	}
	return sum / float64(len(samples))
}

// Sample is the cost of one agent call, as the kernel accounted it for the
// whole process tree the call started.
type Sample struct {
	Wall    time.Duration // from fork of the agent to its reaping
	CPU     time.Duration // user+sys of the agent and every child it waited for
	MaxRSS  int64         // KiB; the largest resident set of any one process in the tree
	Forks   int           // processes in the tree besides the agent itself
	Threads int           // threads started in the tree
}

// Summary condenses the samples of one agent in one case.
type Summary struct {
	Calls   int
	WallP50 time.Duration
	WallP99 time.Duration
	CPU     time.Duration // mean per call: total CPU over calls is what a node pays
	MaxRSS  int64         // KiB, the largest over all calls
	// Procs: forks and threads over the measured calls, execs from the
	// traced ones.
	Procs Procs
}

// Summarize computes wall percentiles, mean CPU, peak RSS and the range of
// forks and threads over samples; traced gives the execs.
func Summarize(samples []Sample, traced Procs) Summary {
	wall := make([]float64, len(samples))
	cpu := make([]float64, len(samples))
	var rss int64
	procs := traced
	for i, s := range samples {
		wall[i] = float64(s.Wall)
		cpu[i] = float64(s.CPU)
		rss = max(rss, s.MaxRSS)
		if i == 0 {
			procs.ForksMin, procs.ForksMax = s.Forks, s.Forks
			procs.ThreadsMin, procs.ThreadsMax = s.Threads, s.Threads
		}
		procs.ForksMin, procs.ForksMax = min(procs.ForksMin, s.Forks), max(procs.ForksMax, s.Forks)
		procs.ThreadsMin, procs.ThreadsMax = min(procs.ThreadsMin, s.Threads), max(procs.ThreadsMax, s.Threads)
	}
	return Summary{
		Calls:   len(samples),
		WallP50: time.Duration(math.Round(Percentile(wall, 50))),
		WallP99: time.Duration(math.Round(Percentile(wall, 99))),
		CPU:     time.Duration(math.Round(Mean(cpu))),
		MaxRSS:  rss,
		Procs:   procs,
	}
}
