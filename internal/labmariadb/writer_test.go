package labmariadb

import (
	"testing"
	"time"
)

func TestOutage(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name     string
		acks     []int // ms after the start
		end      int
		want     time.Duration
		wantFrom time.Time
	}{
		{"steady writes", []int{20, 40, 60, 80}, 100, 20 * time.Millisecond, t0},
		{"gap between acks", []int{20, 40, 4040, 4060}, 4080, 4 * time.Second, at(40)},
		{"slow first ack", []int{900, 920}, 940, 900 * time.Millisecond, t0},
		{"down at the end", []int{20, 40}, 3040, 3 * time.Second, at(40)},
		{"never acked", nil, 5000, 5 * time.Second, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := outage{last: t0}
			for _, ms := range tt.acks {
				o.ack(at(ms))
			}
			o.mark(at(tt.end))
			if o.longest != tt.want || !o.from.Equal(tt.wantFrom) {
				t.Errorf("outage = %s from %s, want %s from %s", o.longest, o.from.Format("05.000"), tt.want, tt.wantFrom.Format("05.000"))
			}
		})
	}
}
