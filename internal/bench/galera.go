package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/internal/galerasolo"
)

// Resource names of the two galera instances: each agent writes its node
// attributes under its own, so the reference's attempts cannot touch goha's.
const (
	GaleraGohaResource      = "bench-galera"
	GaleraReferenceResource = "bench-heartbeat-galera"
)

// Time limits of the setup's start and promote and the cleanup's stop, as
// ocf:goha:galera's meta-data advertises them.
const (
	galeraStartTimeout   = 120 * time.Second
	galeraPromoteTimeout = 300 * time.Second
	galeraStopTimeout    = 120 * time.Second
)

// GaleraCase compares ocf:goha:galera with ocf:heartbeat:galera: both
// monitor, as a promoted instance, the same single-node Galera server that
// goha's agent started and promoted. Their parameters describing the
// server come from Setup (GaleraServerEnv), since its ports are picked then.
func GaleraCase(cfg Config) Case {
	host, _ := os.Hostname()
	// What Pacemaker adds to a promoted instance's recurring monitor. The
	// reference agent names its node with CRM_meta_on_node; without it,
	// it asks crm_node -n, which needs a running controller.
	meta := map[string]string{
		"CRM_meta_on_node":    host,
		"CRM_meta_role":       "Promoted",
		"CRM_meta_promotable": "true",
	}
	ref := map[string]string{"binary": galerasolo.Mariadbd, "check_user": "root"}
	for k, v := range meta {
		ref[k] = v
	}
	goha := Invocation{
		Agent:  "ocf:goha:galera",
		Argv:   []string{filepath.Join(cfg.AgentDir, "galera")},
		Env:    MonitorEnv(GaleraGohaResource, MonitorInterval, MonitorTimeout, meta),
		Expect: ocfRunningPromoted,
	}
	reference := Invocation{
		Agent:  "ocf:heartbeat:galera",
		Argv:   []string{filepath.Join(cfg.OCFRoot, "resource.d", "heartbeat", "galera")},
		Env:    MonitorEnv(GaleraReferenceResource, MonitorInterval, MonitorTimeout, ref),
		Expect: ocfRunningPromoted,
	}
	return Case{
		Name: "galera",
		Notes: "a single-node MariaDB Galera server on loopback in a directory made for the run " +
			"(internal/galerasolo: a copy of a freshly initialised datadir, its own my.cnf, socket and free ports), " +
			"started and promoted (bootstrapped) through ocf:goha:galera, so that both agents monitor the same " +
			"Primary, Synced server as a promoted instance (CRM_meta_role=Promoted, CRM_meta_on_node set as Pacemaker does) " +
			"with the same datadir, config, socket, pid, log and wsrep_cluster_address; the reference gets " +
			"binary=/usr/sbin/mariadbd and check_user=root, and, since its mysql client takes no socket parameter, " +
			"HOME with a .my.cnf naming the server's socket. No cluster runs: the reference's crm_node -n fails " +
			"(it then takes the node name from CRM_meta_on_node) and goha's attribute writes fail and are logged at debug level.",
		Goal:      &Goal{MaxRatio: 0.1, MaxForks: 0, CPUOnly: true},
		Goha:      goha,
		Reference: reference,
		Setup:     StartGalera(goha),
	}
}

// ocfRunningPromoted is OCF_RUNNING_MASTER, a promoted instance's monitor
// status.
const ocfRunningPromoted = 8

// GaleraServerEnv is the environment both agents get for srv: its
// parameters, a private HA_RSCTMP for goha's role marker and locks, and a
// HOME whose .my.cnf points the reference's mysql client at srv's socket.
func GaleraServerEnv(srv *galerasolo.Server, rsctmp, home string) []string {
	params := srv.Params()
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var env []string
	for _, k := range names {
		env = append(env, "OCF_RESKEY_"+k+"="+params[k])
	}
	return append(env, "HA_RSCTMP="+rsctmp, "HOME="+home)
}

// clientConfig is the [client] section that sends the mysql client to
// socket.
func clientConfig(socket string) string {
	return "[client]\nsocket=" + socket + "\n"
}

// StartGalera returns a Setup that prepares a galerasolo server in a
// directory of its own and starts and promotes it through goha, the agent
// invoked as inv. Its cleanup stops the server through goha, then ends
// whatever of it is left by PID and removes the directory.
func StartGalera(inv Invocation) func(ctx context.Context) ([]string, func(), error) {
	return func(ctx context.Context) ([]string, func(), error) {
		if why := galerasolo.Missing(); why != "" {
			return nil, nil, fmt.Errorf("galera case %s", why)
		}
		dir, err := os.MkdirTemp("", "goha-bench-galera-")
		if err != nil {
			return nil, nil, fmt.Errorf("create galera dir: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // the server user must reach inside
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("chmod galera dir: %w", err)
		}
		tmpl, err := galerasolo.Init(filepath.Join(dir, "seed"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		srv, err := tmpl.New(filepath.Join(dir, "node"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		rsctmp, home := filepath.Join(dir, "rsctmp"), filepath.Join(dir, "home")
		for _, d := range []string{rsctmp, home} {
			if err := os.Mkdir(d, 0o755); err != nil {
				os.RemoveAll(dir)
				return nil, nil, fmt.Errorf("create %s: %w", d, err)
			}
		}
		if err := os.WriteFile(filepath.Join(home, ".my.cnf"), []byte(clientConfig(srv.Socket)), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("write client config: %w", err)
		}
		env := GaleraServerEnv(srv, rsctmp, home)
		goha := inv.With(env...)
		cleanup := func() {
			ctx := context.WithoutCancel(ctx)
			if err := runAction(ctx, goha, "stop", galeraStopTimeout, 0); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			}
			if err := srv.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				return // the directory stays while a server may use it
			}
			os.RemoveAll(dir)
		}
		// The server the agent launches detached must not become a child
		// of the harness: a measured call waits for all of those to exit.
		err = withoutSubreaper(func() error {
			if err := runAction(ctx, goha, "start", galeraStartTimeout, 0); err != nil {
				return err
			}
			return runAction(ctx, goha, "promote", galeraPromoteTimeout, 0)
		})
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, galerasolo.UpLimit)
			_, err = galerasolo.WaitSynced(wctx, srv.Socket)
			cancel()
		}
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		return env, cleanup, nil
	}
}

// runAction runs a non-recurring action of inv, as Pacemaker would with the
// given timeout, and fails unless it exits with want.
func runAction(ctx context.Context, inv Invocation, action string, timeout time.Duration, want int) error {
	inv = inv.With("OCF_RESKEY_CRM_meta_interval=0",
		fmt.Sprintf("OCF_RESKEY_CRM_meta_timeout=%d", timeout.Milliseconds()))
	ctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, inv.Argv[0], append(inv.Argv[1:], action)...)
	cmd.Env = inv.environ()
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		return fmt.Errorf("%s %s: %w", inv.Agent, action, err)
	}
	if rc := cmd.ProcessState.ExitCode(); rc != want {
		return fmt.Errorf("%s %s exited %d, want %d: %s", inv.Agent, action, rc, want, strings.TrimSpace(string(out)))
	}
	return nil
}

// withoutSubreaper runs fn with this process no child subreaper, so that
// what fn's children leave running is adopted by init, and then restores
// the setting.
func withoutSubreaper(fn func() error) error {
	var was int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&was)), 0, 0, 0); err != nil {
		return fmt.Errorf("read child subreaper: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("stop being child subreaper: %w", err)
	}
	ferr := fn()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, uintptr(was), 0, 0, 0); err != nil {
		return fmt.Errorf("restore child subreaper: %w", err)
	}
	return ferr
}
