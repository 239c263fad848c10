package pcmk

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestExecExitError(t *testing.T) {
	out, err := Exec{}.Run(context.Background(), []byte("in"), []string{"X=1"}, "sh", "-c", `cat; echo " $X"; echo oops >&2; exit 3`)
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	if ee.Code != 3 || string(out) != "in 1\n" || !strings.Contains(err.Error(), "oops") {
		t.Errorf("code %d, out %q, err %v", ee.Code, out, err)
	}
	if _, err := (Exec{}).Run(context.Background(), nil, nil, "/nonexistent/program"); err == nil || errors.As(err, &ee) {
		t.Errorf("a missing program gave %v", err)
	}
}

// fake answers like the Pacemaker tools do, for the parts goha reads.
type fake struct {
	out  string
	code int
	argv []string
}

func (f *fake) Run(_ context.Context, _ []byte, _ []string, name string, args ...string) ([]byte, error) {
	f.argv = append([]string{name}, args...)
	if f.code != 0 {
		return []byte(f.out), &ExitError{Cmd: name, Code: f.code, Stdout: []byte(f.out)}
	}
	return []byte(f.out), nil
}

func TestTools(t *testing.T) {
	ctx := context.Background()
	f := &fake{out: "Pacemaker 2.1.5\nWritten by"}
	if v := (Tools{R: f}).InstalledVersion(ctx); v != "2.1.5" {
		t.Errorf("InstalledVersion = %q", v)
	}
	f = &fake{out: "<diff/>", code: 1}
	patch, err := Tools{R: f}.Diff(ctx, []byte("<a/>"), []byte("<b/>"))
	if err != nil || string(patch) != "<diff/>" || f.argv[1] != "--no-version" {
		t.Errorf("Diff = %q, %v (argv %v)", patch, err, f.argv)
	}
	f = &fake{}
	if patch, err := (Tools{R: f}).Diff(ctx, []byte("<a/>"), []byte("<a/>")); err != nil || patch != nil {
		t.Errorf("Diff of equal CIBs = %q, %v", patch, err)
	}
	f = &fake{code: 2}
	if _, err := (Tools{R: f}).Diff(ctx, nil, nil); err == nil {
		t.Error("crm_diff failing is not an error")
	}
	f = &fake{out: "bad", code: 78}
	if _, err := (Tools{R: f}).Verify(ctx, []byte("<cib/>")); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("Verify error = %v", err)
	}
}

func TestVerifyReal(t *testing.T) {
	if !Installed("crm_verify") {
		t.Skip("crm_verify is not installed (apt-get install pacemaker-cli-utils)")
	}
	if !KnowsSchema("pacemaker-3.7") || KnowsSchema("pacemaker-99.0") {
		t.Error("KnowsSchema is wrong about the installed schemas")
	}
	_, err := Tools{R: Exec{}, TempDir: t.TempDir()}.Verify(context.Background(), []byte(`<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources><primitive id="x"/></resources><constraints/></configuration><status/></cib>`))
	if err == nil || !strings.Contains(err.Error(), "Relax-NG") {
		t.Errorf("an invalid CIB passed crm_verify: %v", err)
	}
}
