package garbd

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// What garbd 26.4 logs on its way into a cluster and out of it, as seen
// against a MariaDB 10.11 Galera node (one line each, after the timestamp
// and level):
//
//	Read config: ...                                   a new garbd run
//	gcomm: connected                                   group channel open
//	New COMPONENT: primary = yes, ..., memb_num = 2    in a Primary component
//	Shifting JOINED -> SYNCED (TO: 2)                  synced with the group
//	New COMPONENT: primary = no, ..., memb_num = 1     lost quorum: garbd keeps
//	                                                   running and rejoins later
//	Restored state OPEN -> SYNCED (5)                  rejoined after a partition
//	Failed to establish connection: Connection refused no peer answers
//	ERROR: ... failed to reach primary view            gave up (about 30 s),
//	FATAL: Exception in creating receive loop: ...     then exits with status 1
//	Exiting main loop                                  clean exit (SIGTERM)

// Component is what garbd last said about the component it is in.
type Component int

const (
	ComponentUnknown Component = iota // nothing logged yet
	Primary
	NonPrimary
)

func (c Component) String() string {
	switch c {
	case Primary:
		return "Primary"
	case NonPrimary:
		return "non-Primary"
	}
	return "unknown"
}

// Progress is what a garbd run has logged so far, folded line by line.
type Progress struct {
	Component   Component `json:"component"`
	Members     int       `json:"members"` // members of the last component
	Since       string    `json:"since"`   // timestamp of the last component change
	State       string    `json:"state"`   // the last GCS state: OPEN, PRIMARY, JOINER, JOINED, SYNCED...
	Connected   bool      `json:"connected"`
	Problem     string    `json:"problem"`     // the first error since the last Primary component
	Unreachable string    `json:"unreachable"` // the last failure to reach a peer, since then too
	Exited      bool      `json:"exited"`      // garbd logged its exit
}

// line is one parsed log line.
type line struct {
	Time  string
	Level string // INFO, WARN, ERROR, FATAL; "" for a continuation line
	Text  string
}

// lineRE matches a log line. Errors found before logging is set up (a
// missing --cfg file) come without a timestamp.
var lineRE = regexp.MustCompile(`^(?:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s+)?(INFO|WARN|ERROR|FATAL|DEBUG):\s?(.*)$`)

func parseLine(s string) line {
	s = strings.TrimRight(s, "\r\n")
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return line{Text: s}
	}
	return line{Time: m[1], Level: m[2], Text: m[3]}
}

// eventKind classifies a line by what it means for the arbitrator.
type eventKind int

const (
	evNone        eventKind = iota
	evRunStart              // Read config: a new garbd run begins
	evConnected             // gcomm: connected
	evComponent             // New COMPONENT: primary = yes|no
	evState                 // Shifting A -> B, Restored state A -> B
	evUnreachable           // Failed to establish connection
	evError                 // ERROR or FATAL
	evExit                  // Exiting main loop
)

// event is a classified line.
type event struct {
	Kind    eventKind
	Time    string
	Primary bool   // evComponent
	Members int    // evComponent
	State   string // evState: the state entered
	Text    string // evUnreachable, evError: the message
}

var (
	componentRE = regexp.MustCompile(`^New COMPONENT: primary = (yes|no)\b.*?(?:memb_num = (\d+))?$`)
	stateRE     = regexp.MustCompile(`^(?:Shifting|Restored state) ([A-Z_]+) -> ([A-Z_]+)\b`)
)

// classify says what one log line means.
func classify(s string) event {
	l := parseLine(s)
	e := event{Time: l.Time}
	if l.Level == "" {
		return e
	}
	switch {
	case l.Level == "ERROR" || l.Level == "FATAL":
		e.Kind, e.Text = evError, l.Text
	case strings.HasPrefix(l.Text, "Read config:"):
		e.Kind = evRunStart
	case l.Text == "gcomm: connected":
		e.Kind = evConnected
	case strings.HasPrefix(l.Text, "Failed to establish connection:"):
		e.Kind, e.Text = evUnreachable, l.Text
	case l.Text == "Exiting main loop":
		e.Kind = evExit
	default:
		if m := componentRE.FindStringSubmatch(l.Text); m != nil {
			e.Kind, e.Primary = evComponent, m[1] == "yes"
			e.Members, _ = strconv.Atoi(m[2])
		} else if m := stateRE.FindStringSubmatch(l.Text); m != nil {
			e.Kind, e.State = evState, m[2]
		}
	}
	return e
}

// Apply folds one log line into p.
func (p *Progress) Apply(s string) {
	e := classify(s)
	switch e.Kind {
	case evRunStart:
		*p = Progress{}
	case evConnected:
		p.Connected = true
	case evComponent:
		p.Component, p.Members, p.Since = NonPrimary, e.Members, e.Time
		if e.Primary {
			p.Component, p.Problem, p.Unreachable = Primary, "", ""
		}
	case evState:
		p.State = e.State
	case evUnreachable:
		p.Unreachable = e.Text
	case evError:
		if p.Problem == "" {
			p.Problem = e.Text
		}
	case evExit:
		p.Exited = true
	}
}

// Joined reports whether garbd has done what start waits for: it is a
// synced member of a Primary component.
func (p Progress) Joined() bool {
	return p.Component == Primary && p.State == "SYNCED"
}

// Health is a monitor's conclusion about a live garbd.
type Health struct {
	OK  bool
	Why string // what is wrong, or what is known when OK
}

// assess concludes from what a live garbd has logged. A garbd outside a
// Primary component keeps running and rejoins when it can, but while it is
// there it does not do its job: that is a failure for the cluster manager
// to act on. When the log says nothing about components (it was rotated
// away, or garbd was adopted without one), the live process is trusted.
func assess(p Progress) Health {
	switch p.Component {
	case Primary:
		return Health{OK: true, Why: fmt.Sprintf("garbd is in a Primary component of %d members (%s)", p.Members, stateOrUnknown(p.State))}
	case NonPrimary:
		why := "garbd is in a non-Primary component"
		if p.Members > 0 {
			why += fmt.Sprintf(" of %d member(s)", p.Members)
		}
		if p.Since != "" {
			why += " since " + p.Since
		}
		why += ": it lost the cluster's quorum or its connection to the nodes"
		if problem := p.problems(); problem != "" {
			why += " (" + problem + ")"
		}
		return Health{Why: why}
	}
	return Health{OK: true, Why: "garbd runs; its log tells nothing about its component"}
}

func stateOrUnknown(s string) string {
	if s == "" {
		return "state unknown"
	}
	return s
}

// explainFailure is the exit reason of a start that garbd did not survive
// or that ran out of time.
func explainFailure(p Progress) string {
	switch {
	case p.problems() != "":
		return p.problems()
	case p.Component == NonPrimary:
		return "it reached only a non-Primary component"
	case p.Component == Primary:
		return "it joined a Primary component but was not synced (state " + stateOrUnknown(p.State) + ")"
	case p.Connected:
		return "it connected but reached no component"
	}
	return "it logged no reason"
}

// problems joins the error and the unreachable peer, either may be empty.
func (p Progress) problems() string {
	switch {
	case p.Problem != "" && p.Unreachable != "":
		return p.Problem + "; " + p.Unreachable
	case p.Problem != "":
		return p.Problem
	}
	return p.Unreachable
}
