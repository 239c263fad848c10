// Package nsnet opens sockets inside a named network namespace (one pinned
// under /run/netns, as `ip netns` does) from a test process that stays in
// its own: a client in a lab's client namespace, or a backend server there.
//
// A socket belongs to the namespace it was created in for its whole life,
// so only its creation needs the namespace: a goroutine locks itself to a
// thread, enters the namespace, makes the socket and ends without unlocking,
// so the runtime discards the thread and no other code ever runs there.
package nsnet

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// inNetNS runs open on a thread that entered the network namespace ns.
func inNetNS[T any](ns string, open func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine.
		runtime.LockOSThread()
		var zero T
		h, err := netns.GetFromName(ns)
		if err != nil {
			done <- result{zero, fmt.Errorf("open netns %s: %w", ns, err)}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			done <- result{zero, fmt.Errorf("enter netns %s: %w", ns, err)}
			return
		}
		v, err := open()
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

// Dial connects to addr from inside the network namespace ns, giving up
// after timeout (0: only ctx bounds it).
func Dial(ctx context.Context, ns, network, addr string, timeout time.Duration) (net.Conn, error) {
	return inNetNS(ns, func() (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		return d.DialContext(ctx, network, addr)
	})
}

// Dialer is Dial for ns and timeout in the shape http.Transport and SQL
// drivers take.
func Dialer(ns string, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return Dial(ctx, ns, network, addr, timeout)
	}
}

// Listen listens on addr inside the network namespace ns.
func Listen(ns, network, addr string) (net.Listener, error) {
	return inNetNS(ns, func() (net.Listener, error) { return net.Listen(network, addr) })
}
