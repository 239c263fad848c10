package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		samples []float64
		p, want float64
	}{
		{nil, 50, 0},
		{[]float64{7}, 99, 7},
		{[]float64{3, 1, 2}, 50, 2},
		{[]float64{4, 1, 3, 2}, 50, 2.5},
		{[]float64{1, 2, 3, 4, 5}, 0, 1},
		{[]float64{1, 2, 3, 4, 5}, 100, 5},
		{[]float64{1, 2, 3, 4, 5}, 25, 2},
		{[]float64{10, 20}, 99, 19.9},
		{[]float64{1, 2, 3}, 150, 3}, // clamped
	}
	for _, tt := range tests {
		if got := Percentile(tt.samples, tt.p); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.samples, tt.p, got, tt.want)
		}
	}
	s := []float64{3, 1, 2}
	Percentile(s, 50)
	if s[0] != 3 {
		t.Errorf("Percentile sorted its input: %v", s)
	}
}

func TestSummarize(t *testing.T) {
	var samples []Sample
	for i := 1; i <= 100; i++ {
		samples = append(samples, Sample{
			Wall:    time.Duration(i) * time.Millisecond,
			CPU:     time.Duration(i%2) * time.Millisecond, // mean 0.5 ms
			MaxRSS:  int64(1000 + i%7),
			Forks:   20 + i%3,
			Threads: i % 2,
		})
	}
	// The traced calls give the execs; forks and threads come from the samples.
	traced := Procs{Traced: 2, ForksMin: 9, ForksMax: 9, ExecsMin: 4, ExecsMax: 5}
	got := Summarize(samples, traced)
	want := Summary{
		Calls:   100,
		WallP50: 50500 * time.Microsecond,
		WallP99: 99010 * time.Microsecond,
		CPU:     500 * time.Microsecond,
		MaxRSS:  1006,
		Procs:   Procs{Traced: 2, ForksMin: 20, ForksMax: 22, ExecsMin: 4, ExecsMax: 5, ThreadsMin: 0, ThreadsMax: 1},
	}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestUsageOf(t *testing.T) {
	exits := []Exit{
		{PID: 12, TGID: 12, PPID: 11, HiwaterRSS: 900},  // grandchild, before its parent
		{PID: 50, TGID: 50, PPID: 1, HiwaterRSS: 99999}, // elsewhere on the machine
		{PID: 11, TGID: 11, PPID: 10, HiwaterRSS: 1500},
		{PID: 14, TGID: 13, PPID: 10, HiwaterRSS: 7000}, // a thread of 13
		{PID: 13, TGID: 13, PPID: 10, HiwaterRSS: 7000},
		{PID: 10, TGID: 10, PPID: 5, HiwaterRSS: 3000}, // the root
		{PID: 51, TGID: 51, PPID: 50, HiwaterRSS: 88888},
	}
	tests := []struct {
		root int
		want TreeUsage
	}{
		{10, TreeUsage{Processes: 4, Threads: 1, MaxRSS: 7000}},
		{11, TreeUsage{Processes: 2, MaxRSS: 1500}},
		{12, TreeUsage{Processes: 1, MaxRSS: 900}},
		{99, TreeUsage{}},
	}
	for _, tt := range tests {
		if got := UsageOf(tt.root, exits); got != tt.want {
			t.Errorf("UsageOf(%d) = %+v, want %+v", tt.root, got, tt.want)
		}
	}
}
