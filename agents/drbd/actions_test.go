package drbd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

// fakeAttrs records attribute writes.
type fakeAttrs struct {
	vals map[string]string
	ops  []string
}

func (f *fakeAttrs) Get(_ context.Context, node, name string, _ ocf.Lifetime) (string, bool, error) {
	v, ok := f.vals[node+"/"+name]
	return v, ok, nil
}

func (f *fakeAttrs) Set(_ context.Context, node, name, value string, _ ocf.Lifetime) error {
	f.vals[node+"/"+name] = value
	f.ops = append(f.ops, fmt.Sprintf("set %s/%s=%s", node, name, value))
	return nil
}

func (f *fakeAttrs) Delete(_ context.Context, node, name string, _ ocf.Lifetime) error {
	delete(f.vals, node+"/"+name)
	f.ops = append(f.ops, fmt.Sprintf("delete %s/%s", node, name))
	return nil
}

// bench runs the agent's actions against fakeTools and fakeAttrs.
type bench struct {
	t     *testing.T
	dir   string
	tools *fakeTools
	attrs *fakeAttrs
	env   []string
}

func newBench(t *testing.T) *bench {
	dir := t.TempDir()
	conf := filepath.Join(dir, "drbd.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &bench{t: t, dir: dir, tools: &fakeTools{}, attrs: &fakeAttrs{vals: map[string]string{}},
		env: []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=data:0", "HA_RSCTMP=" + dir,
			"OCF_RESKEY_CRM_meta_on_node=alpha", "OCF_RESKEY_CRM_meta_timeout=20000",
			"OCF_RESKEY_drbd_resource=data", "OCF_RESKEY_drbdconf=" + conf,
			"OCF_RESKEY_drbdadm=/bin/true", "OCF_RESKEY_drbdsetup=/bin/true", "OCF_RESKEY_wfc_timeout=0"}}
}

func (b *bench) run(action string, extra ...string) (ocf.Status, string) {
	b.t.Helper()
	env := append(slices.Clone(b.env), extra...)
	getenv := func(k string) string {
		v := ""
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				v = kv[len(k)+1:]
			}
		}
		return v
	}
	a := &actions{tools: func(*ocf.Request) drbdTools { return b.tools }, getenv: getenv}
	var stderr bytes.Buffer
	status := newAgent(a).Run(context.Background(), action, ocf.System{
		Environ: env, Getenv: getenv, Stdout: &bytes.Buffer{}, Stderr: &stderr, Attrs: b.attrs, NoLock: true})
	return status, stderr.String()
}

func (b *bench) expect(what string, got ocf.Status, stderr string, want ocf.Status, reason string) {
	b.t.Helper()
	if got != want || !strings.Contains(stderr, reason) {
		b.t.Fatalf("%s: status %v, want %v with %q\n%s", what, got, want, reason, stderr)
	}
}

func (b *bench) score() string { return b.attrs.vals["alpha/master-data"] }

// simulate makes the fake's drbdadm change the state as DRBD would.
func (b *bench) simulate() {
	b.tools.onAdm = func(cmd string) {
		switch cmd {
		case "up":
			b.tools.up, b.tools.s.Role = true, Secondary
		case "down":
			b.tools.up = false
		case "primary":
			b.tools.s.Role = Primary
		case "secondary":
			b.tools.s.Role = Secondary
		}
	}
}

const (
	recurring = "OCF_RESKEY_CRM_meta_interval=20000"
	short     = "OCF_RESKEY_CRM_meta_timeout=2500"
)

func TestLifecycle(t *testing.T) {
	b := newBench(t)
	b.simulate()
	b.tools.s = twoNode(Secondary, UpToDate, Connected, Secondary, UpToDate)

	st, out := b.run("monitor")
	b.expect("probe while down", st, out, ocf.NotRunning, "")
	if !slices.Equal(b.attrs.ops, []string{"delete alpha/master-data"}) {
		t.Fatalf("probe of a stopped instance: %v", b.attrs.ops)
	}
	st, out = b.run("start")
	b.expect("start", st, out, ocf.Success, "")
	if !slices.Equal(b.tools.cmds, []string{"dump", "up"}) || b.score() != "10000" {
		t.Fatalf("start ran %v, score %q", b.tools.cmds, b.score())
	}
	st, out = b.run("start")
	b.expect("second start", st, out, ocf.Success, "")
	if b.tools.cmds[len(b.tools.cmds)-1] != "adjust" {
		t.Fatalf("second start ran %v", b.tools.cmds)
	}

	n := len(b.attrs.ops)
	st, out = b.run("monitor", recurring)
	b.expect("monitor", st, out, ocf.Success, "")
	if len(b.attrs.ops) != n {
		t.Fatalf("a monitor with an unchanged score wrote it again: %v", b.attrs.ops[n:])
	}
	b.tools.s = twoNode(Secondary, UpToDate, "Connecting", "Unknown", DUnknown)
	st, out = b.run("monitor", recurring)
	b.expect("monitor after link loss", st, out, ocf.Success, "")
	if b.score() != "1000" {
		t.Fatalf("score after link loss: %q (%v)", b.score(), b.attrs.ops)
	}

	st, out = b.run("promote")
	b.expect("promote", st, out, ocf.Success, "")
	st, out = b.run("monitor", recurring)
	b.expect("monitor of Primary", st, out, ocf.RunningPromoted, "")
	if b.score() != "10000" {
		t.Fatalf("score of a Primary: %q", b.score())
	}
	cmds := len(b.tools.cmds)
	st, out = b.run("promote")
	b.expect("second promote", st, out, ocf.Success, "")
	if slices.Contains(b.tools.cmds[cmds:], "primary") {
		t.Fatalf("promote of a Primary ran %v", b.tools.cmds[cmds:])
	}
	st, out = b.run("demote")
	b.expect("demote", st, out, ocf.Success, "")
	st, out = b.run("demote")
	b.expect("second demote", st, out, ocf.Success, "")
	if b.tools.s.Role != Secondary {
		t.Fatal("demote left it Primary")
	}

	st, out = b.run("stop")
	b.expect("stop", st, out, ocf.Success, "")
	if b.tools.up || b.score() != "" {
		t.Fatalf("stop left it up or a score %q", b.score())
	}
	st, out = b.run("stop")
	b.expect("second stop", st, out, ocf.Success, "")
	st, out = b.run("monitor", recurring)
	b.expect("monitor after stop", st, out, ocf.NotRunning, "")
	st, out = b.run("demote")
	b.expect("demote while stopped", st, out, ocf.NotRunning, "not started")
	st, out = b.run("promote")
	b.expect("promote while stopped", st, out, ocf.ErrGeneric, "not started")
}

func TestPromoteRefusals(t *testing.T) {
	t.Run("peer stays Primary", func(t *testing.T) {
		b := newBench(t)
		b.simulate()
		b.tools.up, b.tools.s = true, twoNode(Secondary, UpToDate, Connected, Primary, UpToDate)
		st, out := b.run("promote", short)
		b.expect("promote", st, out, ocf.ErrGeneric, "peer beta is Primary")
		if slices.Contains(b.tools.cmds, "primary") {
			t.Fatalf("ran drbdadm primary while the peer is Primary: %v", b.tools.cmds)
		}
	})
	t.Run("peer demotes while promote waits", func(t *testing.T) {
		b := newBench(t)
		b.simulate()
		b.tools.up, b.tools.s = true, twoNode(Secondary, UpToDate, Connected, Primary, UpToDate)
		reads := 0
		b.tools.statHook = func(f *fakeTools) {
			if reads++; reads == 3 {
				f.s.Connections[0].PeerRole = Secondary
			}
		}
		st, out := b.run("promote", short)
		b.expect("promote", st, out, ocf.Success, "")
		if b.tools.s.Role != Primary {
			t.Fatal("not Primary")
		}
	})
	t.Run("two primaries allowed", func(t *testing.T) {
		b := newBench(t)
		b.simulate()
		b.tools.up, b.tools.s = true, twoNode(Secondary, UpToDate, Connected, Primary, UpToDate)
		st, out := b.run("promote", short, "OCF_RESKEY_CRM_meta_promoted_max=2")
		b.expect("promote", st, out, ocf.Success, "")
	})
	t.Run("Outdated data", func(t *testing.T) {
		b := newBench(t)
		b.simulate()
		b.tools.up, b.tools.s = true, twoNode(Secondary, Outdated, "Connecting", "Unknown", DUnknown)
		st, out := b.run("promote")
		b.expect("promote", st, out, ocf.ErrGeneric, "disk is Outdated")
		if slices.Contains(b.tools.cmds, "primary") {
			t.Fatalf("ran drbdadm primary on Outdated data: %v", b.tools.cmds)
		}
	})
	t.Run("drbdadm primary exits 17", func(t *testing.T) {
		b := newBench(t)
		b.tools.up, b.tools.s = true, twoNode(Secondary, Consistent, "Connecting", "Unknown", DUnknown)
		b.tools.fail = map[string]error{"primary": &ToolError{Argv: []string{"drbdadm", "primary", "data"}, Code: ExitNoUpToDate,
			Output: "data: State change failed: (-2) Need access to UpToDate data\n", Err: fmt.Errorf("exit status 17")}}
		st, out := b.run("promote")
		b.expect("promote", st, out, ocf.ErrGeneric, "without access to UpToDate data: data: State change failed: (-2)")
		if n := strings.Count(strings.Join(b.tools.cmds, " "), "primary"); n != 1 {
			t.Fatalf("drbdadm primary ran %d times: exit 17 is final", n)
		}
	})
	t.Run("drbdadm primary keeps failing otherwise", func(t *testing.T) {
		b := newBench(t)
		b.tools.up, b.tools.s = true, twoNode(Secondary, UpToDate, "Connecting", "Unknown", DUnknown)
		b.tools.fail = map[string]error{"primary": &ToolError{Argv: []string{"drbdadm", "primary", "data"}, Code: 11,
			Output: "data: State change failed: (-1) Multiple primaries not allowed by config\n", Err: fmt.Errorf("exit status 11")}}
		st, out := b.run("promote", short)
		b.expect("promote", st, out, ocf.ErrGeneric, "before the timeout: data: State change failed: (-1)")
		if n := strings.Count(strings.Join(b.tools.cmds, " "), "primary"); n < 2 {
			t.Fatalf("drbdadm primary ran %d times, want retries", n)
		}
	})
}

func TestDemoteInUse(t *testing.T) {
	b := newBench(t)
	b.tools.up, b.tools.s = true, twoNode(Primary, UpToDate, Connected, Secondary, UpToDate)
	b.tools.fail = map[string]error{"secondary": &ToolError{Argv: []string{"drbdadm", "secondary", "data"}, Code: 11,
		Output: "data: State change failed: (-12) Device is held open by someone\n", Err: fmt.Errorf("exit status 11")}}
	st, out := b.run("demote", short)
	b.expect("demote", st, out, ocf.ErrGeneric, "held open")
	st, out = b.run("stop", short)
	b.expect("stop", st, out, ocf.ErrGeneric, "held open")
	if slices.Contains(b.tools.cmds, "down") {
		t.Fatalf("stop took a Primary in use down: %v", b.tools.cmds)
	}

	// A holder that lets go while stop retries.
	b = newBench(t)
	b.simulate()
	b.tools.up, b.tools.s = true, twoNode(Primary, UpToDate, Connected, Secondary, UpToDate)
	b.tools.fail = map[string]error{"secondary": &ToolError{Argv: []string{"drbdadm", "secondary", "data"}, Code: 11,
		Output: "data: State change failed: (-12) Device is held open by someone\n", Err: fmt.Errorf("exit status 11")}}
	reads := 0
	b.tools.statHook = func(f *fakeTools) {
		if reads++; reads == 3 {
			delete(f.fail, "secondary")
		}
	}
	st, out = b.run("stop", short)
	b.expect("stop after the holder let go", st, out, ocf.Success, "")
	if b.tools.up || strings.Count(strings.Join(b.tools.cmds, " "), "secondary") < 2 {
		t.Fatalf("stop ran %v", b.tools.cmds)
	}
}

func TestStopOutdatesSecondary(t *testing.T) {
	notify := []string{"OCF_RESKEY_CRM_meta_notify_master_uname=beta"}
	for _, tt := range []struct {
		name    string
		param   string
		role    string
		extra   []string
		outdate bool
	}{
		{"enabled, peer Primary", "true", Secondary, notify, true},
		{"disabled", "false", Secondary, notify, false},
		{"no Primary elsewhere", "true", Secondary, nil, false},
		{"this node was Primary", "true", Primary, []string{"OCF_RESKEY_CRM_meta_notify_master_uname=alpha beta"}, false},
		{"the Primary stops too", "true", Secondary, append(slices.Clone(notify), "OCF_RESKEY_CRM_meta_notify_stop_uname=alpha beta"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBench(t)
			b.simulate()
			b.tools.up, b.tools.s = true, twoNode(tt.role, UpToDate, Connected, Primary, UpToDate)
			st, out := b.run("stop", append(tt.extra, "OCF_RESKEY_stop_outdates_secondary="+tt.param)...)
			b.expect("stop", st, out, ocf.Success, "")
			if got := slices.Contains(b.tools.cmds, "outdate"); got != tt.outdate {
				t.Fatalf("ran %v, outdate wanted: %v", b.tools.cmds, tt.outdate)
			}
		})
	}
}

func TestNotifyRefreshesScore(t *testing.T) {
	b := newBench(t)
	b.tools.up, b.tools.s = true, twoNode(Secondary, UpToDate, Connected, Secondary, UpToDate)
	st, out := b.run("monitor")
	b.expect("probe", st, out, ocf.Success, "")
	if b.score() != "10000" {
		t.Fatalf("score %q", b.score())
	}
	b.tools.s.Connections[0].PeerRole = Primary
	post := func(op string) []string {
		return []string{"OCF_RESKEY_CRM_meta_notify_type=post", "OCF_RESKEY_CRM_meta_notify_operation=" + op,
			"OCF_RESKEY_CRM_meta_notify_" + op + "_uname=beta"}
	}
	st, out = b.run("notify", "OCF_RESKEY_CRM_meta_notify_type=pre", "OCF_RESKEY_CRM_meta_notify_operation=promote")
	b.expect("pre-promote", st, out, ocf.Success, "")
	if b.score() != "10000" {
		t.Fatalf("pre-promote changed the score: %q", b.score())
	}
	st, out = b.run("notify", post("promote")...)
	b.expect("post-promote of the peer", st, out, ocf.Success, "")
	if b.score() != "" {
		t.Fatalf("score while the peer is Primary: %q", b.score())
	}
	b.tools.s.Connections[0].PeerRole = Secondary
	st, out = b.run("notify", post("demote")...)
	b.expect("post-demote of the peer", st, out, ocf.Success, "")
	if b.score() != "10000" {
		t.Fatalf("score after the peer's demote: %q", b.score())
	}
	b.tools.statErr = fmt.Errorf("drbdsetup broke")
	st, out = b.run("notify", post("stop")...)
	b.expect("notify with a failing drbdsetup", st, out, ocf.Success, "")
}

func TestMonitorFailures(t *testing.T) {
	b := newBench(t)
	b.tools.up, b.tools.s = true, twoNode(Primary, Failed, Connected, Secondary, UpToDate)
	st, out := b.run("monitor", recurring)
	b.expect("Primary lost its disk", st, out, ocf.FailedPromoted, "lost its backing disk (Failed)")
	b.tools.s.Role = Secondary
	st, out = b.run("monitor", recurring)
	b.expect("Secondary lost its disk", st, out, ocf.ErrGeneric, "lost its backing disk")
	b.tools.statErr = &ToolError{Argv: []string{"drbdsetup", "status"}, Code: 20, Output: "netlink: broken\n", Err: fmt.Errorf("exit status 20")}
	st, out = b.run("monitor", recurring)
	b.expect("drbdsetup fails", st, out, ocf.ErrGeneric, "netlink: broken")
}

func TestValidate(t *testing.T) {
	clone := []string{"OCF_RESKEY_CRM_meta_clone=0", "OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1"}
	for _, tt := range []struct {
		name   string
		extra  []string
		fail   error
		status ocf.Status
		reason string
	}{
		{"plain", nil, nil, ocf.Success, ""},
		{"clone with notify", append(slices.Clone(clone), "OCF_RESKEY_CRM_meta_notify=true"), nil, ocf.Success, ""},
		{"clone without notify", clone, nil, ocf.ErrConfigured, "notify=true"},
		{"clone without notify, allowed", append(slices.Clone(clone), "OCF_RESKEY_ignore_missing_notifications=true"), nil, ocf.Success, ""},
		{"two per node", append(slices.Clone(clone), "OCF_RESKEY_CRM_meta_notify=true", "OCF_RESKEY_CRM_meta_clone_node_max=2"), nil, ocf.ErrConfigured, "clone-node-max=1"},
		{"three promoted", append(slices.Clone(clone), "OCF_RESKEY_CRM_meta_notify=true", "OCF_RESKEY_CRM_meta_promoted_max=3"), nil, ocf.ErrConfigured, "promoted-max"},
		{"undefined resource", nil, &ToolError{Argv: []string{"drbdadm", "dump"}, Code: 1, Output: "'data' not defined in your config (for this host).\n", Err: fmt.Errorf("exit status 1")},
			ocf.ErrArgs, "parameter drbd_resource: drbdadm dump: 'data' not defined in your config (for this host)."},
		{"missing drbdadm", []string{"OCF_RESKEY_drbdadm=/nonexistent/drbdadm"}, nil, ocf.ErrInstalled, "parameter drbdadm"},
		{"drbdsetup not in PATH", []string{"OCF_RESKEY_drbdsetup=goha-no-such-drbdsetup"}, nil, ocf.ErrInstalled, "parameter drbdsetup"},
		{"missing config", []string{"OCF_RESKEY_drbdconf=/nonexistent/drbd.conf"}, nil, ocf.ErrInstalled, "parameter drbdconf"},
		{"relative config", []string{"OCF_RESKEY_drbdconf=drbd.conf"}, nil, ocf.ErrConfigured, "drbdconf"},
		{"bad resource name", []string{"OCF_RESKEY_drbd_resource=a b"}, nil, ocf.ErrConfigured, "drbd_resource"},
		{"bad ladder", []string{"OCF_RESKEY_adjust_master_score=1 2 3"}, nil, ocf.ErrConfigured, "adjust_master_score"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBench(t)
			b.tools.fail = map[string]error{"dump": tt.fail}
			st, out := b.run("validate-all", tt.extra...)
			b.expect("validate-all", st, out, tt.status, tt.reason)
			if tt.status != ocf.Success {
				st, out = b.run("start", tt.extra...)
				b.expect("start", st, out, tt.status, tt.reason)
				if slices.Contains(b.tools.cmds, "up") {
					t.Fatalf("start with a bad configuration ran drbdadm up")
				}
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	var buf bytes.Buffer
	if err := Agent().WriteMetadata(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name="drbd_resource"`, `name="adjust_master_score"`, `name="stop_outdates_secondary"`,
		`name="promote"`, `name="demote"`, `name="notify"`, `role="Promoted"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("meta-data lacks %s", want)
		}
	}
}
