package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goha-ha/goha/agents"
	"github.com/goha-ha/goha/internal/manpage"
	"github.com/goha-ha/goha/internal/version"
)

// manCommand prints a manual page: an agent's ocf_goha_AGENT(7), or goha(8)
// without an argument. The packages ship both, generated at build time.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print the man page of an agent (ocf_goha_AGENT(7)), or of goha (goha(8)) without AGENT",
		ArgsUsage: "[AGENT]",
		Action: func(c *cli.Context) error {
			info := manpage.Info{Source: "goha " + version.Version, Date: manDate(os.Getenv("SOURCE_DATE_EPOCH"))}
			if c.NArg() == 0 {
				return manpage.WriteCLI(c.App.Writer, cliPage(c.App), info)
			}
			a := agents.Lookup(c.Args().First())
			if a == nil {
				return fmt.Errorf("unknown agent %q (see goha agents)", c.Args().First())
			}
			return manpage.WriteAgent(c.App.Writer, a, info)
		},
	}
}

// cliPage describes the app's visible commands for goha(8).
func cliPage(app *cli.App) manpage.CLI {
	page := manpage.CLI{Name: app.Name, Short: app.Usage, Agents: agents.All()}
	for _, cmd := range app.VisibleCommands() {
		if cmd.Name == "help" {
			continue
		}
		page.Commands = append(page.Commands, manpage.Command{Name: cmd.Name, Args: cmd.ArgsUsage, Usage: cmd.Usage})
	}
	return page
}

// manDate is the page date: the day of SOURCE_DATE_EPOCH when the build sets
// it (reproducible packages), otherwise none.
func manDate(epoch string) string {
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if epoch == "" || err != nil {
		return ""
	}
	return time.Unix(sec, 0).UTC().Format("2006-01-02")
}
