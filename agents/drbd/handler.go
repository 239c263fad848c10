package drbd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Handler commands: the first argument that makes the goha program DRBD's
// fence-peer or unfence-peer handler instead of the CLI, as in
// drbd.conf's handlers { fence-peer "goha drbd-fence-peer"; unfence-peer
// "goha drbd-unfence-peer"; }.
const (
	FenceCommand   = "drbd-fence-peer"
	UnfenceCommand = "drbd-unfence-peer"
)

// handler is the fence-peer and unfence-peer logic over its I/O.
type handler struct {
	env    FenceEnv
	self   string // this node's name in the cluster
	tools  drbdTools
	cib    cib
	stdout io.Writer
}

// HandlerMain runs the handler named by args[0] (FenceCommand or
// UnfenceCommand) with DRBD's environment and exits with the status DRBD
// expects. Options: --node NAME (this node in the cluster, default the
// short host name), --drbdsetup and --cibadmin (programs), --timeout.
func HandlerMain(args []string) {
	os.Exit(runHandler(args, os.Getenv, os.Environ(), os.Stdout, os.Stderr))
}

func runHandler(args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("goha "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	drbdsetup := fs.String("drbdsetup", "drbdsetup", "the drbdsetup program")
	program := fs.String("cibadmin", "cibadmin", "the cibadmin program")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	node := fs.String("node", "", "this node's name in the cluster (default: the host name)")
	if err := fs.Parse(args[1:]); err != nil {
		return FenceFailed
	}
	env, err := ParseFenceEnv(getenv, environ)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[0], err)
		return FenceFailed
	}
	self := *node
	if self == "" {
		if self, err = os.Hostname(); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", args[0], err)
			return FenceFailed
		}
		self, _, _ = strings.Cut(self, ".")
	}
	conf := env.Conf
	if conf == "" {
		conf = "/etc/drbd.conf"
	}
	h := handler{env: env, self: self, stdout: stdout,
		tools: execTools{drbdsetup: *drbdsetup, conf: conf, resource: env.Resource},
		cib:   cibadmin{program: *program}}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var code int
	var msg string
	switch args[0] {
	case FenceCommand:
		code, msg = h.fence(ctx)
	case UnfenceCommand:
		code, msg = h.unfence(ctx)
	default:
		code, msg = FenceFailed, "unknown handler "+args[0]
	}
	fmt.Fprintf(stderr, "%s %s: %s (exit %d)\n", args[0], env.Resource, msg, code)
	return code
}

// fence keeps the lost peer from being promoted, when this node's data
// allows it.
func (h handler) fence(ctx context.Context) (int, string) {
	s, up, err := h.tools.Status(ctx)
	if err != nil {
		return FenceFailed, err.Error()
	}
	d := DecideFence(h.env, h.self, up, s)
	if !d.Constrain {
		return d.Exit, d.Why
	}
	doc, err := h.cib.Query(ctx)
	if err != nil {
		return FenceFailed, fmt.Sprintf("read the CIB: %v", err)
	}
	clone, role, err := FindClone(doc, h.env.Resource)
	if err != nil {
		return FenceFailed, err.Error()
	}
	c := Constraint(h.env.Resource, clone, role, d.Keep)
	if err := h.cib.Put(ctx, c); err != nil {
		return FenceFailed, fmt.Sprintf("place constraint %s: %v", c.SelectAttrValue("id", ""), err)
	}
	return d.Exit, fmt.Sprintf("placed constraint %s: %s", c.SelectAttrValue("id", ""), d.Why)
}

// unfence removes the resource's fencing constraints once the resync has
// made every connected disk UpToDate.
func (h handler) unfence(ctx context.Context) (int, string) {
	s, up, err := h.tools.Status(ctx)
	if err != nil {
		return FenceFailed, err.Error()
	}
	if ok, why := DecideUnfence(up, s); !ok {
		return FenceFailed, "kept the fencing constraint: " + why
	}
	doc, err := h.cib.Query(ctx)
	if err != nil {
		return FenceFailed, fmt.Sprintf("read the CIB: %v", err)
	}
	ids := FenceConstraintIDs(doc, h.env.Resource)
	for _, id := range ids {
		if err := h.cib.Delete(ctx, id); err != nil {
			return FenceFailed, fmt.Sprintf("remove constraint %s: %v", id, err)
		}
	}
	if len(ids) == 0 {
		return 0, "no fencing constraint to remove"
	}
	return 0, "removed " + strings.Join(ids, ", ")
}
