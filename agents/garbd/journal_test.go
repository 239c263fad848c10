package garbd

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		line string
		want event
	}{
		{"2026-11-23 12:55:41.712  INFO: Read config: ", event{Kind: evRunStart, Time: "2026-11-23 12:55:41.712"}},
		{"2026-11-23 12:55:42.714  INFO: gcomm: connected", event{Kind: evConnected, Time: "2026-11-23 12:55:42.714"}},
		{"2026-11-23 12:55:42.715  INFO: New COMPONENT: primary = yes, bootstrap = no, my_idx = 1, memb_num = 2",
			event{Kind: evComponent, Time: "2026-11-23 12:55:42.715", Primary: true, Members: 2}},
		{"2026-11-23 12:57:23.357  INFO: New COMPONENT: primary = no, bootstrap = no, my_idx = 0, memb_num = 1",
			event{Kind: evComponent, Time: "2026-11-23 12:57:23.357", Members: 1}},
		{"2026-11-23 12:55:42.716  INFO: Shifting JOINED -> SYNCED (TO: 2)", event{Kind: evState, Time: "2026-11-23 12:55:42.716", State: "SYNCED"}},
		{"2026-11-23 12:55:42.715  INFO: Shifting OPEN -> PRIMARY (TO: 2)", event{Kind: evState, Time: "2026-11-23 12:55:42.715", State: "PRIMARY"}},
		{"2026-11-23 12:58:08.451  INFO: Restored state OPEN -> SYNCED (5)", event{Kind: evState, Time: "2026-11-23 12:58:08.451", State: "SYNCED"}},
		{"2026-11-23 12:56:29.877  INFO: Failed to establish connection: Connection refused",
			event{Kind: evUnreachable, Time: "2026-11-23 12:56:29.877", Text: "Failed to establish connection: Connection refused"}},
		{"2026-11-23 12:56:30.849 ERROR: failed to open gcomm backend connection: 110: failed to reach primary view",
			event{Kind: evError, Time: "2026-11-23 12:56:30.849", Text: "failed to open gcomm backend connection: 110: failed to reach primary view"}},
		{"2026-11-23 12:56:31.850 FATAL: Exception in creating receive loop: Failed to open connection to group",
			event{Kind: evError, Time: "2026-11-23 12:56:31.850", Text: "Exception in creating receive loop: Failed to open connection to group"}},
		{"FATAL: Failed to open configuration file '/nonexistent' for reading.",
			event{Kind: evError, Text: "Failed to open configuration file '/nonexistent' for reading."}},
		{"2026-11-23 12:55:53.954  INFO: Exiting main loop", event{Kind: evExit, Time: "2026-11-23 12:55:53.954"}},
		// Not events: continuation lines, ordinary chatter, look-alikes.
		{"\tgroup:   gtest", event{}},
		{"} partitioned {", event{}},
		{"2026-11-23 12:55:41.713  INFO: backend: asio", event{Time: "2026-11-23 12:55:41.713"}},
		{"2026-11-23 12:55:42.215  INFO: Node 2b4fe3c6-aa4e state prim", event{Time: "2026-11-23 12:55:42.215"}},
		{"2026-11-23 12:56:36.786  WARN: last inactive check more than PT1.5S ago (PT1.5016S), skipping check", event{Time: "2026-11-23 12:56:36.786"}},
		{"New COMPONENT: primary = yes, bootstrap = no, my_idx = 1, memb_num = 2", event{}},
		{"", event{}},
	} {
		if got := classify(tc.line); got != tc.want {
			t.Errorf("classify(%q)\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

// foldLines applies lines to a fresh Progress.
func foldLines(lines ...string) Progress {
	var p Progress
	for _, l := range lines {
		p.Apply(l)
	}
	return p
}

func TestProgressApply(t *testing.T) {
	const (
		readConfig = "2026-11-23 12:00:00.000  INFO: Read config: "
		connected  = "2026-11-23 12:00:01.000  INFO: gcomm: connected"
		prim       = "2026-11-23 12:00:01.100  INFO: New COMPONENT: primary = yes, bootstrap = no, my_idx = 1, memb_num = 3"
		synced     = "2026-11-23 12:00:01.200  INFO: Shifting JOINED -> SYNCED (TO: 2)"
		nonPrim    = "2026-11-23 12:05:00.000  INFO: New COMPONENT: primary = no, bootstrap = no, my_idx = 0, memb_num = 1"
		toOpen     = "2026-11-23 12:05:00.001  INFO: Shifting SYNCED -> OPEN (TO: 4)"
		refused    = "2026-11-23 12:05:01.000  INFO: Failed to establish connection: Connection refused"
		errPrim    = "2026-11-23 12:05:30.000 ERROR: failed to open gcomm backend connection: 110: failed to reach primary view"
		fatal      = "2026-11-23 12:05:31.000 FATAL: Exception in creating receive loop: Failed to open connection to group"
		restored   = "2026-11-23 12:06:00.000  INFO: Restored state OPEN -> SYNCED (5)"
		primAgain  = "2026-11-23 12:06:00.000  INFO: New COMPONENT: primary = yes, bootstrap = no, my_idx = 1, memb_num = 2"
		exiting    = "2026-11-23 12:07:00.000  INFO: Exiting main loop"
	)
	for _, tc := range []struct {
		name       string
		lines      []string
		want       Progress
		joined, ok bool
	}{
		{"nothing yet", nil, Progress{}, false, true},
		{"connected only", []string{readConfig, connected}, Progress{Connected: true}, false, true},
		{"primary not yet synced", []string{readConfig, connected, prim},
			Progress{Component: Primary, Members: 3, Since: "2026-11-23 12:00:01.100", Connected: true}, false, true},
		{"joined", []string{readConfig, connected, prim, synced},
			Progress{Component: Primary, Members: 3, Since: "2026-11-23 12:00:01.100", State: "SYNCED", Connected: true}, true, true},
		{"lost quorum", []string{readConfig, connected, prim, synced, nonPrim, toOpen, refused},
			Progress{Component: NonPrimary, Members: 1, Since: "2026-11-23 12:05:00.000", State: "OPEN", Connected: true,
				Unreachable: "Failed to establish connection: Connection refused"}, false, false},
		{"rejoined clears the problems", []string{readConfig, connected, prim, synced, nonPrim, toOpen, refused, primAgain, restored},
			Progress{Component: Primary, Members: 2, Since: "2026-11-23 12:06:00.000", State: "SYNCED", Connected: true}, true, true},
		{"first error is kept", []string{readConfig, refused, errPrim, fatal},
			Progress{Problem: "failed to open gcomm backend connection: 110: failed to reach primary view",
				Unreachable: "Failed to establish connection: Connection refused"}, false, true},
		{"a new run forgets the old one", []string{readConfig, connected, prim, synced, exiting, readConfig},
			Progress{}, false, true},
		{"exit", []string{readConfig, connected, prim, synced, exiting},
			Progress{Component: Primary, Members: 3, Since: "2026-11-23 12:00:01.100", State: "SYNCED", Connected: true, Exited: true}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := foldLines(tc.lines...)
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if got.Joined() != tc.joined {
				t.Errorf("Joined() = %v, want %v", got.Joined(), tc.joined)
			}
			if h := assess(got); h.OK != tc.ok || h.Why == "" {
				t.Errorf("assess = %+v, want OK=%v with a reason", h, tc.ok)
			}
		})
	}
}

// TestRecordedLogs folds logs garbd 26.4.23 wrote against a MariaDB 10.11
// node: the conclusions start and monitor draw from them.
func TestRecordedLogs(t *testing.T) {
	for _, tc := range []struct {
		file        string
		want        Component
		state       string
		joined      bool
		failureHint string // in explainFailure
	}{
		{"join-and-leave.log", NonPrimary, "CLOSED", false, ""},
		{"refused.log", ComponentUnknown, "DESTROYED", false, "failed to reach primary view; Failed to establish connection: Connection refused"},
		{"wrong-cluster-name.log", ComponentUnknown, "DESTROYED", false, "failed to reach primary view"},
		{"partition-and-rejoin.log", Primary, "SYNCED", true, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var p Progress
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				p.Apply(sc.Text())
			}
			if p.Component != tc.want || p.State != tc.state || p.Joined() != tc.joined {
				t.Errorf("got %+v, want component %v state %s joined %v", p, tc.want, tc.state, tc.joined)
			}
			if !strings.Contains(explainFailure(p), tc.failureHint) {
				t.Errorf("explainFailure = %q, want it to contain %q", explainFailure(p), tc.failureHint)
			}
		})
	}
}

// TestRecordedPartition replays the partition log: between the node going
// silent and its return, a monitor must see a non-Primary component.
func TestRecordedPartition(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "partition-and-rejoin.log"))
	if err != nil {
		t.Fatal(err)
	}
	var p Progress
	var verdicts []bool // assess(p).OK after each component change
	for _, l := range strings.Split(string(raw), "\n") {
		before := p.Component
		p.Apply(l)
		if strings.Contains(l, "New COMPONENT") || p.Component != before {
			verdicts = append(verdicts, assess(p).OK)
		}
	}
	want := []bool{true, false, false, true} // joined, lost (logged twice), rejoined
	if !slices.Equal(verdicts, want) {
		t.Errorf("monitor verdicts along the log = %v, want %v", verdicts, want)
	}
}

// TestJoinedAtTheRightLine replays the join log line by line: start must
// conclude exactly at the SYNCED line, not at the Primary view before it.
func TestJoinedAtTheRightLine(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "join-and-leave.log"))
	if err != nil {
		t.Fatal(err)
	}
	var p Progress
	for _, l := range strings.Split(string(raw), "\n") {
		p.Apply(l)
		if p.Joined() {
			if !strings.Contains(l, "Shifting JOINED -> SYNCED") {
				t.Fatalf("joined at %q", l)
			}
			return
		}
	}
	t.Fatal("never joined")
}

func TestAssessNonPrimaryReason(t *testing.T) {
	p := foldLines(
		"2026-11-23 12:05:00.000  INFO: New COMPONENT: primary = no, bootstrap = no, my_idx = 0, memb_num = 1",
		"2026-11-23 12:05:01.000  INFO: Failed to establish connection: Connection refused",
	)
	h := assess(p)
	for _, want := range []string{"non-Primary", "1 member", "since 2026-11-23 12:05:00.000", "Connection refused"} {
		if !strings.Contains(h.Why, want) {
			t.Errorf("reason %q lacks %q", h.Why, want)
		}
	}
}
