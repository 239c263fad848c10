package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goha-ha/goha/internal/lab"
)

// labCommand is `goha lab`: real multi-node Pacemaker/Corosync clusters
// in namespaces on this machine, with fault injection.
func labCommand() *cli.Command {
	return &cli.Command{
		Name:  "lab",
		Usage: "run a multi-node Pacemaker/Corosync cluster in namespaces on this machine",
		Subcommands: []*cli.Command{
			labUpCommand(),
			labDownCommand(),
			labListCommand(),
			labStatusCommand(),
			labExecCommand(),
			labClientCommand(),
			labWaitCommand(),
			labNodeCommand("crash", "cut the power of nodes: kill all their processes at once, link down",
				func(ctx context.Context, l *lab.Lab, n string) error { return l.Crash(ctx, n) }),
			labNodeCommand("stop", "stop the cluster stack of nodes cleanly (the nodes stay up)",
				func(ctx context.Context, l *lab.Lab, n string) error { return l.Stop(ctx, n) }),
			labNodeCommand("start", "boot crashed nodes, or start the stack of stopped ones",
				func(ctx context.Context, l *lab.Lab, n string) error { return l.Start(ctx, n) }),
			labNodeCommand("freeze", "freeze every process of nodes (a hung machine)",
				func(ctx context.Context, l *lab.Lab, n string) error { return l.Freeze(ctx, n) }),
			labNodeCommand("thaw", "resume frozen nodes",
				func(ctx context.Context, l *lab.Lab, n string) error { return l.Thaw(ctx, n) }),
			labKillCommand(),
			labPartitionCommand(),
			labHealCommand(),
			labInitCommand(),
			labControllerCommand(),
		},
	}
}

func labNameFlag() cli.Flag {
	return &cli.StringFlag{Name: "name", Usage: "lab `NAME` (default: the only lab)"}
}

// labCtx is a context cancelled by SIGINT or SIGTERM.
func labCtx(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

func loadLab(c *cli.Context) (*lab.Lab, error) {
	l, err := lab.Load(c.String("name"))
	if err != nil {
		return nil, err
	}
	l.SetLogf(progress(c.App.Writer))
	return l, nil
}

func progress(w io.Writer) func(string, ...any) {
	return func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
}

func labUpCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "start a lab of N nodes (n1..nN) and wait until all are online with quorum",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Value: "lab", Usage: "lab `NAME`"},
			&cli.IntFlag{Name: "nodes", Value: 3, Usage: fmt.Sprintf("number of nodes (1..%d)", lab.MaxNodes)},
			&cli.BoolFlag{Name: "no-fencing", Usage: "stonith-enabled=false, no fence device"},
			&cli.StringFlag{Name: "binary", Usage: "goha binary the nodes run (default: this one)"},
			&cli.StringSliceFlag{Name: "ocf-agent", Usage: "expose ocf:goha:`AGENT` in the nodes (repeatable)"},
			&cli.DurationFlag{Name: "timeout", Value: 3 * time.Minute, Usage: "how long to wait for quorum"},
			&cli.BoolFlag{Name: "keep-on-error", Usage: "leave a failed lab in place for inspection"},
		},
		Action: func(c *cli.Context) error {
			ctx, cancel := labCtx(c)
			defer cancel()
			l, err := lab.Up(ctx, lab.Config{
				Name:          c.String("name"),
				Nodes:         c.Int("nodes"),
				NoFencing:     c.Bool("no-fencing"),
				Binary:        c.String("binary"),
				OCFAgents:     c.StringSlice("ocf-agent"),
				OnlineTimeout: c.Duration("timeout"),
				KeepOnError:   c.Bool("keep-on-error"),
				Logf:          progress(c.App.Writer),
			})
			if err != nil {
				return err
			}
			s, err := l.State()
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "lab %s up: subnet %s, host %s, bridge %s\n", s.Name, s.Subnet, s.BridgeIP, s.Bridge)
			return nil
		},
	}
}

func labDownCommand() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "remove a lab entirely (also after a crashed run)",
		Flags: []cli.Flag{labNameFlag(), &cli.BoolFlag{Name: "all", Usage: "remove every lab"}},
		Action: func(c *cli.Context) error {
			ctx, cancel := labCtx(c)
			defer cancel()
			names := []string{c.String("name")}
			if c.Bool("all") {
				var err error
				if names, err = lab.List(); err != nil {
					return err
				}
			}
			var errs []error
			for _, name := range names {
				l, err := lab.Load(name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if err := l.Down(ctx); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(c.App.Writer, "lab %s down\n", l.Name())
			}
			return errors.Join(errs...)
		},
	}
}

func labListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the labs",
		Action: func(c *cli.Context) error {
			names, err := lab.List()
			if err != nil {
				return err
			}
			for _, name := range names {
				l, err := lab.Load(name)
				if err != nil {
					return err
				}
				s, err := l.State()
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "%s\t%d nodes\t%s\n", s.Name, len(s.Nodes), s.Subnet)
			}
			return nil
		},
	}
}

func labStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the nodes, clients and memory of a lab",
		Flags: []cli.Flag{
			labNameFlag(),
			&cli.BoolFlag{Name: "crm", Usage: "also print crm_mon -1 from the first running node"},
		},
		Action: func(c *cli.Context) error {
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			s, err := l.State()
			if err != nil {
				return err
			}
			st, err := l.Status()
			if err != nil {
				return err
			}
			mem, _ := l.Memory()
			w := c.App.Writer
			fmt.Fprintf(w, "lab %s: subnet %s, host %s on %s, fencing %v\n", s.Name, s.Subnet, s.BridgeIP, s.Bridge, s.Fencing)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tADDRESS\tPOWER\tLINK\tSTACK\tPROCS\tPSS\tCGROUP")
			var total uint64
			for i, n := range st {
				power := "off"
				if n.On {
					power = fmt.Sprintf("on (pid %d)", n.PID)
				}
				if n.Frozen {
					power += " frozen"
				}
				stack := n.Stack
				if n.Detail != "" {
					stack += ": " + n.Detail
				}
				var pss, cg uint64
				if i < len(mem) {
					pss, cg = mem[i].PSS, mem[i].Cgroup
				}
				total += pss
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.Name, n.Addr, power, upDown(n.Link), stack, n.Procs, mib(pss), mib(cg))
			}
			tw.Flush()
			fmt.Fprintf(w, "total PSS of node processes: %s\n", mib(total))
			for _, cl := range s.Clients {
				fmt.Fprintf(w, "client %s %s\n", cl.Name, cl.Addr)
			}
			if len(s.Partition) > 0 {
				fmt.Fprintf(w, "partitioned: %v\n", s.Partition)
			}
			if !c.Bool("crm") {
				return nil
			}
			for _, n := range st {
				if n.On && !n.Frozen {
					cmd, err := l.Command(c.Context, n.Name, "crm_mon", "-1")
					if err != nil {
						return err
					}
					cmd.Stdout, cmd.Stderr = w, c.App.ErrWriter
					fmt.Fprintf(w, "\ncrm_mon on %s:\n", n.Name)
					return cmd.Run()
				}
			}
			return nil
		},
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func mib(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20))
}

func labExecCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command in a node's (or client's) namespaces",
		ArgsUsage: "NODE|CLIENT -- COMMAND [ARG...]",
		Flags:     []cli.Flag{labNameFlag()},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) > 1 && args[1] == "--" {
				args = append(args[:1], args[2:]...)
			}
			if len(args) < 2 {
				return errors.New("usage: goha lab exec NODE -- COMMAND [ARG...]")
			}
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			cmd, err := l.Command(c.Context, args[0], args[1:]...)
			if err != nil {
				return err
			}
			if t := os.Getenv("TERM"); t != "" {
				cmd.Env = append(cmd.Env, "TERM="+t)
			}
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, c.App.Writer, c.App.ErrWriter
			err = cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return cli.Exit("", ee.ExitCode())
			}
			return err
		},
	}
}

func labClientCommand() *cli.Command {
	return &cli.Command{
		Name:      "client",
		Usage:     "add a client network namespace (not a cluster node) on the lab bridge",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{labNameFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("usage: goha lab client NAME")
			}
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			addr, err := l.Client(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "client %s %s\n", c.Args().First(), addr)
			return nil
		},
	}
}

func labWaitCommand() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "wait until nodes (default all) are online with quorum",
		ArgsUsage: "[NODE...]",
		Flags: []cli.Flag{
			labNameFlag(),
			&cli.DurationFlag{Name: "timeout", Value: 3 * time.Minute},
		},
		Action: func(c *cli.Context) error {
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			ctx, cancel := labCtx(c)
			defer cancel()
			ctx, cancel2 := context.WithTimeout(ctx, c.Duration("timeout"))
			defer cancel2()
			return l.WaitOnline(ctx, c.Args().Slice()...)
		},
	}
}

// labNodeCommand is a subcommand that applies op to each named node.
func labNodeCommand(name, usage string, op func(context.Context, *lab.Lab, string) error) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "NODE...",
		Flags:     []cli.Flag{labNameFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("usage: goha lab %s NODE...", name)
			}
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			ctx, cancel := labCtx(c)
			defer cancel()
			for _, n := range c.Args().Slice() {
				start := time.Now()
				if err := op(ctx, l, n); err != nil {
					return fmt.Errorf("%s %s: %w", name, n, err)
				}
				fmt.Fprintf(c.App.Writer, "%s %s: done in %s\n", name, n, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
}

func labKillCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "SIGKILL the processes named PROCESS inside one node only",
		ArgsUsage: "NODE PROCESS",
		Flags:     []cli.Flag{labNameFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return errors.New("usage: goha lab kill NODE PROCESS")
			}
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			n, err := l.Kill(c.Context, c.Args().Get(0), c.Args().Get(1))
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "killed %d %s on %s\n", n, c.Args().Get(1), c.Args().Get(0))
			return nil
		},
	}
}

func labPartitionCommand() *cli.Command {
	return &cli.Command{
		Name:  "partition",
		Usage: "split the network into groups; members not named form one more group",
		Description: "Each argument is a group of comma-separated nodes or clients:\n" +
			"  goha lab partition n1          n1 alone, the rest together\n" +
			"  goha lab partition n1 n2,n3   three sides when there are more members",
		ArgsUsage: "GROUP...",
		Flags:     []cli.Flag{labNameFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return errors.New("usage: goha lab partition GROUP... (e.g. n1 or n1,n2)")
			}
			var groups [][]string
			for _, a := range c.Args().Slice() {
				groups = append(groups, strings.Split(a, ","))
			}
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			if err := l.Partition(c.Context, groups...); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "partitioned: %v\n", groups)
			return nil
		},
	}
}

func labHealCommand() *cli.Command {
	return &cli.Command{
		Name:  "heal",
		Usage: "remove any network partition",
		Flags: []cli.Flag{labNameFlag()},
		Action: func(c *cli.Context) error {
			l, err := loadLab(c)
			if err != nil {
				return err
			}
			return l.Heal(c.Context)
		},
	}
}

func labInitCommand() *cli.Command {
	return &cli.Command{
		Name:   "_init",
		Hidden: true,
		Usage:  "PID 1 of a lab node (started by the lab controller)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Required: true},
			&cli.StringFlag{Name: "node", Required: true},
			&cli.DurationFlag{Name: "boot-delay"},
		},
		Action: func(c *cli.Context) error {
			return lab.InitMain(c.String("dir"), c.String("node"), c.Duration("boot-delay"))
		},
	}
}

func labControllerCommand() *cli.Command {
	return &cli.Command{
		Name:   "_controller",
		Hidden: true,
		Usage:  "the power controller of a lab (started by goha lab up)",
		Flags:  []cli.Flag{&cli.StringFlag{Name: "dir", Required: true}},
		Action: func(c *cli.Context) error {
			ctx, cancel := labCtx(c)
			defer cancel()
			return lab.ServeController(ctx, c.String("dir"))
		},
	}
}
