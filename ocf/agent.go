package ocf

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Action is one agent action. It returns nil for success or an error whose
// Status (see Fail) is the exit code.
type Action func(ctx context.Context, r *Request) error

// Request is everything an action gets: the parsed environment, the
// validated parameters, a logger and the node attributes.
type Request struct {
	Env
	Action string
	Agent  *Agent
	Params *Values
	Log    *Logger
	Attrs  Attributes
	Stdout io.Writer
}

// IsProbe reports whether this is a probe: a monitor with interval 0, which
// must find out whether the resource runs without assuming it should.
func (r *Request) IsProbe() bool {
	return (r.Action == "monitor" || r.Action == "status") && r.Meta.Interval == 0
}

// Node is the name of the node this runs on.
func (r *Request) Node() string {
	if r.Meta.OnNode != "" {
		return r.Meta.OnNode
	}
	h, _ := os.Hostname()
	return h
}

// Op declares one action in meta-data.
type Op struct {
	Name     string
	Timeout  time.Duration
	Interval time.Duration
	Depth    int
	Role     string // "Promoted" or "Unpromoted" for role-specific monitors
}

// Agent is an OCF resource agent: its declaration and its actions.
type Agent struct {
	Name    string // the type, as in ocf:goha:<Name>
	Version string
	Short   string
	Long    string
	Params  []Param
	Ops     []Op // advertised operations and their default timeouts

	Start, Stop, Monitor    Action
	Promote, Demote, Notify Action
	Reload, ReloadAgent     Action
	MigrateTo, MigrateFrom  Action
	// Validate checks what the declaration cannot (files, programs, the
	// interface named by a parameter); parameter types are checked first.
	Validate Action
}

// Actions lists the action names the agent answers to, besides meta-data,
// usage and help.
func (a *Agent) Actions() []string {
	var names []string
	for _, h := range []struct {
		name string
		fn   Action
	}{
		{"start", a.Start}, {"stop", a.Stop}, {"monitor", a.Monitor},
		{"promote", a.Promote}, {"demote", a.Demote}, {"notify", a.Notify},
		{"reload", a.Reload}, {"reload-agent", a.ReloadAgent},
		{"migrate_to", a.MigrateTo}, {"migrate_from", a.MigrateFrom},
	} {
		if h.fn != nil {
			names = append(names, h.name)
		}
	}
	return append(names, "validate-all")
}

func (a *Agent) handler(action string) Action {
	switch action {
	case "start":
		return a.Start
	case "stop":
		return a.Stop
	case "monitor", "status":
		return a.Monitor
	case "promote":
		return a.Promote
	case "demote":
		return a.Demote
	case "notify":
		return a.Notify
	case "reload":
		return a.Reload
	case "reload-agent":
		if a.ReloadAgent == nil {
			return a.Reload
		}
		return a.ReloadAgent
	case "migrate_to":
		return a.MigrateTo
	case "migrate_from":
		return a.MigrateFrom
	case "validate-all":
		return func(ctx context.Context, r *Request) error { return nil }
	}
	return nil
}

// defaultTimeout is the declared timeout of action, used when Pacemaker did
// not pass one (manual runs, ocf-tester).
func (a *Agent) defaultTimeout(action string) time.Duration {
	if action == "status" {
		action = "monitor"
	}
	for _, op := range a.Ops {
		if op.Name == action {
			return op.Timeout
		}
	}
	return 20 * time.Second
}

// validatingActions check the parameters before running: an action that
// would act on a bad configuration fails with OCF_ERR_CONFIGURED instead.
var validatingActions = []string{"start", "promote", "reload", "reload-agent", "migrate_to", "migrate_from", "validate-all"}

// System is the outside world Run talks to; Main fills it from the process.
type System struct {
	Environ []string
	Getenv  func(string) string
	Stdout  io.Writer
	Stderr  io.Writer
	Attrs   Attributes
	NoLock  bool // for tests that run actions without a lock directory
}

// Main runs the agent as a process: action from args, environment from os,
// and exits with the action's status.
func (a *Agent) Main(args []string) {
	action := ""
	if len(args) > 0 {
		action = args[0]
	}
	os.Exit(int(a.Run(context.Background(), action, System{
		Environ: os.Environ(), Getenv: os.Getenv,
		Stdout: os.Stdout, Stderr: os.Stderr, Attrs: CRMAttributes{},
	})))
}

// Run performs one action and returns its exit status.
func (a *Agent) Run(ctx context.Context, action string, sys System) Status {
	switch action {
	case "meta-data":
		if err := a.WriteMetadata(sys.Stdout); err != nil {
			fmt.Fprintf(sys.Stderr, "meta-data: %v\n", err)
			return ErrGeneric
		}
		return Success
	case "usage", "help", "--help", "-h":
		a.usage(sys.Stdout)
		return Success
	case "":
		a.usage(sys.Stderr)
		return ErrArgs
	}
	env := ParseEnv(sys.Environ)
	log := NewLogger(LogConfigFromEnv(sys.Getenv, a.Name, env.Resource, sys.Stderr))
	defer log.Close()
	params := NewValues(a.Params, env.Params)
	log.Redact(params.Secrets()...)

	fn := a.handler(action)
	if fn == nil {
		log.ExitReason(fmt.Sprintf("action %q is not implemented by %s", action, a.Name))
		return ErrUnimplemented
	}
	r := &Request{Env: env, Action: action, Agent: a, Params: params, Log: log, Attrs: sys.Attrs, Stdout: sys.Stdout}

	timeout := env.Meta.Timeout
	if timeout <= 0 {
		timeout = a.defaultTimeout(action)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	status := a.run(ctx, action, r, sys)
	if action == "status" && status == NotRunning {
		return 3 // LSB "program is not running"
	}
	return status
}

func (a *Agent) run(ctx context.Context, action string, r *Request, sys System) Status {
	if err := r.Params.Validate(a.Params); err != nil {
		switch {
		case slices.Contains(validatingActions, action):
			r.Log.ExitReason(ReasonOf(err))
			return StatusOf(err)
		case action == "stop":
			// Nothing can have been started with this configuration; a
			// failed stop would get the node fenced for a typo.
			r.Log.Warnf("stop with invalid parameters (%v): nothing to stop", err)
			return Success
		case r.IsProbe():
			return NotRunning
		default:
			r.Log.ExitReason(ReasonOf(err))
			return StatusOf(err)
		}
	}
	if a.Validate != nil && slices.Contains(validatingActions, action) {
		if err := a.Validate(ctx, r); err != nil {
			r.Log.ExitReason(ReasonOf(err))
			return StatusOf(err)
		}
	}
	if action == "validate-all" {
		return Success
	}
	if !sys.NoLock && r.Resource != "" {
		lock, err := AcquireLock(ctx, LockDir(sys.Getenv), a.Name, r.Resource)
		if err != nil {
			r.Log.ExitReason(err.Error())
			return ErrGeneric
		}
		defer lock.Release()
	}
	err := a.handler(action)(ctx, r)
	if reason := ReasonOf(err); reason != "" && StatusOf(err) != Success {
		r.Log.ExitReason(reason)
	}
	return StatusOf(err)
}

func (a *Agent) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s {%s|meta-data|usage}\n\n%s\n", a.Name, joinActions(a.Actions()), a.Short)
}

func joinActions(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += "|"
		}
		out += n
	}
	return out
}
