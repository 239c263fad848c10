package vip

import (
	"context"
	"time"
)

// announceMargin is kept free before an operation's deadline: a burst of
// announcements never makes start or monitor time out.
const announceMargin = time.Second

// burstSize is how many of count announcements, the first at once and the
// others interval apart, fit in left. The first is always sent.
func burstSize(count int, interval, left time.Duration) int {
	if count <= 1 {
		return count
	}
	if interval <= 0 {
		return count
	}
	fit := 1
	if left > 0 {
		fit += int(left / interval)
	}
	return min(fit, count)
}

// burst sends up to count announcements interval apart with send, within
// ctx's deadline less announceMargin. It returns how many it sent and the
// first error of send, after which it stops.
//
// Start and monitor send their announcements in-process rather than in a
// detached helper: the default burst (5 every 200 ms) costs 0.8 s, no
// process outlives the operation, and stop has nothing to kill. What does
// not fit before the deadline is skipped, never waited for.
func burst(ctx context.Context, count int, interval time.Duration, send func() error) (int, error) {
	n := count
	if d, ok := ctx.Deadline(); ok {
		n = burstSize(count, interval, time.Until(d)-announceMargin)
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return i, ctx.Err()
			case <-time.After(interval):
			}
		}
		if err := send(); err != nil {
			return i, err
		}
	}
	return n, nil
}
