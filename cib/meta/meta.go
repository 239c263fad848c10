// Package meta reads resource and fence agents' meta-data: which
// parameters an agent takes, which it requires, which are deprecated, and
// which actions it has. goha checks specs against it.
package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/goha-ha/goha/cib/pcmk"
	"github.com/goha-ha/goha/ocf"
)

// Param is one parameter of an agent.
type Param struct {
	Name       string
	Required   bool
	Deprecated bool
	// Obsoletes names the deprecated parameter this one replaces (fence
	// agents: ip obsoletes ipaddr); either of the two satisfies Required.
	Obsoletes string
	// ReplacedBy is the parameter to use instead of a deprecated one.
	ReplacedBy string
}

// Agent is an agent's meta-data.
type Agent struct {
	Name    string
	Params  []Param
	Actions []string
	// AnyParams says parameters are not checked (systemd and lsb take
	// none the spec could name; an agent without meta-data).
	AnyParams bool
}

// Param returns the parameter called name, or nil.
func (a *Agent) Param(name string) *Param {
	for i := range a.Params {
		if a.Params[i].Name == name {
			return &a.Params[i]
		}
	}
	return nil
}

// HasAction reports whether the agent advertises action.
func (a *Agent) HasAction(name string) bool {
	for _, act := range a.Actions {
		if act == name {
			return true
		}
	}
	return false
}

// Parse reads OCF resource-agent meta-data (also what fence agents print
// for -o metadata).
func Parse(data []byte) (*Agent, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("parse meta-data: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "resource-agent" {
		return nil, fmt.Errorf("parse meta-data: no <resource-agent> element")
	}
	a := &Agent{Name: root.SelectAttrValue("name", "")}
	if params := root.SelectElement("parameters"); params != nil {
		for _, pe := range params.SelectElements("parameter") {
			p := Param{
				Name:       pe.SelectAttrValue("name", ""),
				Required:   isOne(pe.SelectAttrValue("required", "0")),
				Deprecated: isOne(pe.SelectAttrValue("deprecated", "0")),
				Obsoletes:  pe.SelectAttrValue("obsoletes", ""),
			}
			// OCF 1.1 marks deprecation with a child element.
			if d := pe.SelectElement("deprecated"); d != nil {
				p.Deprecated = true
				if r := d.SelectElement("replaced-with"); r != nil {
					p.ReplacedBy = r.SelectAttrValue("name", "")
				}
			}
			a.Params = append(a.Params, p)
		}
	}
	for i := range a.Params {
		if o := a.Params[i].Obsoletes; o != "" {
			if old := a.Param(o); old != nil && old.ReplacedBy == "" {
				old.ReplacedBy = a.Params[i].Name
			}
		}
	}
	if acts := root.SelectElement("actions"); acts != nil {
		for _, ae := range acts.SelectElements("action") {
			a.Actions = append(a.Actions, ae.SelectAttrValue("name", ""))
		}
	}
	return a, nil
}

func isOne(s string) bool { return s == "1" || s == "true" || s == "yes" }

// ErrNotInstalled is returned for an agent that is not on this machine.
var ErrNotInstalled = errors.New("not installed")

// Source returns an agent's meta-data. agent is class:provider:type or
// class:type (stonith:fence_ipmilan).
type Source interface {
	Metadata(ctx context.Context, agent string) (*Agent, error)
}

// Static is meta-data known in advance (goha's own agents, tests).
type Static map[string]*Agent

// Metadata returns the entry for agent or ErrNotInstalled.
func (s Static) Metadata(_ context.Context, agent string) (*Agent, error) {
	if a, ok := s[agent]; ok {
		return a, nil
	}
	return nil, ErrNotInstalled
}

// Chain asks each source in turn until one knows the agent.
type Chain []Source

// Metadata returns the first answer that is not ErrNotInstalled.
func (c Chain) Metadata(ctx context.Context, agent string) (*Agent, error) {
	for _, s := range c {
		a, err := s.Metadata(ctx, agent)
		if !errors.Is(err, ErrNotInstalled) {
			return a, err
		}
	}
	return nil, ErrNotInstalled
}

// Cached remembers answers, so that a spec with a thousand primitives of
// one agent asks once.
type Cached struct {
	Source Source
	mu     sync.Mutex
	m      map[string]cached
}

type cached struct {
	a   *Agent
	err error
}

// Metadata answers from the cache or the source.
func (c *Cached) Metadata(ctx context.Context, agent string) (*Agent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[agent]; ok {
		return e.a, e.err
	}
	a, err := c.Source.Metadata(ctx, agent)
	if c.m == nil {
		c.m = map[string]cached{}
	}
	c.m[agent] = cached{a, err}
	return a, err
}

// Local finds agents installed on this machine: OCF agents under OCFRoot
// (their meta-data through crm_resource --show-metadata), fence agents in
// FenceDir (fence_X -o metadata), systemd units and LSB scripts by their
// files.
type Local struct {
	Tools    pcmk.Tools
	OCFRoot  string   // /usr/lib/ocf
	FenceDir string   // /usr/sbin
	UnitDirs []string // systemd unit directories
	InitDir  string   // /etc/init.d
}

// NewLocal is Local with the Debian/RHEL paths.
func NewLocal(r pcmk.Runner) *Local {
	return &Local{
		Tools:    pcmk.Tools{R: r},
		OCFRoot:  "/usr/lib/ocf",
		FenceDir: "/usr/sbin",
		UnitDirs: []string{"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"},
		InitDir:  "/etc/init.d",
	}
}

// Metadata implements Source.
func (l *Local) Metadata(ctx context.Context, agent string) (*Agent, error) {
	parts := strings.Split(agent, ":")
	switch {
	case len(parts) == 3 && parts[0] == "ocf":
		path := filepath.Join(l.OCFRoot, "resource.d", parts[1], parts[2])
		if _, err := os.Stat(path); err != nil {
			return nil, ErrNotInstalled
		}
		out, err := l.Tools.ShowMetadata(ctx, agent)
		if err != nil {
			return nil, err
		}
		return Parse(out)
	case len(parts) == 2 && parts[0] == "stonith":
		path := filepath.Join(l.FenceDir, parts[1])
		if _, err := os.Stat(path); err != nil {
			return nil, ErrNotInstalled
		}
		out, err := l.Tools.R.Run(ctx, nil, nil, path, "-o", "metadata")
		if err != nil {
			return nil, fmt.Errorf("%s -o metadata: %w", parts[1], err)
		}
		return Parse(out)
	case len(parts) == 2 && (parts[0] == "systemd" || parts[0] == "service" || parts[0] == "lsb"):
		name := parts[1]
		if parts[0] != "lsb" {
			unit := name
			if !strings.Contains(unit, ".") {
				unit += ".service"
			}
			for _, d := range l.UnitDirs {
				if _, err := os.Stat(filepath.Join(d, unit)); err == nil {
					return &Agent{Name: name, AnyParams: true}, nil
				}
			}
		}
		if parts[0] != "systemd" {
			if _, err := os.Stat(filepath.Join(l.InitDir, name)); err == nil {
				return &Agent{Name: name, AnyParams: true}, nil
			}
		}
		return nil, ErrNotInstalled
	}
	return nil, ErrNotInstalled
}

// Own is the meta-data of goha's own agents, from their declarations in
// this binary, keyed ocf:goha:<name>: specs are checked against the agents
// goha ships even where they are not installed yet.
func Own(agents []*ocf.Agent) Static {
	own := Static{}
	for _, a := range agents {
		var b bytes.Buffer
		if err := a.WriteMetadata(&b); err != nil {
			continue
		}
		if m, err := Parse(b.Bytes()); err == nil {
			own["ocf:goha:"+a.Name] = m
		}
	}
	return own
}
