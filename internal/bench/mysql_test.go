package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goha-ha/goha/internal/mysqlpair"
	"github.com/goha-ha/goha/internal/proc"
	"github.com/goha-ha/goha/internal/testbuild"
)

func TestMySQLCaseDeclaration(t *testing.T) {
	c := MySQLCase(Config{AgentDir: "/agents", OCFRoot: "/ocf"})
	if c.Name != "mysql" || c.Action != "" {
		t.Errorf("name %q action %q, want mysql and the default monitor", c.Name, c.Action)
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
	}{
		{c.Goha, "ocf:goha:mysql", "/agents/mysql", MySQLGohaResource},
		{c.Reference, "ocf:heartbeat:mysql", "/ocf/resource.d/heartbeat/mysql", MySQLReferenceResource},
	} {
		inv := side.inv
		if inv.Agent != side.agent || !slices.Equal(inv.Argv, []string{side.argv}) {
			t.Errorf("%s: agent %q argv %v, want %s", side.agent, inv.Agent, inv.Argv, side.argv)
		}
		if inv.Expect != 0 || inv.Netns != "" {
			t.Errorf("%s: expect %d netns %q, want 0 (running unpromoted) in the harness's namespace", side.agent, inv.Expect, inv.Netns)
		}
		env := envMap(inv.Env)
		want := map[string]string{
			"OCF_RESOURCE_INSTANCE":          side.resource,
			"OCF_RESKEY_CRM_meta_interval":   "10000",
			"OCF_RESKEY_CRM_meta_timeout":    "20000",
			"OCF_RESKEY_CRM_meta_role":       "Unpromoted",
			"OCF_RESKEY_CRM_meta_promotable": "true",
			"OCF_RESKEY_CRM_meta_master_max": "1",
			"OCF_RESKEY_crm_feature_set":     "3.16.1",
			"OCF_RESKEY_OCF_CHECK_LEVEL":     "10",
			"OCF_RESKEY_binary":              "/usr/sbin/mariadbd",
			"OCF_RESKEY_test_user":           "root",
			"OCF_RESKEY_replication_user":    mysqlpair.ReplUser,
			"OCF_RESKEY_replication_passwd":  mysqlpair.ReplPassword,
			// From Setup, once the pair is made.
			"OCF_RESKEY_socket":           "",
			"OCF_RESKEY_CRM_meta_on_node": "",
			"HA_RSCTMP":                   "",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", side.agent, k, env[k], v)
			}
		}
	}
	// The two sides differ in nothing but the resource name.
	g, r := envMap(c.Goha.Env), envMap(c.Reference.Env)
	delete(g, "OCF_RESOURCE_INSTANCE")
	delete(r, "OCF_RESOURCE_INSTANCE")
	if len(g) != len(r) {
		t.Errorf("goha gets %d variables, the reference %d", len(g), len(r))
	}
	for k, v := range g {
		if r[k] != v {
			t.Errorf("%s: goha %q, reference %q", k, v, r[k])
		}
	}
	if !slices.ContainsFunc(Cases(Config{}), func(c Case) bool { return c.Name == "mysql" }) {
		t.Error("Cases does not list the mysql case")
	}
}

func TestMySQLNodeEnv(t *testing.T) {
	n := &mysqlpair.Node{Name: "n2", Addr: "127.0.0.12", Config: "/p/n2/my.cnf", Datadir: "/p/n2/data",
		Socket: "/p/n2/run/mysqld.sock", PidFile: "/p/n2/run/mysqld.pid", Log: "/p/n2/error.log"}
	pair := &mysqlpair.Pair{Dir: "/p", Port: 23306, Nodes: [2]*mysqlpair.Node{{Name: "n1", Addr: "127.0.0.11"}, n}}
	env := MySQLNodeEnv(pair, n, "/b/rsctmp", "/b/crm/bin")
	want := []string{
		"OCF_RESKEY_config=/p/n2/my.cnf",
		"OCF_RESKEY_datadir=/p/n2/data",
		"OCF_RESKEY_socket=/p/n2/run/mysqld.sock",
		"OCF_RESKEY_pid=/p/n2/run/mysqld.pid",
		"OCF_RESKEY_log=/p/n2/error.log",
		"OCF_RESKEY_replication_port=23306",
		"OCF_RESKEY_host_map=n1:127.0.0.11;n2:127.0.0.12",
		"OCF_RESKEY_CRM_meta_on_node=n2",
		"HA_RSCTMP=/b/rsctmp/n2",
		"PATH=/b/crm/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if !slices.Equal(env, want) {
		t.Errorf("env\n%s\nwant\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
	for _, tc := range []struct {
		env  []string
		key  string
		want string
	}{
		{[]string{"PATH=/a", "PATHX=/x"}, "PATH", "/a"},
		{[]string{"PATH=/a", "PATH=/b"}, "PATH", "/b"},
		{[]string{"PATHX=/x"}, "PATH", ""},
		{[]string{"PATH="}, "PATH", ""},
	} {
		if got := envValue(tc.env, tc.key); got != tc.want {
			t.Errorf("envValue(%q, %s) = %q, want %q", tc.env, tc.key, got, tc.want)
		}
	}
}

// TestMySQLCaseMeasures runs the case on two real MariaDB servers, a few
// calls each: both monitors report a running replica, the reference having
// taken its replication checks, goha forks nothing and meets its goal, and
// the cleanup leaves no server and no directory behind.
func TestMySQLCaseMeasures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two MariaDB servers: skipped in -short mode")
	}
	if why := mysqlpair.Missing(); why != "" {
		t.Skip(why)
	}
	ref := "/usr/lib/ocf/resource.d/heartbeat/mysql"
	if _, err := os.Stat(ref); err != nil {
		t.Skipf("needs resource-agents: %v", err)
	}
	for _, prog := range []string{"strace", "mysql"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s: %v", prog, err)
		}
	}
	agents := t.TempDir()
	if _, err := testbuild.Main(agents, "mysql", "./agents/mysql/internal/mysqlcmd"); err != nil {
		t.Fatal(err)
	}
	c := MySQLCase(Config{AgentDir: agents, OCFRoot: "/usr/lib/ocf"})
	var (
		dir     string
		servers []int
		probe   string
	)
	setup := c.Setup
	c.Setup = func(ctx context.Context) ([]string, func(), error) {
		env, cleanup, err := setup(ctx)
		if err != nil {
			return env, cleanup, err
		}
		pidFile := envValue(env, "OCF_RESKEY_pid") // <dir>/pair/n2/run/mysqld.pid
		dir = filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(pidFile))))
		for _, f := range []string{filepath.Join(dir, "pair", "n1", "run", "mysqld.pid"), pidFile} {
			if pid, err := proc.ReadPidFile(f); err == nil && proc.Alive(pid) {
				servers = append(servers, pid)
			}
		}
		// One reference monitor by hand, to read what it says.
		inv := c.Reference.With(env...)
		cmd := exec.CommandContext(ctx, inv.Argv[0], "monitor")
		cmd.Env = inv.environ()
		out, err := cmd.CombinedOutput()
		if err != nil {
			probe = "failed: " + err.Error() + ": " + string(out)
		} else {
			probe = string(out)
		}
		return env, cleanup, nil
	}
	var log strings.Builder
	res, err := Measure(context.Background(), c, Options{Calls: 10, Warmup: 2, Traced: 2, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(servers) != 2 {
		t.Errorf("servers running during the measurement: %v, want both", servers)
	}
	if strings.Contains(probe, "failed") || strings.Contains(probe, "ocf-exit-reason") {
		t.Errorf("the reference's monitor did not take its replica path: %s", probe)
	}
	for _, ar := range []AgentResult{res.Goha, res.Reference} {
		if ar.Calls != 10 || ar.WallP50 <= 0 || ar.CPU <= 0 || ar.Procs.Traced != 2 {
			t.Errorf("%s: %+v", ar.Agent, ar.Summary)
		}
	}
	if p := res.Goha.Procs; p.ForksMax != 0 || p.ExecsMax != 0 {
		t.Errorf("goha's monitor forked: %+v", p)
	}
	// The reference runs mysql at least three times (read_only twice,
	// SHOW SLAVE STATUS, the test table) and crm_attribute three times.
	if p := res.Reference.Procs; p.ExecsMin < 6 {
		t.Errorf("the reference executed %d programs, want its mysql and crm_attribute calls: %+v", p.ExecsMin, p)
	}
	if ok, why := res.Goal.Check(res); !ok {
		t.Errorf("goal not met: %s", why)
	}
	t.Logf("goha: wall p50 %v, CPU %v; reference: wall p50 %v, CPU %v, %d–%d forks",
		res.Goha.WallP50, res.Goha.CPU, res.Reference.WallP50, res.Reference.CPU, res.Reference.Procs.ForksMin, res.Reference.Procs.ForksMax)
	for _, pid := range servers {
		if proc.Alive(pid) {
			t.Errorf("server pid %d outlived the cleanup", pid)
		}
	}
	if dir == "" {
		t.Fatal("setup gave no server config")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", dir, err)
	}
}
