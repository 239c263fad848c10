package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goha-ha/goha/internal/lab"
)

// demoCommand is `goha demo`: a lab cluster running a seed stack (File
// Fabric's replicated database behind a VIP by default, or a VIP alone),
// the active node crashed, and the failover shown as a client sees it.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "bring up a 3-node lab with a stack on it, crash the active node and show the failover",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Value: "demo", Usage: "lab `NAME` (an existing lab of that name is taken down first)"},
			&cli.StringFlag{Name: "stack", Value: "filefabric", Usage: "`STACK` to run: filefabric (two MariaDB servers, one writer, " +
				"a DB VIP, a client committing rows through it) or vip (a VIP alone)"},
		},
		Action: func(c *cli.Context) error {
			ctx, cancel := labCtx(c)
			defer cancel()
			say := progress(c.App.Writer)
			if err := demoFresh(ctx, c.String("name"), say); err != nil {
				return err
			}
			switch c.String("stack") {
			case "filefabric":
				return runFileFabricDemo(ctx, c.App.Writer, c.String("name"))
			case "vip":
				return runDemo(ctx, c.App.Writer, c.String("name"))
			}
			return fmt.Errorf("--stack %q: want filefabric or vip", c.String("stack"))
		},
	}
}

// demoFresh takes down an earlier lab called name.
func demoFresh(ctx context.Context, name string, say func(string, ...any)) error {
	names, err := lab.List()
	if err != nil {
		return err
	}
	if !slices.Contains(names, name) {
		return nil
	}
	say("== taking down the previous %s lab", name)
	old, err := lab.Load(name)
	if err != nil {
		return err
	}
	if err := old.Down(ctx); err != nil {
		return fmt.Errorf("take down lab %s: %w", name, err)
	}
	return nil
}

// runDemo plays the VIP demo on a lab named name and leaves the lab up.
func runDemo(ctx context.Context, w io.Writer, name string) error {
	say := progress(w)
	say("== bringing up lab %s: 3 nodes, fencing by fence_goha_lab", name)
	l, err := lab.Up(ctx, lab.Config{Name: name, Nodes: 3, OCFAgents: []string{"vip"}, Logf: say})
	if err != nil {
		return err
	}
	vip, err := l.VIP(0)
	if err != nil {
		return err
	}
	say("== creating the VIP %s (ocf:goha:vip)", vip)
	argv := []string{"pcs", "resource", "create", "vip", "ocf:goha:vip",
		"ip=" + vip.String(), "cidr_netmask=24", "nic=eth0", "op", "monitor", "interval=2s"}
	say("$ %s", strings.Join(argv, " "))
	if out, err := l.Exec(ctx, "n1", argv...); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	holder, err := demoHolder(ctx, l, "", say)
	if err != nil {
		return err
	}
	macs := map[string]string{} // MAC -> node
	for _, n := range l.Nodes() {
		out, err := l.Exec(ctx, n, "ip", "-o", "link", "show", "dev", "eth0")
		if err != nil {
			return err
		}
		if mac := afterField(string(out), "link/ether"); mac != "" {
			macs[mac] = n
		}
	}
	say("VIP %s is on %s", vip, holder)
	if err := demoCrmMon(ctx, w, l, holder); err != nil {
		return err
	}

	if _, err := l.Client(ctx, "c1"); err != nil {
		return err
	}
	mac, err := demoARP(ctx, l, vip)
	if err != nil {
		return err
	}
	say("client c1 resolves %s to %s (%s)", vip, mac, macs[mac])

	say("== crashing %s (power cut: every process killed, link down)", holder)
	begin := time.Now()
	if err := l.Crash(ctx, holder); err != nil {
		return err
	}
	lastLog := begin
	for {
		got, err := demoARP(ctx, l, vip)
		if err == nil && got != mac {
			say("client c1 reaches %s again after %s: now answered by %s (%s)",
				vip, time.Since(begin).Round(10*time.Millisecond), got, macs[got])
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(begin) > 2*time.Minute {
			return fmt.Errorf("no node answers for %s 2 minutes after the crash of %s", vip, holder)
		}
		if time.Since(lastLog) >= 2*time.Second {
			say("waiting for %s to answer… %s since the crash", vip, time.Since(begin).Round(time.Second))
			lastLog = time.Now()
		}
	}
	now, err := demoHolder(ctx, l, holder, say)
	if err != nil {
		return err
	}
	say("Pacemaker fenced %s and started the VIP on %s", holder, now)
	if err := demoCrmMon(ctx, w, l, now); err != nil {
		return err
	}
	say("%s reboots by itself (the fence agent powers it on) and rejoins in about half a minute.", holder)
	demoLookAround(say, name, "c1 -- arping -c3 -I eth0 "+vip.String())
	return nil
}

// demoLookAround tells how to look at the lab the demo leaves up.
func demoLookAround(say func(string, ...any), name, example string) {
	say("")
	say("The lab stays up. Look around:")
	say("  bin/goha lab status --name %s", name)
	say("  bin/goha lab exec --name %s n1 -- crm_mon -1", name)
	say("  bin/goha lab exec --name %s %s", name, example)
	say("Take it down:")
	say("  bin/goha lab down --name %s", name)
}

// demoHolder waits until the VIP is started on a node other than not and
// returns that node.
func demoHolder(ctx context.Context, l *lab.Lab, not string, say func(string, ...any)) (string, error) {
	begin := time.Now()
	lastLog := begin
	for {
		for _, n := range l.Nodes() {
			if n == not {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			v, err := l.View(cctx, n)
			cancel()
			if err != nil {
				continue
			}
			if w := v.Where["vip"]; v.Roles["vip"] == "Started" && w != "" && w != not {
				return w, nil
			}
			break
		}
		if time.Since(begin) > 2*time.Minute {
			return "", fmt.Errorf("VIP not started within 2 minutes")
		}
		if time.Since(lastLog) >= 2*time.Second {
			say("waiting for the VIP to start… %s", time.Since(begin).Round(time.Second))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// demoCrmMon prints crm_mon -1 as node sees it.
func demoCrmMon(ctx context.Context, w io.Writer, l *lab.Lab, node string) error {
	out, err := l.Exec(ctx, node, "crm_mon", "-1")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "$ crm_mon -1    (on %s)\n%s\n", node, out)
	return nil
}

// demoARP asks for vip's MAC from client c1 with one ARP request.
func demoARP(ctx context.Context, l *lab.Lab, vip netip.Addr) (string, error) {
	out, err := l.Exec(ctx, "c1", "arping", "-c1", "-w1", "-I", "eth0", vip.String())
	for _, line := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(line, "reply from"); ok {
			if _, m, ok := strings.Cut(rest, "["); ok {
				if mac, _, ok := strings.Cut(m, "]"); ok {
					return strings.ToLower(mac), nil
				}
			}
		}
	}
	if err == nil {
		err = fmt.Errorf("no reply in %q", out)
	}
	return "", err
}

// afterField is the whitespace-separated field after key in s, lower case.
func afterField(s, key string) string {
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == key {
			return strings.ToLower(f[i+1])
		}
	}
	return ""
}
