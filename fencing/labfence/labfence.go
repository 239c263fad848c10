// Package labfence is fence_goha_lab, the fence agent of goha's lab
// clusters (internal/lab).
//
// Pacemaker runs fence agents on a cluster node, which in the lab is a set
// of namespaces: from there the agent cannot signal another node's
// processes (they live in another PID namespace). So the agent does not act
// itself: it sends the power operation to the lab's controller, a host
// process that serves a unix socket in the lab's run directory
// (/run/goha/lab/<lab>/control.sock). That directory is bind-mounted into
// every node, which is how the agent reaches it. Power off is a crash of the
// node (all its processes killed at once, its link down), on boots it again
// with its disks intact, reboot is off then on.
//
// The agent follows the fence-agent API: options as key=value lines on
// stdin (what Pacemaker sends) or on the command line (-o ACTION -n PLUG
// --lab NAME), exit 0 on success and 1 on failure, and for status 0 when
// the node is on and 2 when it is off.
package labfence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

// Exit codes of the fence-agent API.
const (
	exitOK    = 0
	exitError = 1
	exitOff   = 2 // status: the plug is off
)

// Options are the agent's parameters after parsing.
type Options struct {
	Action       string
	Plug         string // target node; also set from port
	Nodename     string // target as Pacemaker names it; used when no plug is given
	Lab          string
	StateDir     string
	Delay        time.Duration
	PowerTimeout time.Duration
	Verbose      bool
	Quiet        bool
	Help         bool
	Version      bool
	Unknown      []string // keys or flags that were ignored
}

// Target is the node to act on: the plug (or port), else nodename.
func (o Options) Target() string {
	if o.Plug != "" {
		return o.Plug
	}
	return o.Nodename
}

// param is one parameter of the agent: its stdin key, its command-line
// spellings and its meta-data, in one place.
type param struct {
	name       string // stdin key
	getopt     string // meta-data getopt mixed, e.g. "-o, --action=[action]"
	short      string // command-line short flag without dash, "" for none
	long       string // command-line long flag without dashes
	boolean    bool
	typ        string
	def        string
	required   bool
	deprecated bool
	obsoletes  string
	desc       string
	set        func(o *Options, v string) error
}

func setString(p func(o *Options) *string) func(o *Options, v string) error {
	return func(o *Options, v string) error { *p(o) = v; return nil }
}

func setBool(p func(o *Options) *bool) func(o *Options, v string) error {
	return func(o *Options, v string) error {
		switch strings.ToLower(v) {
		case "", "1", "yes", "true", "on":
			*p(o) = true
		case "0", "no", "false", "off":
			*p(o) = false
		default:
			return fmt.Errorf("not a boolean: %q", v)
		}
		return nil
	}
}

func setSeconds(p func(o *Options) *time.Duration) func(o *Options, v string) error {
	return func(o *Options, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("not a number of seconds: %q", v)
		}
		*p(o) = time.Duration(f * float64(time.Second))
		return nil
	}
}

var params = []param{
	{name: "action", getopt: "-o, --action=[action]", short: "o", long: "action", typ: "string", def: "reboot", required: true,
		desc: "Fencing action", set: setString(func(o *Options) *string { return &o.Action })},
	{name: "plug", getopt: "-n, --plug=[id]", short: "n", long: "plug", typ: "string", obsoletes: "port",
		desc: "Lab node to act on (n1, n2, ...)", set: setString(func(o *Options) *string { return &o.Plug })},
	{name: "port", getopt: "-n, --plug=[id]", typ: "string", deprecated: true,
		desc: "Lab node to act on (n1, n2, ...)", set: setString(func(o *Options) *string { return &o.Plug })},
	{name: "nodename", getopt: "--nodename=[name]", long: "nodename", typ: "string",
		desc: "Name of the node to fence, used when no plug is given", set: setString(func(o *Options) *string { return &o.Nodename })},
	{name: "lab", getopt: "--lab=[name]", long: "lab", typ: "string",
		desc: "Name of the lab (default: the only lab under state_dir)", set: setString(func(o *Options) *string { return &o.Lab })},
	{name: "state_dir", getopt: "--state-dir=[dir]", long: "state-dir", typ: "string", def: lab.DefaultRunRoot,
		desc: "Directory holding the labs' run directories and control sockets", set: setString(func(o *Options) *string { return &o.StateDir })},
	{name: "delay", getopt: "--delay=[seconds]", long: "delay", typ: "second", def: "0",
		desc: "Wait X seconds before fencing is started", set: setSeconds(func(o *Options) *time.Duration { return &o.Delay })},
	{name: "power_timeout", getopt: "--power-timeout=[seconds]", long: "power-timeout", typ: "second", def: "60",
		desc: "Give up on a power operation after X seconds", set: setSeconds(func(o *Options) *time.Duration { return &o.PowerTimeout })},
	{name: "verbose", getopt: "-v, --verbose", short: "v", long: "verbose", boolean: true, typ: "boolean",
		desc: "Verbose mode", set: setBool(func(o *Options) *bool { return &o.Verbose })},
	{name: "quiet", getopt: "-q, --quiet", short: "q", long: "quiet", boolean: true, typ: "boolean",
		desc: "Disable logging to stderr", set: setBool(func(o *Options) *bool { return &o.Quiet })},
	{name: "version", getopt: "-V, --version", short: "V", long: "version", boolean: true, typ: "boolean",
		desc: "Display version information and exit", set: setBool(func(o *Options) *bool { return &o.Version })},
	{name: "help", getopt: "-h, --help", short: "h", long: "help", boolean: true, typ: "boolean",
		desc: "Display help and exit", set: setBool(func(o *Options) *bool { return &o.Help })},
}

// actions the agent implements; on is not automatic (like every power
// switch agent: Pacemaker does not unfence with it).
var actions = []string{"on", "off", "reboot", "status", "list", "list-status", "monitor", "metadata", "validate-all"}

func defaults() Options {
	return Options{Action: "reboot", StateDir: lab.DefaultRunRoot, PowerTimeout: 60 * time.Second}
}

// ParseStdin reads key=value lines, as Pacemaker passes them. Blank lines
// and lines starting with # are skipped; unknown keys are recorded.
func ParseStdin(r io.Reader) (Options, error) {
	o := defaults()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return o, fmt.Errorf("stdin: line %q is not key=value", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		p := byName(k)
		if p == nil {
			o.Unknown = append(o.Unknown, k)
			continue
		}
		if err := p.set(&o, v); err != nil {
			return o, fmt.Errorf("stdin %s: %w", k, err)
		}
	}
	if err := sc.Err(); err != nil {
		return o, fmt.Errorf("read stdin: %w", err)
	}
	return o, nil
}

// ParseArgs reads command-line options (args without the program name):
// -o ACTION, -oACTION, --action ACTION, --action=ACTION, -n PLUG, --plug,
// and the long forms of the other parameters.
func ParseArgs(args []string) (Options, error) {
	o := defaults()
	for i := 0; i < len(args); i++ {
		a := args[i]
		var p *param
		var val string
		hasVal := false
		switch {
		case strings.HasPrefix(a, "--"):
			name, v, eq := strings.Cut(a[2:], "=")
			p = byLong(name)
			val, hasVal = v, eq
		case strings.HasPrefix(a, "-") && len(a) >= 2:
			p = byShort(a[1:2])
			if len(a) > 2 {
				val, hasVal = a[2:], true
			}
		default:
			return o, fmt.Errorf("unexpected argument %q", a)
		}
		if p == nil {
			o.Unknown = append(o.Unknown, a)
			continue
		}
		if !p.boolean && !hasVal {
			if i+1 >= len(args) {
				return o, fmt.Errorf("option %s needs a value", a)
			}
			i++
			val = args[i]
		}
		if err := p.set(&o, val); err != nil {
			return o, fmt.Errorf("option %s: %w", a, err)
		}
	}
	return o, nil
}

func byName(k string) *param {
	for i := range params {
		if params[i].name == k {
			return &params[i]
		}
	}
	return nil
}

func byLong(k string) *param {
	if k == "port" { // accepted like fence-agents do
		return byName("port")
	}
	for i := range params {
		if params[i].long != "" && params[i].long == k {
			return &params[i]
		}
	}
	return nil
}

func byShort(k string) *param {
	for i := range params {
		if params[i].short != "" && params[i].short == k {
			return &params[i]
		}
	}
	return nil
}

// Validate checks options for their action.
func (o Options) Validate() error {
	known := false
	for _, a := range actions {
		if o.Action == a {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("unknown action %q", o.Action)
	}
	switch o.Action {
	case "on", "off", "reboot", "status":
		if o.Target() == "" {
			return fmt.Errorf("action %s needs a plug (or port, or nodename)", o.Action)
		}
	}
	if o.Lab != "" {
		if err := lab.ValidName(o.Lab); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	if o.StateDir == "" {
		return errors.New("state_dir is empty")
	}
	return nil
}

// Main runs the agent: args are os.Args (options are read from stdin when
// there are none after the program name).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o Options
	var err error
	if len(args) > 1 {
		o, err = ParseArgs(args[1:])
	} else if stdin != nil {
		o, err = ParseStdin(stdin)
	} else {
		o = defaults()
	}
	logf := func(format string, a ...any) {
		if !o.Quiet {
			fmt.Fprintf(stderr, "fence_goha_lab: "+format+"\n", a...)
		}
	}
	if err != nil {
		logf("%v", err)
		return exitError
	}
	for _, k := range o.Unknown {
		logf("ignoring unknown option %q", k)
	}
	switch {
	case o.Help:
		usage(stdout)
		return exitOK
	case o.Version:
		fmt.Fprintln(stdout, "fence_goha_lab (goha)")
		return exitOK
	case o.Action == "metadata":
		if err := WriteMetadata(stdout); err != nil {
			logf("%v", err)
			return exitError
		}
		return exitOK
	}
	if err := o.Validate(); err != nil {
		logf("%v", err)
		return exitError
	}
	if o.Action == "validate-all" {
		return exitOK
	}
	if o.Delay > 0 && (o.Action == "off" || o.Action == "reboot") {
		time.Sleep(o.Delay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.PowerTimeout)
	defer cancel()
	code, err := run(ctx, o, stdout)
	if err != nil {
		logf("%s %s: %v", o.Action, o.Target(), err)
	} else if o.Verbose {
		logf("%s %s: done", o.Action, o.Target())
	}
	return code
}

// run carries out an action through the lab controller.
func run(ctx context.Context, o Options, stdout io.Writer) (int, error) {
	name, err := lab.ResolveIn(o.StateDir, o.Lab)
	if err != nil {
		return exitError, err
	}
	sock := lab.SocketPath(o.StateDir, name)
	call := func(op, node string) (lab.PowerReply, error) {
		return lab.Power(ctx, sock, lab.PowerRequest{Op: op, Node: node})
	}
	switch o.Action {
	case "monitor":
		_, err := call(lab.OpPing, "")
		return codeOf(err), err
	case "list", "list-status":
		rep, err := call(lab.OpList, "")
		if err != nil {
			return exitError, err
		}
		for _, n := range rep.Nodes {
			if o.Action == "list" {
				fmt.Fprintf(stdout, "%s,%s\n", n, n)
				continue
			}
			st, err := call(lab.OpStatus, n)
			if err != nil {
				return exitError, err
			}
			fmt.Fprintf(stdout, "%s,%s,%s\n", n, n, onOff(st.On))
		}
		return exitOK, nil
	case "status":
		rep, err := call(lab.OpStatus, o.Target())
		if err != nil {
			return exitError, err
		}
		fmt.Fprintf(stdout, "Status: %s\n", strings.ToUpper(onOff(rep.On)))
		if rep.On {
			return exitOK, nil
		}
		return exitOff, nil
	case "on":
		_, err := call(lab.OpOn, o.Target())
		return codeOf(err), err
	case "off":
		_, err := call(lab.OpOff, o.Target())
		return codeOf(err), err
	case "reboot":
		_, err := call(lab.OpReboot, o.Target())
		return codeOf(err), err
	}
	return exitError, fmt.Errorf("unknown action %q", o.Action)
}

func codeOf(err error) int {
	if err != nil {
		return exitError
	}
	return exitOK
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: fence_goha_lab [options]  (or key=value options on stdin)")
	fmt.Fprintln(w, "Options:")
	for _, p := range params {
		fmt.Fprintf(w, "  %-28s %s\n", p.getopt, p.desc)
	}
	fmt.Fprintf(w, "Actions: %s\n", strings.Join(actions, ", "))
}
