package haproxy

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

// fakeSystem is an in-memory process table and master CLI. Its pids are
// never signalled: stop and start, which end real processes, are covered
// by the component test.
type fakeSystem struct {
	procs     map[int]Process
	argv      []string          // every process's command line
	answers   map[string]string // CLI command -> answer
	cliErr    error
	listening []netip.AddrPort
}

func (f *fakeSystem) Cmdline(pid int) ([]string, error) {
	if _, ok := f.procs[pid]; !ok {
		return nil, errGone
	}
	return f.argv, nil
}

func (f *fakeSystem) Find(match func([]string) bool) ([]Process, error) {
	var out []Process
	for _, p := range f.procs {
		if match(f.argv) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeSystem) Query(_ context.Context, _, command string) (string, error) {
	if f.cliErr != nil {
		return "", f.cliErr
	}
	answer, ok := f.answers[command]
	if !ok {
		return "Unknown command.\n", nil
	}
	return answer, nil
}

func (f *fakeSystem) Listening() ([]netip.AddrPort, error) { return f.listening, nil }

func (f *fakeSystem) Run(context.Context, []string) (string, error) {
	return "", errors.New("the fake runs no program")
}

// monitorHarness runs monitor over a fakeSystem with its files in dir.
type monitorHarness struct {
	t   *testing.T
	dir string
	sys *fakeSystem
	c   Config
}

const showProcHealthy = `#<PID>          <type>          <reloads>       <uptime>        <version>
500             master          0 [failed: 0]   0d00h00m05s     2.6.12-1+deb12u4
# workers
501             worker          0               0d00h00m05s     2.6.12-1+deb12u4
# programs
`

func newMonitorHarness(t *testing.T) *monitorHarness {
	dir := t.TempDir()
	h := &monitorHarness{t: t, dir: dir}
	h.c = Config{
		File: filepath.Join(dir, "haproxy.cfg"), Binary: "/usr/sbin/haproxy",
		Pidfile: filepath.Join(dir, "haproxy.pid"), Socket: filepath.Join(dir, "master.sock"),
	}
	stat, err := os.ReadFile("testdata/show-stat-mixed.csv")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("testdata/mixed.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.c.File, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	h.sys = &fakeSystem{
		procs:   map[int]Process{},
		argv:    h.c.Argv(),
		answers: map[string]string{"show proc": showProcHealthy, "@1 show stat": string(stat)},
		listening: []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.1:47011"), netip.MustParseAddrPort("[::1]:47012"),
			netip.MustParseAddrPort("127.0.0.1:47013"), netip.MustParseAddrPort("127.0.0.1:47014"),
		},
	}
	return h
}

// running makes master 500 and worker 501 exist, with or without a pid file.
func (h *monitorHarness) running(pidFile bool) {
	h.sys.procs[500] = Process{Pid: 500, Parent: 1}
	h.sys.procs[501] = Process{Pid: 501, Parent: 500}
	if pidFile {
		if err := os.WriteFile(h.c.Pidfile, []byte("500\n"), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *monitorHarness) monitor(probe bool, env ...string) (ocf.Status, string) {
	h.t.Helper()
	environ := append([]string{
		"OCF_RESOURCE_INSTANCE=web",
		"OCF_RESKEY_config=" + h.c.File,
		"OCF_RESKEY_pidfile=" + h.c.Pidfile,
		"OCF_RESKEY_master_socket=" + h.c.Socket,
	}, env...)
	if !probe {
		environ = append(environ, "OCF_RESKEY_CRM_meta_interval=10000")
	}
	var stderr bytes.Buffer
	a := newAgent(&actions{sys: h.sys})
	st := a.Run(context.Background(), "monitor", ocf.System{
		Environ: environ, Getenv: func(string) string { return "" },
		Stdout: &bytes.Buffer{}, Stderr: &stderr, NoLock: true,
	})
	return st, stderr.String()
}

func TestMonitor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(h *monitorHarness)
		env    []string
		probe  bool
		want   ocf.Status
		reason string
	}{
		{"never started", func(h *monitorHarness) {}, nil, false, ocf.NotRunning, ""},
		{"probe, never started", func(h *monitorHarness) {}, nil, true, ocf.NotRunning, ""},
		{"healthy", func(h *monitorHarness) { h.running(true) }, nil, false, ocf.Success, ""},
		{"probe finds it without a pid file", func(h *monitorHarness) { h.running(false) }, nil, true, ocf.Success, ""},
		{"crashed after start", func(h *monitorHarness) {
			os.WriteFile(h.c.Pidfile, []byte("500\n"), 0o644)
			saveListeners(h.c, nil)
		}, nil, false, ocf.ErrGeneric, "haproxy (master pid 500 in " + "PIDFILE) is gone without a stop"},
		{"probe after a crash", func(h *monitorHarness) {
			os.WriteFile(h.c.Pidfile, []byte("500\n"), 0o644)
			saveListeners(h.c, nil)
		}, nil, true, ocf.NotRunning, ""},
		{"pid file of another program", func(h *monitorHarness) {
			h.running(false)
			os.WriteFile(h.c.Pidfile, []byte("999\n"), 0o644)
		}, nil, false, ocf.ErrGeneric, "the master socket answers for pid 500, the pid file names 999"},
		{"master socket silent", func(h *monitorHarness) {
			h.running(true)
			h.sys.cliErr = errors.New("connection refused")
		}, nil, false, ocf.ErrGeneric, "haproxy master (pid 500) does not answer on SOCKET: connection refused"},
		{"no current worker", func(h *monitorHarness) {
			h.running(true)
			h.sys.answers["show proc"] = strings.SplitAfter(showProcHealthy, "# workers\n")[0]
		}, nil, false, ocf.ErrGeneric, "haproxy master (pid 500) has no current worker"},
		{"worker silent", func(h *monitorHarness) {
			h.running(true)
			delete(h.sys.answers, "@1 show stat")
		}, nil, false, ocf.ErrGeneric, "current worker (pid 501) does not answer show stat"},
		{"frontend not listening", func(h *monitorHarness) {
			h.running(true)
			h.sys.listening = h.sys.listening[1:]
		}, nil, false, ocf.ErrGeneric, "not listening: frontend web on 127.0.0.1:47011"},
		{"saved listeners win over an edited file", func(h *monitorHarness) {
			h.running(true)
			saveListeners(h.c, []Listener{listener("old", "127.0.0.1", 47013, 1)})
			h.sys.listening = h.sys.listening[2:]
		}, nil, false, ocf.Success, ""},
		{"required backend down", func(h *monitorHarness) { h.running(true) },
			[]string{"OCF_RESKEY_required_backends=be_up be_down"}, false, ocf.ErrGeneric, "backend be_down has no server up (a DOWN)"},
		{"required backends up", func(h *monitorHarness) { h.running(true) },
			[]string{"OCF_RESKEY_required_backends=be_up tcp_svc"}, false, ocf.Success, ""},
		{"probe with bad parameters", func(h *monitorHarness) {},
			[]string{"OCF_RESKEY_stop_grace=forever"}, true, ocf.NotRunning, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newMonitorHarness(t)
			tc.setup(h)
			st, stderr := h.monitor(tc.probe, tc.env...)
			reason := strings.NewReplacer("PIDFILE", h.c.Pidfile, "SOCKET", h.c.Socket).Replace(tc.reason)
			if st != tc.want || !strings.Contains(stderr, reason) {
				t.Errorf("monitor = %v\n%s\nwant %v with %q", st, stderr, tc.want, reason)
			}
		})
	}
}
