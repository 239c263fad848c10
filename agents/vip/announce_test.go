package vip

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBurstSize(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		count          int
		interval, left time.Duration
		want           int
	}{
		{5, 200 * ms, 19 * time.Second, 5},
		{5, 200 * ms, 500 * ms, 3}, // at 0, 200, 400
		{5, 200 * ms, 0, 1},        // the first is always sent
		{5, 200 * ms, -time.Second, 1},
		{1, time.Hour, 0, 1},
		{0, 200 * ms, time.Second, 0},
		{30, time.Second, 19 * time.Second, 20},
		{3, 0, 0, 3},
	}
	for _, tt := range tests {
		if got := burstSize(tt.count, tt.interval, tt.left); got != tt.want {
			t.Errorf("burstSize(%d, %v, %v) = %d, want %d", tt.count, tt.interval, tt.left, got, tt.want)
		}
	}
}

func TestBurst(t *testing.T) {
	var at []time.Duration
	begin := time.Now()
	send := func() error { at = append(at, time.Since(begin)); return nil }
	n, err := burst(context.Background(), 4, 20*time.Millisecond, send)
	if err != nil || n != 4 || len(at) != 4 {
		t.Fatalf("burst = %d, %v; sent %d", n, err, len(at))
	}
	if at[0] > 15*time.Millisecond || at[3] < 60*time.Millisecond {
		t.Errorf("send times %v: want the first at once and the last after 3 intervals", at)
	}

	// A deadline cuts the burst short instead of being overrun.
	ctx, cancel := context.WithTimeout(context.Background(), announceMargin+250*time.Millisecond)
	defer cancel()
	at = nil
	n, err = burst(ctx, 10, 100*time.Millisecond, send)
	if err != nil || n != 3 || len(at) != 3 {
		t.Errorf("burst with 250ms to spare = %d, %v (sent %d), want 3 sent (at 0, 100, 200ms)", n, err, len(at))
	}

	boom := errors.New("boom")
	n, err = burst(context.Background(), 3, time.Millisecond, func() error { return boom })
	if !errors.Is(err, boom) || n != 0 {
		t.Errorf("burst with a failing send = %d, %v", n, err)
	}
}
