package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Config is what the cases need to find the agents.
type Config struct {
	// AgentDir holds goha's agent symlinks (vip -> the goha binary), as
	// /usr/lib/ocf/resource.d/goha does once installed.
	AgentDir string
	// OCFRoot is where the reference agents live, /usr/lib/ocf.
	OCFRoot string
}

// Cases lists the comparisons make bench runs.
func Cases(cfg Config) []Case {
	return []Case{VIPCase(cfg), GaleraCase(cfg), MySQLCase(cfg), FilesystemCase(cfg, 0), FilesystemCase(cfg, 20), DRBDCase(cfg)}
}

// LoadCases lists the comparisons under client load make bench runs.
func LoadCases(cfg Config) []LoadCase { return []LoadCase{HAProxyReloadCase(cfg)} }

// Monitor meta-data every case passes: a recurring 10 s monitor with a 20 s
// timeout, as the agents' own meta-data advertise.
const (
	MonitorInterval = 10 * time.Second
	MonitorTimeout  = 20 * time.Second
)

// VIPCase compares ocf:goha:vip with ocf:heartbeat:IPaddr2: both hold an
// address on the same veth in a namespace made for the run, at the same time,
// and each monitors its own.
func VIPCase(cfg Config) Case {
	v := Veth{Netns: fmt.Sprintf("goha-bench-%d", os.Getpid()), Link: "bench0", Peer: "bench1", Prefix: "192.0.2.1/24"}
	params := func(ip string) map[string]string {
		return map[string]string{"ip": ip, "cidr_netmask": "24", "nic": v.Link}
	}
	goha := Invocation{
		Agent: "ocf:goha:vip",
		Argv:  []string{filepath.Join(cfg.AgentDir, "vip")},
		Env:   MonitorEnv("bench-vip", MonitorInterval, MonitorTimeout, params("192.0.2.11")),
		Netns: v.Netns,
	}
	ref := Invocation{
		Agent: "ocf:heartbeat:IPaddr2",
		Argv:  []string{filepath.Join(cfg.OCFRoot, "resource.d", "heartbeat", "IPaddr2")},
		Env:   MonitorEnv("bench-ipaddr2", MonitorInterval, MonitorTimeout, params("192.0.2.10")),
		Netns: v.Netns,
	}
	return Case{
		Name: "vip",
		Notes: fmt.Sprintf("a veth pair in a network namespace made for the run, %s on %s; both agents started "+
			"(IPaddr2 with 192.0.2.10, vip with 192.0.2.11, each with nic=%s cidr_netmask=24) and running at once; "+
			"each monitors its own address.", v.Prefix, v.Link, v.Link),
		Goal:      &Goal{MaxRatio: 0.2, MaxForks: 0},
		Goha:      goha,
		Reference: ref,
		Setup:     StartInVeth(v, goha, ref),
	}
}

// StartInVeth returns a Setup that creates v, gives the agents a private
// HA_RSCTMP (their locks and state files stay out of the host's), starts
// each of invs and waits for their background work (such as ARP
// announcements) to end. Its cleanup stops them and deletes the namespace.
func StartInVeth(v Veth, invs ...Invocation) func(ctx context.Context) ([]string, func(), error) {
	return func(ctx context.Context) ([]string, func(), error) {
		tmp, err := os.MkdirTemp("", "goha-bench-rsctmp-")
		if err != nil {
			return nil, nil, fmt.Errorf("create HA_RSCTMP: %w", err)
		}
		env := []string{"HA_RSCTMP=" + tmp}
		if err := v.Create(ctx); err != nil {
			os.RemoveAll(tmp)
			return nil, nil, err
		}
		var r Runner
		var started []Invocation
		cleanup := func() {
			ctx := context.WithoutCancel(ctx)
			for _, inv := range started {
				if _, out, err := r.Call(ctx, inv, "stop"); err != nil || out.Status != 0 {
					fmt.Fprintf(os.Stderr, "bench: stop %s: status %d, %v %s\n", inv.Agent, out.Status, err, out.Stderr)
				}
			}
			r.Close()
			if err := v.Delete(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			}
			os.RemoveAll(tmp)
		}
		for _, inv := range invs {
			// A start gets no interval, as from Pacemaker.
			inv = inv.With(append(env, "OCF_RESKEY_CRM_meta_interval=0")...)
			inv.Expect = 0
			started = append(started, inv)
			if _, err := r.Measure(ctx, inv, "start"); err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("start: %w", err)
			}
		}
		if err := WaitIdle(ctx, v.Netns, 30*time.Second); err != nil {
			cleanup()
			return nil, nil, err
		}
		return env, cleanup, nil
	}
}
