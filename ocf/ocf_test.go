package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func testAgent() *Agent {
	return &Agent{
		Name: "demo", Version: "1.2.3", Short: "A demo agent", Long: "Exercises the OCF runtime.",
		Params: []Param{
			{Name: "ip", Required: true, Unique: true, Short: "address", Check: func(v string) error {
				if !strings.Contains(v, ".") {
					return errors.New("is not an IPv4 address")
				}
				return nil
			}},
			{Name: "count", Type: Integer, Default: "5", Min: Bound(1), Max: Bound(10), Short: "how many"},
			{Name: "fast", Type: Boolean, Default: "false", Short: "hurry", Reloadable: true},
			{Name: "mode", Type: Enum, Values: []string{"a", "b"}, Default: "a", Short: "mode"},
			{Name: "password", Secret: true, Short: "secret"},
		},
		Ops: []Op{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Depth: 0},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 11 * time.Second, Role: "Promoted"},
			{Name: "reload-agent", Timeout: 20 * time.Second},
		},
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err    error
		status Status
		reason string
	}{
		{nil, Success, ""},
		{ErrNotRunning, NotRunning, ""},
		{Fail(ErrConfigured, "parameter %s is required", "ip"), ErrConfigured, "parameter ip is required"},
		{fmt.Errorf("start: %w", Fail(ErrInstalled, "no binary")), ErrInstalled, "start: no binary"},
		{errors.New("boom"), ErrGeneric, "boom"},
		{Wrap(ErrGeneric, errors.New("EPERM"), "add address"), ErrGeneric, "add address: EPERM"},
	}
	for _, tt := range tests {
		if got := StatusOf(tt.err); got != tt.status {
			t.Errorf("StatusOf(%v) = %v, want %v", tt.err, got, tt.status)
		}
		if got := ReasonOf(tt.err); got != tt.reason {
			t.Errorf("ReasonOf(%v) = %q, want %q", tt.err, got, tt.reason)
		}
	}
	if RunningPromoted.String() != "OCF_RUNNING_PROMOTED" || Status(42).String() != "OCF_STATUS_42" {
		t.Errorf("status names: %v %v", RunningPromoted, Status(42))
	}
}

func TestValidate(t *testing.T) {
	a := testAgent()
	tests := []struct {
		name string
		raw  map[string]string
		want string // "" = valid; else a substring of the reason
	}{
		{"minimal", map[string]string{"ip": "10.0.0.1"}, ""},
		{"missing required", map[string]string{}, "parameter ip is required"},
		{"empty required", map[string]string{"ip": ""}, "parameter ip is required"},
		{"custom check", map[string]string{"ip": "fe80::1"}, "parameter ip is not an IPv4 address"},
		{"not an integer", map[string]string{"ip": "1.1.1.1", "count": "x"}, "parameter count must be an integer"},
		{"below min", map[string]string{"ip": "1.1.1.1", "count": "0"}, "count=0 is below the minimum 1"},
		{"above max", map[string]string{"ip": "1.1.1.1", "count": "11"}, "count=11 is above the maximum 10"},
		{"bad bool", map[string]string{"ip": "1.1.1.1", "fast": "maybe"}, "parameter fast must be a boolean"},
		{"good bool", map[string]string{"ip": "1.1.1.1", "fast": "YES"}, ""},
		{"bad enum", map[string]string{"ip": "1.1.1.1", "mode": "c"}, "parameter mode must be one of a, b"},
		{"unknown ignored", map[string]string{"ip": "1.1.1.1", "nonsense": "1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewValues(a.Params, tt.raw).Validate(a.Params)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if StatusOf(err) != ErrConfigured || !strings.Contains(ReasonOf(err), tt.want) {
				t.Fatalf("Validate = %v (%v), want ErrConfigured containing %q", err, StatusOf(err), tt.want)
			}
		})
	}
}

func TestValuesDefaults(t *testing.T) {
	a := testAgent()
	v := NewValues(a.Params, map[string]string{"ip": "1.2.3.4", "fast": "on", "count": ""})
	if v.String("ip") != "1.2.3.4" || v.Int("count") != 5 || !v.Bool("fast") || v.String("mode") != "a" {
		t.Errorf("values: ip=%q count=%d fast=%v mode=%q", v.String("ip"), v.Int("count"), v.Bool("fast"), v.String("mode"))
	}
	if !v.IsSet("count") || v.IsSet("mode") {
		t.Errorf("IsSet: count=%v mode=%v", v.IsSet("count"), v.IsSet("mode"))
	}
}

func TestParseEnv(t *testing.T) {
	e := ParseEnv([]string{
		"OCF_RESOURCE_INSTANCE=db:2",
		"OCF_RESKEY_ip=10.1.1.1",
		"OCF_RESKEY_CRM_meta_timeout=30000",
		"OCF_RESKEY_CRM_meta_interval=10000",
		"OCF_RESKEY_CRM_meta_on_node=n2",
		"OCF_RESKEY_CRM_meta_clone=2",
		"OCF_RESKEY_CRM_meta_clone_max=3",
		"OCF_RESKEY_CRM_meta_master_max=3",
		"OCF_RESKEY_CRM_meta_promotable=true",
		"OCF_RESKEY_CRM_meta_notify=true",
		"OCF_RESKEY_CRM_meta_notify_type=post",
		"OCF_RESKEY_CRM_meta_notify_operation=promote",
		"OCF_RESKEY_CRM_meta_notify_promote_uname=n1 n3 ",
		"OCF_RESKEY_CRM_meta_notify_master_uname=n1",
		"OCF_CHECK_LEVEL=10",
		"PATH=/bin",
		"broken",
	})
	if e.Resource != "db:2" || e.ResourceName() != "db" || e.Params["ip"] != "10.1.1.1" || len(e.Params) != 1 {
		t.Errorf("resource/params: %+v", e)
	}
	m := e.Meta
	if m.Timeout != 30*time.Second || m.Interval != 10*time.Second || m.OnNode != "n2" || m.Clone != "2" ||
		m.CloneMax != 3 || m.PromotedMax != 3 || !m.Promotable || !m.NotifyEnabled {
		t.Errorf("meta: %+v", m)
	}
	n := e.Notify
	if n.Type != "post" || n.Operation != "promote" || strings.Join(n.Promote, ",") != "n1,n3" || strings.Join(n.Promoted, ",") != "n1" {
		t.Errorf("notify: %+v", n)
	}
	if e.CheckLevel != 10 {
		t.Errorf("check level %d", e.CheckLevel)
	}
}

func TestMetadataValidatesAgainstDTD(t *testing.T) {
	var buf bytes.Buffer
	if err := testAgent().WriteMetadata(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">`,
		`<resource-agent name="demo" version="1.2.3">`,
		`<parameter name="ip" unique="1" required="1">`,
		`<content type="integer" default="5"/>`,
		`<content type="string" default="a"/>`,
		`Allowed values: a, b.`,
		`Range: 1 to 10.`,
		`<action name="monitor" timeout="20s" interval="11s" role="Promoted"/>`,
		`<action name="validate-all" timeout="5s"/>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("meta-data lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "reload-agent") {
		t.Errorf("meta-data advertises reload-agent, which ra-api-1.dtd rejects")
	}
	dtd := "/usr/share/resource-agents/ra-api-1.dtd"
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed (libxml2-utils): DTD validation not run")
	}
	if _, err := os.Stat(dtd); err != nil {
		t.Skip("resource-agents not installed: no ra-api-1.dtd to validate against")
	}
	cmd := exec.Command("xmllint", "--noout", "--valid", "-")
	cmd.Dir = filepath.Dir(dtd)
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmllint --valid: %v\n%s\n%s", err, b, out)
	}
}

// run executes one action of a with the given environment.
func run(t *testing.T, a *Agent, action string, env ...string) (Status, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		for _, kv := range env {
			if key, v, ok := strings.Cut(kv, "="); ok && key == k {
				return v
			}
		}
		return ""
	}
	st := a.Run(context.Background(), action, System{
		Environ: env, Getenv: getenv, Stdout: &stdout, Stderr: &stderr, NoLock: true,
	})
	return st, stdout.String(), stderr.String()
}

func TestRunDispatch(t *testing.T) {
	a := testAgent()
	var called []string
	a.Start = func(ctx context.Context, r *Request) error {
		called = append(called, "start")
		if _, ok := ctx.Deadline(); !ok {
			t.Error("start without deadline")
		}
		r.Log.Infof("using password %s", r.Params.String("password"))
		return nil
	}
	a.Stop = func(ctx context.Context, r *Request) error { called = append(called, "stop"); return nil }
	a.Monitor = func(ctx context.Context, r *Request) error {
		called = append(called, fmt.Sprintf("monitor probe=%v", r.IsProbe()))
		return ErrNotRunning
	}
	a.Validate = func(ctx context.Context, r *Request) error {
		if r.Params.String("ip") == "9.9.9.9" {
			return Fail(ErrInstalled, "parameter ip: 9.9.9.9 is reserved")
		}
		return nil
	}

	tests := []struct {
		action string
		env    []string
		status Status
		reason string // expected ocf-exit-reason, "" = none
	}{
		{"meta-data", nil, Success, ""},
		{"usage", nil, Success, ""},
		{"", nil, ErrArgs, ""},
		{"frobnicate", nil, ErrUnimplemented, `action "frobnicate" is not implemented by demo`},
		{"promote", []string{"OCF_RESKEY_ip=1.1.1.1"}, ErrUnimplemented, `action "promote" is not implemented`},
		{"validate-all", []string{"OCF_RESKEY_ip=1.1.1.1"}, Success, ""},
		{"validate-all", nil, ErrConfigured, "parameter ip is required"},
		{"validate-all", []string{"OCF_RESKEY_ip=9.9.9.9"}, ErrInstalled, "9.9.9.9 is reserved"},
		{"start", []string{"OCF_RESKEY_ip=bad"}, ErrConfigured, "parameter ip is not an IPv4 address"},
		{"start", []string{"OCF_RESKEY_ip=1.1.1.1", "OCF_RESKEY_password=hunter2", "OCF_RESOURCE_INSTANCE=d"}, Success, ""},
		{"stop", []string{"OCF_RESKEY_ip=bad"}, Success, ""},
		{"monitor", []string{"OCF_RESKEY_ip=bad"}, NotRunning, ""},
		{"monitor", []string{"OCF_RESKEY_ip=bad", "OCF_RESKEY_CRM_meta_interval=10000"}, ErrConfigured, "parameter ip"},
		{"monitor", []string{"OCF_RESKEY_ip=1.1.1.1"}, NotRunning, ""},
		{"status", []string{"OCF_RESKEY_ip=1.1.1.1"}, 3, ""},
	}
	for _, tt := range tests {
		st, stdout, stderr := run(t, a, tt.action, tt.env...)
		if st != tt.status {
			t.Errorf("%s %v: status %v, want %v (stderr %q)", tt.action, tt.env, st, tt.status, stderr)
		}
		hasReason := strings.Contains(stderr, "ocf-exit-reason:")
		if (tt.reason != "") != hasReason || !strings.Contains(stderr, tt.reason) {
			t.Errorf("%s %v: stderr %q, want exit reason %q", tt.action, tt.env, stderr, tt.reason)
		}
		if strings.Contains(stderr+stdout, "hunter2") {
			t.Errorf("%s: secret leaked: %q", tt.action, stderr)
		}
		if tt.action == "meta-data" && !strings.HasPrefix(stdout, "<?xml") {
			t.Errorf("meta-data output: %q", stdout)
		}
	}
	// A stop or probe with invalid parameters never reaches the agent.
	want := "start,monitor probe=true,monitor probe=true"
	if got := strings.Join(called, ","); got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestTimeoutFromMeta(t *testing.T) {
	a := testAgent()
	var got time.Duration
	a.Start = func(ctx context.Context, r *Request) error {
		dl, _ := ctx.Deadline()
		got = time.Until(dl)
		return nil
	}
	run(t, a, "start", "OCF_RESKEY_ip=1.1.1.1", "OCF_RESKEY_CRM_meta_timeout=3000")
	if got <= 2*time.Second || got > 3*time.Second {
		t.Errorf("deadline in %v, want about 3s", got)
	}
	run(t, a, "start", "OCF_RESKEY_ip=1.1.1.1")
	if got <= 19*time.Second || got > 20*time.Second {
		t.Errorf("deadline in %v, want the declared 20s", got)
	}
}

func TestLoggerRedactsAndFormats(t *testing.T) {
	dir := t.TempDir()
	logfile := filepath.Join(dir, "ha.log")
	debugfile := filepath.Join(dir, "debug.log")
	var stderr bytes.Buffer
	l := NewLogger(LogConfig{Tag: "vip(v)[1]", File: logfile, DebugFile: debugfile, Stderr: &stderr})
	l.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	l.Redact("s3cret")
	l.Infof("login with s3cret")
	l.Debugf("hidden without HA_debug")
	l.ExitReason("bad\npassword s3cret")
	b, _ := os.ReadFile(logfile)
	want := "2026/01/02_03:04:05 vip(v)[1]:    INFO: login with ***\n" +
		"2026/01/02_03:04:05 vip(v)[1]:    ERROR: bad password ***\n"
	if string(b) != want {
		t.Errorf("log file:\n%q\nwant\n%q", b, want)
	}
	if d, _ := os.ReadFile(debugfile); strings.Contains(string(d), "hidden") || !strings.Contains(string(d), "vip(v)[1]:\t2026/01/02_03:04:05 INFO: login with ***") {
		t.Errorf("debug log: %q", d)
	}
	if stderr.String() != "ocf-exit-reason:bad password ***\n" {
		t.Errorf("stderr %q", stderr.String())
	}

	stderr.Reset()
	l = NewLogger(LogConfig{Tag: "t", Debug: true, Stderr: &stderr})
	l.Debugf("shown")
	if !strings.Contains(stderr.String(), "DEBUG: shown") {
		t.Errorf("without sinks, stderr gets the log: %q", stderr.String())
	}
}

func TestLockSerialises(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := AcquireLock(ctx, dir, "vip", "v:0")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			l.Release()
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Errorf("%d holders at once", maxInside)
	}

	held, err := AcquireLock(ctx, dir, "vip", "other")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := AcquireLock(short, dir, "vip", "other"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second holder: %v, want deadline exceeded", err)
	}
}

func TestAttrArgs(t *testing.T) {
	got := strings.Join(attrArgs("n1", "master-db", Transient, "--update", "100"), " ")
	if got != "--type nodes --lifetime reboot --name master-db --node n1 --update 100" {
		t.Errorf("args %q", got)
	}
	got = strings.Join(attrArgs("", "x", Permanent, "--delete"), " ")
	if got != "--type nodes --lifetime forever --name x --delete" {
		t.Errorf("args %q", got)
	}
	if PromotionScoreName("db:2") != "master-db" {
		t.Errorf("score name %q", PromotionScoreName("db:2"))
	}
}

// fakeAttrs records attribute writes, for SetPromotionScore.
type fakeAttrs struct{ m map[string]string }

func (f *fakeAttrs) Get(_ context.Context, node, name string, _ Lifetime) (string, bool, error) {
	v, ok := f.m[node+"/"+name]
	return v, ok, nil
}
func (f *fakeAttrs) Set(_ context.Context, node, name, value string, _ Lifetime) error {
	f.m[node+"/"+name] = value
	return nil
}
func (f *fakeAttrs) Delete(_ context.Context, node, name string, _ Lifetime) error {
	delete(f.m, node+"/"+name)
	return nil
}

func TestSetPromotionScore(t *testing.T) {
	f := &fakeAttrs{m: map[string]string{}}
	ctx := context.Background()
	if err := SetPromotionScore(ctx, f, "n1", "db:0", 100); err != nil || f.m["n1/master-db"] != "100" {
		t.Fatalf("set: %v %v", err, f.m)
	}
	if err := SetPromotionScore(ctx, f, "n1", "db:0", -1); err != nil || len(f.m) != 0 {
		t.Fatalf("delete: %v %v", err, f.m)
	}
}
