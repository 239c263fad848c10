package agenttest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnv(t *testing.T) {
	got := Env("/run/x", "db:1", "ip=192.0.2.1", "OCF_CHECK_LEVEL=10")
	for _, want := range []string{"HA_RSCTMP=/run/x", "OCF_RESOURCE_INSTANCE=db:1", "OCF_RESKEY_ip=192.0.2.1", "OCF_CHECK_LEVEL=10"} {
		if !slices.Contains(got, want) {
			t.Errorf("Env lacks %s: %v", want, got)
		}
	}
}

func TestRun(t *testing.T) {
	r := Run(t, 10*time.Second, []string{"PATH=/usr/bin:/bin"}, "sh", "-c", "echo out; echo err >&2; exit 7")
	if r.RC != 7 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("Run = %+v", r)
	}
	if s := r.String(); !strings.Contains(s, "rc=7") || !strings.Contains(s, "err") {
		t.Errorf("String = %q", s)
	}
}
