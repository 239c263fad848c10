package nsnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestListenDialInNamespace makes a namespace with only loopback up, serves
// in it, and checks that a dial from inside reaches the server while the
// same address from the test's own namespace does not.
func TestListenDialInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ns := fmt.Sprintf("nsnet-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v\n%s", err, out)
	}
	ln, err := Listen(ns, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "inside")
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dialer(ns, time.Second)(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial inside %s: %v", ns, err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(b) != "inside" {
		t.Fatalf("read %q, %v; want %q", b, err, "inside")
	}
	if c, err := Dial(ctx, "", "tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("an empty namespace name must not dial from the test's own namespace")
	}
	var here net.Dialer
	if c, err := here.DialContext(ctx, "tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatalf("%s reached from outside the namespace", ln.Addr())
	}
}
