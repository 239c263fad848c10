package bench

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/internal/galerasolo"
)

// envMap is an environment as a map; a later entry wins, as in environ.
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestGaleraCaseDeclaration(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	c := GaleraCase(Config{AgentDir: "/agents", OCFRoot: "/ocf"})
	if c.Name != "galera" || c.Action != "" {
		t.Errorf("name %q action %q, want galera and the default monitor", c.Name, c.Action)
	}
	if c.Goal == nil || *c.Goal != (Goal{MaxRatio: 0.1, MaxForks: 0, CPUOnly: true}) {
		t.Errorf("goal %+v, want a tenth of the reference's CPU and no fork", c.Goal)
	}
	if c.Setup == nil || c.Notes == "" {
		t.Errorf("setup %v, notes %q: want both", c.Setup != nil, c.Notes)
	}
	for _, side := range []struct {
		inv      Invocation
		agent    string
		argv     string
		resource string
		own      map[string]string // parameters only this side gets
	}{
		{c.Goha, "ocf:goha:galera", "/agents/galera", GaleraGohaResource, nil},
		{c.Reference, "ocf:heartbeat:galera", "/ocf/resource.d/heartbeat/galera", GaleraReferenceResource,
			map[string]string{"OCF_RESKEY_binary": "/usr/sbin/mariadbd", "OCF_RESKEY_check_user": "root"}},
	} {
		inv := side.inv
		if inv.Agent != side.agent || !slices.Equal(inv.Argv, []string{side.argv}) {
			t.Errorf("%s: agent %q argv %v, want %s", side.agent, inv.Agent, inv.Argv, side.argv)
		}
		if inv.Expect != 8 || inv.Netns != "" {
			t.Errorf("%s: expect %d netns %q, want 8 (running promoted) in the harness's namespace", side.agent, inv.Expect, inv.Netns)
		}
		env := envMap(inv.Env)
		want := map[string]string{
			"OCF_RESOURCE_INSTANCE":            side.resource,
			"OCF_RESKEY_CRM_meta_interval":     "10000",
			"OCF_RESKEY_CRM_meta_timeout":      "20000",
			"OCF_RESKEY_CRM_meta_role":         "Promoted",
			"OCF_RESKEY_CRM_meta_promotable":   "true",
			"OCF_RESKEY_CRM_meta_on_node":      host,
			"OCF_RESKEY_binary":                side.own["OCF_RESKEY_binary"],
			"OCF_RESKEY_check_user":            side.own["OCF_RESKEY_check_user"],
			"OCF_RESKEY_wsrep_cluster_address": "", // from Setup, once the ports are known
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", side.agent, k, env[k], v)
			}
		}
	}
	if GaleraGohaResource == GaleraReferenceResource {
		t.Error("both agents write attributes under the same resource name")
	}
	names := map[string]bool{}
	for _, c := range Cases(Config{}) {
		if names[c.Name] {
			t.Errorf("two cases named %s", c.Name)
		}
		names[c.Name] = true
	}
	if !names["galera"] {
		t.Error("Cases does not list the galera case")
	}
}

func TestGaleraServerEnv(t *testing.T) {
	srv := &galerasolo.Server{
		Host: "h1", Dir: "/b", Config: "/b/my.cnf", Datadir: "/b/d", Socket: "/b/d/s.sock",
		PidFile: "/b/d/p.pid", Log: "/b/d/err.log", GaleraPort: 14567, ISTPort: 14568,
	}
	env := GaleraServerEnv(srv, "/b/rsctmp", "/b/home")
	want := []string{
		"OCF_RESKEY_config=/b/my.cnf",
		"OCF_RESKEY_datadir=/b/d",
		"OCF_RESKEY_log=/b/d/err.log",
		"OCF_RESKEY_pid=/b/d/p.pid",
		"OCF_RESKEY_socket=/b/d/s.sock",
		"OCF_RESKEY_wsrep_cluster_address=gcomm://h1:14567",
		"HA_RSCTMP=/b/rsctmp",
		"HOME=/b/home",
	}
	if !slices.Equal(env, want) {
		t.Errorf("env\n%s\nwant\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
	if got := clientConfig("/b/d/s.sock"); got != "[client]\nsocket=/b/d/s.sock\n" {
		t.Errorf("client config %q", got)
	}
}

func subreaperFlag(t *testing.T) int32 {
	t.Helper()
	var v int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWithoutSubreaper(t *testing.T) {
	before := subreaperFlag(t)
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, uintptr(before), 0, 0, 0) })
	for _, set := range []int32{1, 0} {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, uintptr(set), 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		sentinel := errors.New("from fn")
		var inside int32 = -1
		err := withoutSubreaper(func() error { inside = subreaperFlag(t); return sentinel })
		if !errors.Is(err, sentinel) {
			t.Errorf("subreaper %d: error %v, want fn's", set, err)
		}
		if inside != 0 {
			t.Errorf("subreaper %d: inside fn the flag is %d, want 0", set, inside)
		}
		if after := subreaperFlag(t); after != set {
			t.Errorf("subreaper %d: afterwards the flag is %d, want it restored", set, after)
		}
	}
}
