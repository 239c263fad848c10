// Command goha is one multi-call binary. Invoked through a symlink named
// after an agent (/usr/lib/ocf/resource.d/goha/vip) it is that OCF agent;
// invoked as fence_goha_lab it is the lab fence agent; invoked as goha it is
// the command-line interface.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/goha-ha/goha/agents"
	"github.com/goha-ha/goha/agents/drbd"
	syncagent "github.com/goha-ha/goha/agents/sync"
	"github.com/goha-ha/goha/fencing/labfence"
	"github.com/goha-ha/goha/internal/version"
)

func main() {
	name := filepath.Base(os.Args[0])
	if name == "fence_goha_lab" {
		os.Exit(labfence.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
	}
	// ocf:goha:sync runs its watcher as this program: [goha sync-daemon CONF].
	if len(os.Args) > 1 && os.Args[1] == syncagent.DaemonCommand {
		syncagent.DaemonMain(os.Args[2:])
	}
	// DRBD calls its fence-peer and unfence-peer handlers as
	// [goha drbd-fence-peer] and [goha drbd-unfence-peer].
	if len(os.Args) > 1 && (os.Args[1] == drbd.FenceCommand || os.Args[1] == drbd.UnfenceCommand) {
		drbd.HandlerMain(os.Args[1:])
	}
	if a := agents.Lookup(name); a != nil {
		a.Main(os.Args[1:])
	}
	if err := app().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "goha:", err)
		os.Exit(1)
	}
}

func app() *cli.App {
	return &cli.App{
		Name:    "goha",
		Usage:   "Pacemaker resource agents and cluster tooling",
		Version: version.Version,
		Commands: []*cli.Command{
			agentsCommand(),
			metadataCommand(),
			runCommand(),
			versionCommand(),
			labCommand(),
			manCommand(),
			cibCommand(),
			demoCommand(),
			galeraHealthCommand(),
		},
	}
}

func agentsCommand() *cli.Command {
	return &cli.Command{
		Name:  "agents",
		Usage: "list the OCF agents (ocf:goha:NAME)",
		Action: func(c *cli.Context) error {
			for _, a := range agents.All() {
				fmt.Fprintf(c.App.Writer, "%-12s %s\n", a.Name, a.Short)
			}
			return nil
		},
	}
}

func metadataCommand() *cli.Command {
	return &cli.Command{
		Name:      "metadata",
		Usage:     "print an agent's OCF meta-data",
		ArgsUsage: "AGENT",
		Action: func(c *cli.Context) error {
			a := agents.Lookup(c.Args().First())
			if a == nil {
				return fmt.Errorf("unknown agent %q (see goha agents)", c.Args().First())
			}
			return a.WriteMetadata(c.App.Writer)
		},
	}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run an agent action, as Pacemaker would through the agent's symlink",
		ArgsUsage: "AGENT ACTION",
		Action: func(c *cli.Context) error {
			a := agents.Lookup(c.Args().First())
			if a == nil {
				return fmt.Errorf("unknown agent %q (see goha agents)", c.Args().First())
			}
			a.Main(c.Args().Tail())
			return nil
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "goha %s\n", version.Version)
			return nil
		},
	}
}
