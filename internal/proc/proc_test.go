package proc

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestStatState(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want byte
		ok   bool
	}{
		{"1234 (garbd) S 1 1234 1234 0 -1", 'S', true},
		{"1234 (odd) name)) Z 1 1234", 'Z', true},
		{"1234 (a b) R 1", 'R', true},
		{"1234 garbd S", 0, false},
		{"1234 (garbd)", 0, false},
	} {
		got, err := StatState([]byte(tc.stat))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("StatState(%q) = %q, %v; want %q ok=%v", tc.stat, got, err, tc.want, tc.ok)
		}
	}
}

func TestTerminate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cases := []struct {
		name string
		argv []string // a process to end
		kill time.Duration
	}{
		{"exits on SIGTERM", []string{"sleep", "60"}, 5 * time.Second},
		// A shell that ignores SIGTERM is ended only by the SIGKILL.
		{"ignores SIGTERM", []string{"sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"}, 300 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(c.argv[0], c.argv[1:]...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			t.Cleanup(func() { cmd.Process.Kill(); <-done })
			time.Sleep(100 * time.Millisecond) // let the shell set its trap
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Wait reaps the child, so Alive sees it gone once it exits.
			if err := Terminate(ctx, []int{cmd.Process.Pid}, time.Now().Add(c.kill)); err != nil {
				t.Fatalf("Terminate: %v", err)
			}
			select {
			case <-done:
			case <-time.After(time.Second):
				t.Fatal("process still running after Terminate returned")
			}
		})
	}
}

func TestTerminateReportsSurvivor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	// A process that ignores SIGTERM and a deadline before the kill time:
	// the process survives and Terminate says so.
	cmd := exec.Command("sh", "-c", "trap '' TERM; while :; do sleep 0.05; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(100 * time.Millisecond) // let the shell set its trap
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := Terminate(ctx, []int{cmd.Process.Pid}, time.Now().Add(time.Hour)); err == nil {
		t.Fatal("Terminate succeeded while the process still ran")
	}
}
