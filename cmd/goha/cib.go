package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/urfave/cli/v2"

	"github.com/goha-ha/goha/agents"
	"github.com/goha-ha/goha/cib"
	"github.com/goha-ha/goha/cib/meta"
	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/cib/preset"
	"github.com/goha-ha/goha/cib/spec"
	"github.com/goha-ha/goha/fencing/labfence"
)

// cibCommand is `goha cib`: the declarative cluster spec and its CIB.
func cibCommand() *cli.Command {
	specFlag := &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the cluster spec (YAML)", Required: true}
	pcmkFlag := &cli.StringFlag{Name: "pacemaker", Usage: "target Pacemaker release: 2.0, 2.1 or 3 (default: the spec's, else the installed one)"}
	unsafeFlag := &cli.BoolFlag{Name: "allow-unsafe", Usage: "report the safety lint (fencing, quorum) as warnings instead of errors"}
	offlineFlag := &cli.BoolFlag{Name: "offline", Usage: "do not check agents and their parameters against this machine's meta-data"}
	pruneFlag := &cli.BoolFlag{Name: "prune", Usage: "also remove what the live CIB has and the spec does not mention"}
	outFlag := &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file instead of standard output"}
	return &cli.Command{
		Name:  "cib",
		Usage: "turn a declarative cluster spec into a verified CIB; diff, apply, import, simulate",
		Subcommands: []*cli.Command{
			{
				Name:  "generate",
				Usage: "write the CIB of a spec",
				Flags: []cli.Flag{specFlag, pcmkFlag, unsafeFlag, outFlag},
				Action: func(c *cli.Context) error {
					l, err := load(c, true)
					if err != nil {
						return err
					}
					xml, err := cib.XML(l.doc())
					if err != nil {
						return err
					}
					return output(c, xml)
				},
			},
			{
				Name:  "validate",
				Usage: "check a spec: goha's semantic checks and safety lint, then Pacemaker's crm_verify",
				Flags: []cli.Flag{specFlag, pcmkFlag, unsafeFlag, offlineFlag},
				Action: func(c *cli.Context) error {
					l, err := load(c, !c.Bool("offline"))
					if err != nil {
						return err
					}
					res, err := cib.Verify(c.Context, tools(), l.spec, l.doc())
					if err != nil {
						return err
					}
					w := c.App.Writer
					switch {
					case res.Skipped != "":
						fmt.Fprintf(w, "crm_verify: skipped (%s)\n", res.Skipped)
					case !res.Valid:
						return fmt.Errorf("%s: crm_verify (Pacemaker's own validation) failed:\n%s", l.file, res.Output)
					case res.Output != "":
						fmt.Fprintf(w, "crm_verify: valid, with warnings:\n%s\n", res.Output)
					default:
						fmt.Fprintln(w, "crm_verify: valid")
					}
					fmt.Fprintf(w, "%s: valid for Pacemaker %s (%s)\n", l.file, l.target.Release, l.target.Schema)
					return nil
				},
			},
			{
				Name:  "diff",
				Usage: "show how the live CIB (or --against FILE) differs from the spec; exit 1 when it does",
				Flags: []cli.Flag{specFlag, pcmkFlag, unsafeFlag, pruneFlag,
					&cli.StringFlag{Name: "against", Usage: "a CIB file instead of the live CIB (cibadmin --query)"}},
				Action: func(c *cli.Context) error {
					l, err := load(c, false)
					if err != nil {
						return err
					}
					live, err := liveCIB(c)
					if err != nil {
						return err
					}
					merged, err := cib.Merge(live, l.doc(), c.Bool("prune"))
					if err != nil {
						return err
					}
					changes := cib.DiffConfig(live, merged)
					for _, ch := range changes {
						fmt.Fprintln(c.App.Writer, ch)
					}
					if len(changes) > 0 {
						return cli.Exit("", 1)
					}
					fmt.Fprintln(c.App.Writer, "no drift: the CIB matches the spec")
					return nil
				},
			},
			{
				Name:  "apply",
				Usage: "apply the difference between the spec and the live CIB (crm_diff + cibadmin --patch)",
				Flags: []cli.Flag{specFlag, pcmkFlag, unsafeFlag, offlineFlag, pruneFlag,
					&cli.BoolFlag{Name: "dry-run", Usage: "show the changes and the patch, apply nothing"}},
				Action: func(c *cli.Context) error { return apply(c) },
			},
			{
				Name:  "import",
				Usage: "write the spec of the live CIB (or --from FILE)",
				Flags: []cli.Flag{outFlag, &cli.StringFlag{Name: "from", Usage: "a CIB file instead of the live CIB"}},
				Action: func(c *cli.Context) error {
					var doc *etree.Document
					var err error
					if f := c.String("from"); f != "" {
						doc, err = readCIB(f)
					} else {
						doc, err = liveCIB(c)
					}
					if err != nil {
						return err
					}
					s, warnings, err := cib.Import(doc)
					if err != nil {
						return err
					}
					for _, w := range warnings {
						fmt.Fprintln(c.App.ErrWriter, "goha cib import: warning:", w)
					}
					out, err := spec.Marshal(s)
					if err != nil {
						return err
					}
					return output(c, out)
				},
			},
			{
				Name:  "simulate",
				Usage: "show where every resource runs (crm_simulate), and what moves when --fail NODE fails",
				Flags: []cli.Flag{specFlag, pcmkFlag, unsafeFlag,
					&cli.StringSliceFlag{Name: "fail", Usage: "a node that fails (repeatable)"},
					&cli.StringSliceFlag{Name: "attr", Usage: "a transient node attribute NODE:NAME=VALUE (repeatable)"}},
				Action: func(c *cli.Context) error { return simulate(c) },
			},
			presetCommand(),
			{
				Name:  "bench-spec",
				Usage: "write a synthetic spec of the given size, and time its generation and validation",
				Flags: []cli.Flag{outFlag,
					&cli.IntFlag{Name: "nodes", Value: 32},
					&cli.IntFlag{Name: "primitives", Value: 1000},
					&cli.IntFlag{Name: "constraints", Value: 3000}},
				Action: func(c *cli.Context) error { return benchSpec(c) },
			},
		},
	}
}

// loaded is a parsed, checked spec and its target.
type loaded struct {
	file   string
	spec   *spec.Spec
	pos    spec.Positions
	target cib.Target
	cached *etree.Document
}

func (l *loaded) doc() *etree.Document {
	if l.cached == nil {
		l.cached = cib.Generate(l.spec, l.target)
	}
	return l.cached
}

func tools() pcmk.Tools { return pcmk.Tools{R: pcmk.Exec{}} }

// load reads -f, resolves the target and runs goha's checks (with agent
// meta-data when agents is set). Warnings go to stderr; errors fail.
func load(c *cli.Context, agentsCheck bool) (*loaded, error) {
	file := c.String("file")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, pos, err := spec.Parse(data, file)
	if err != nil {
		return nil, err
	}
	target, err := resolveTarget(c.Context, c.String("pacemaker"), s.Pacemaker)
	if err != nil {
		return nil, err
	}
	opt := cib.CheckOptions{Target: target, AllowUnsafe: c.Bool("allow-unsafe")}
	if agentsCheck {
		opt.Agents = metadataSource()
	}
	fs := cib.Check(c.Context, s, opt)
	fs.Locate(pos)
	var errs, warns spec.Findings
	for _, f := range fs {
		if f.Severity == spec.Error {
			errs = append(errs, f)
		} else {
			warns = append(warns, f)
		}
	}
	fmt.Fprint(c.App.ErrWriter, warns.Format(file))
	if len(errs) > 0 {
		hint := ""
		for _, f := range errs {
			if f.Safety {
				hint = "\n(safety findings can be accepted knowingly with --allow-unsafe)"
				break
			}
		}
		return nil, fmt.Errorf("%d error(s) in the spec:\n%s%s", len(errs), strings.TrimSuffix(errs.Format(file), "\n"), hint)
	}
	return &loaded{file: file, spec: s, pos: pos, target: target}, nil
}

// resolveTarget picks the Pacemaker release: the flag, the spec, the
// installed Pacemaker, the default.
func resolveTarget(ctx context.Context, flag, fromSpec string) (cib.Target, error) {
	for _, r := range []string{flag, fromSpec} {
		if r != "" {
			return cib.ParseTarget(r)
		}
	}
	if v := tools().InstalledVersion(ctx); v != "" {
		if t, err := cib.ParseTarget(v); err == nil {
			return t, nil
		}
	}
	return cib.ParseTarget(cib.DefaultRelease)
}

// metadataSource knows goha's own agents (from this binary) first, then
// what is installed on this machine.
func metadataSource() meta.Source {
	own := meta.Own(agents.All())
	var b, e bytes.Buffer
	if labfence.Main([]string{"fence_goha_lab", "-o", "metadata"}, nil, &b, &e) == 0 {
		if m, err := meta.Parse(b.Bytes()); err == nil {
			own["stonith:fence_goha_lab"] = m
		}
	}
	return &meta.Cached{Source: meta.Chain{own, meta.NewLocal(pcmk.Exec{})}}
}

func output(c *cli.Context, data []byte) error {
	if f := c.String("output"); f != "" {
		return os.WriteFile(f, data, 0o644)
	}
	_, err := c.App.Writer.Write(data)
	return err
}

func readCIB(file string) (*etree.Document, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(file); err != nil {
		return nil, fmt.Errorf("read CIB %s: %w", file, err)
	}
	return doc, nil
}

func liveCIB(c *cli.Context) (*etree.Document, error) {
	if f := c.String("against"); f != "" {
		return readCIB(f)
	}
	out, err := tools().Query(c.Context)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		return nil, fmt.Errorf("parse the live CIB: %w", err)
	}
	return doc, nil
}

func apply(c *cli.Context) error {
	l, err := load(c, !c.Bool("offline"))
	if err != nil {
		return err
	}
	if res, err := cib.Verify(c.Context, tools(), l.spec, l.doc()); err != nil {
		return err
	} else if res.Skipped == "" && !res.Valid {
		return fmt.Errorf("%s: crm_verify failed:\n%s", l.file, res.Output)
	}
	t := tools()
	liveXML, err := t.Query(c.Context)
	if err != nil {
		return err
	}
	live := etree.NewDocument()
	if err := live.ReadFromBytes(liveXML); err != nil {
		return fmt.Errorf("parse the live CIB: %w", err)
	}
	merged, err := cib.Merge(live, l.doc(), c.Bool("prune"))
	if err != nil {
		return err
	}
	changes := cib.DiffConfig(live, merged)
	for _, ch := range changes {
		fmt.Fprintln(c.App.Writer, ch)
	}
	if len(changes) == 0 {
		fmt.Fprintln(c.App.Writer, "nothing to apply: the CIB matches the spec")
		return nil
	}
	mergedXML, err := cib.XML(merged)
	if err != nil {
		return err
	}
	patch, err := t.Diff(c.Context, liveXML, mergedXML)
	if err != nil {
		return err
	}
	if c.Bool("dry-run") {
		fmt.Fprintf(c.App.Writer, "dry run: the patch would be\n%s", patch)
		return nil
	}
	if patch == nil {
		return errors.New("crm_diff found no difference although goha did; nothing applied")
	}
	if err := t.Patch(c.Context, patch); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "applied %d change(s)\n", len(changes))
	return nil
}

func simulate(c *cli.Context) error {
	l, err := load(c, false)
	if err != nil {
		return err
	}
	extra := map[string]spec.NVList{}
	for _, a := range c.StringSlice("attr") {
		node, rest, ok1 := strings.Cut(a, ":")
		name, value, ok2 := strings.Cut(rest, "=")
		if !ok1 || !ok2 {
			return fmt.Errorf("--attr %q: want NODE:NAME=VALUE", a)
		}
		extra[node] = extra[node].Set(name, value)
	}
	res, err := cib.Simulate(c.Context, tools(), l.spec, l.doc(), c.StringSlice("fail"), extra)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintln(w, "With every node online:")
	printPlacement(w, res.Initial)
	if len(res.Failed) > 0 {
		fmt.Fprintf(w, "\nAfter %s failed:\n", strings.Join(res.Failed, ", "))
		printPlacement(w, res.After)
		fmt.Fprintln(w, "\nMoves:")
		if len(res.Moves) == 0 {
			fmt.Fprintln(w, "  (none)")
		}
		for _, m := range res.Moves {
			fmt.Fprintln(w, "  "+m)
		}
	}
	if u := res.Initial.Unplaced(); len(u) > 0 {
		return cli.Exit(fmt.Sprintf("%d resource instance(s) are not placed with every node online", len(u)), 1)
	}
	return nil
}

func printPlacement(w io.Writer, p cib.Placement) {
	for _, i := range p {
		fmt.Fprintln(w, "  "+i.String())
	}
}

func presetCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to this file instead of standard output"},
		&cli.StringSliceFlag{Name: "nodes", Usage: "node names (comma-separated or repeated)"},
		&cli.StringSliceFlag{Name: "addresses", Usage: "node addresses, one per node"},
		&cli.StringSliceFlag{Name: "vip", Usage: "floating addresses, in the preset's order"},
		&cli.StringFlag{Name: "netmask", Usage: "prefix length of the VIPs (default 24)"},
		&cli.StringSliceFlag{Name: "ping-host", Usage: "hosts the ping resource checks (vprotect)"},
		&cli.StringFlag{Name: "farm-network", Usage: "network of the OVD application servers, reached from the VIP (osm; default the VIP's network)"},
		&cli.StringFlag{Name: "fence", Usage: "fence device kind: ipmilan, redfish, virsh, vmware, sbd, lab (default ipmilan)"},
		&cli.StringSliceFlag{Name: "fence-addr", Usage: "BMC address per node (ipmilan, redfish), or the hypervisor (virsh, vmware)"},
		&cli.StringFlag{Name: "fence-user", Usage: "fence device login (default admin)"},
		&cli.StringFlag{Name: "fence-password-script", Usage: "program printing the fence device password (default /etc/goha/fence-password)"},
		&cli.StringFlag{Name: "lab", Usage: "lab name for --fence lab"},
		&cli.StringFlag{Name: "pacemaker", Usage: "target Pacemaker release written into the spec"},
	}
	cmd := &cli.Command{
		Name:  "preset",
		Usage: "write the spec of a seed stack (every flag optional: the defaults are the stack's own)",
	}
	for _, p := range preset.All() {
		name := p.Name
		cmd.Subcommands = append(cmd.Subcommands, &cli.Command{
			Name:  name,
			Usage: p.Short,
			Description: fmt.Sprintf("Defaults: nodes %s, addresses %s, VIPs %s.",
				strings.Join(p.Defaults.Nodes, ","), strings.Join(p.Defaults.Addresses, ","), strings.Join(p.Defaults.VIPs, ",")),
			Flags: flags,
			Action: func(c *cli.Context) error {
				s, err := preset.Build(name, preset.Options{
					Nodes: c.StringSlice("nodes"), Addresses: c.StringSlice("addresses"), VIPs: c.StringSlice("vip"),
					Netmask: c.String("netmask"), PingHosts: c.StringSlice("ping-host"), FarmNetwork: c.String("farm-network"),
					Fence: c.String("fence"), FenceAddrs: c.StringSlice("fence-addr"),
					FenceUser: c.String("fence-user"), FencePasswordScript: c.String("fence-password-script"),
					Lab: c.String("lab"), Pacemaker: c.String("pacemaker"),
				})
				if err != nil {
					return err
				}
				out, err := spec.Marshal(s)
				if err != nil {
					return err
				}
				return output(c, out)
			},
		})
	}
	return cmd
}

func benchSpec(c *cli.Context) error {
	s := cib.Synthetic(c.Int("nodes"), c.Int("primitives"), c.Int("constraints"))
	data, err := spec.Marshal(s)
	if err != nil {
		return err
	}
	if err := output(c, data); err != nil {
		return err
	}
	start := time.Now()
	parsed, pos, err := spec.Parse(data, "bench-spec")
	if err != nil {
		return err
	}
	parseT := time.Since(start)
	target, _ := cib.ParseTarget(cib.DefaultRelease)
	fs := cib.Check(c.Context, parsed, cib.CheckOptions{Target: target, Agents: metadataSource()})
	fs.Locate(pos)
	checkT := time.Since(start) - parseT
	xml, err := cib.XML(cib.Generate(parsed, target))
	if err != nil {
		return err
	}
	total := time.Since(start)
	fmt.Fprintf(c.App.ErrWriter, "bench-spec: %d nodes, %d primitives, %d constraints: spec %d bytes, CIB %d bytes\n",
		len(parsed.Nodes), len(parsed.Primitives), len(parsed.Locations)+len(parsed.Colocations)+len(parsed.Orders), len(data), len(xml))
	fmt.Fprintf(c.App.ErrWriter, "bench-spec: parse %v, validate %v, generate %v, total %v\n",
		parseT.Round(time.Millisecond), checkT.Round(time.Millisecond), (total - parseT - checkT).Round(time.Millisecond), total.Round(time.Millisecond))
	if fs.HasErrors() {
		return fmt.Errorf("the synthetic spec does not validate:\n%s", fs.Format("bench-spec"))
	}
	return nil
}
