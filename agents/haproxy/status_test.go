package haproxy

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestParseShowProc(t *testing.T) {
	for _, tc := range []struct {
		file string
		want ProcTable
	}{
		{"show-proc-one-worker.txt", ProcTable{
			Master:  Proc{Pid: 24375, Reloads: 22},
			Workers: []Proc{{Pid: 28091}},
		}},
		{"show-proc-old-worker.txt", ProcTable{
			Master:     Proc{Pid: 24375, Reloads: 23},
			Workers:    []Proc{{Pid: 30775}},
			OldWorkers: []Proc{{Pid: 28091, Reloads: 1}},
		}},
		{"show-proc-failed-reload.txt", ProcTable{
			Master:        Proc{Pid: 24375, Reloads: 24},
			FailedReloads: 1,
			Workers:       []Proc{{Pid: 30775, Reloads: 1}},
			OldWorkers:    []Proc{{Pid: 28091, Reloads: 2}},
		}},
	} {
		got, err := parseShowProc(readTestdata(t, tc.file))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v\nwant %+v", tc.file, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"",
		"Unknown command.\n",
		"#<PID> <type>\n# workers\n123 worker 0 0d 2.6\n",
		"123 worker 0 0d 2.6\n",
		"abc master 0 [failed: 0] 0d 2.6\n",
		"123 master\n",
	} {
		if got, err := parseShowProc(bad); err == nil {
			t.Errorf("parseShowProc(%q) = %+v, want an error", bad, got)
		}
	}
	got, _ := parseShowProc(readTestdata(t, "show-proc-old-worker.txt"))
	if pids := got.Pids(); !reflect.DeepEqual(pids, []int{24375, 30775, 28091}) {
		t.Errorf("Pids = %v", pids)
	}
}

func TestParseShowStat(t *testing.T) {
	rows, err := parseShowStat(readTestdata(t, "show-stat-mixed.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Proxy+"/"+r.Service+"="+r.Status)
	}
	want := []string{
		"web/FRONTEND=OPEN", "tcp_svc/FRONTEND=OPEN", "tcp_svc/s1=no check", "tcp_svc/BACKEND=UP",
		"be_up/a=UP", "be_up/b=DOWN", "be_up/BACKEND=UP", "be_down/a=DOWN", "be_down/BACKEND=DOWN",
		"be_maint/a=MAINT", "be_maint/BACKEND=DOWN", "be_empty/BACKEND=UP",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	quoted := "# pxname,svname,status,check_desc\nb,s,\"DOWN\",\"Layer4, refused\"\n"
	if rows, err := parseShowStat(quoted); err != nil || len(rows) != 1 || rows[0].Status != "DOWN" {
		t.Errorf("quoted CSV: %+v, %v", rows, err)
	}
	for _, bad := range []string{"", "Unknown command\n", "# a,b,c\nx,y,z\n", "# pxname,svname,status\nx,y\n"} {
		if rows, err := parseShowStat(bad); err == nil {
			t.Errorf("parseShowStat(%q) = %+v, want an error", bad, rows)
		}
	}
}

func TestAssess(t *testing.T) {
	procs := ProcTable{Master: Proc{Pid: 10}, Workers: []Proc{{Pid: 11}}}
	stats, err := parseShowStat(readTestdata(t, "show-stat-mixed.csv"))
	if err != nil {
		t.Fatal(err)
	}
	web := listener("web", "127.0.0.1", 47011, 9)
	web6 := listener("web", "::1", 47012, 10)
	named := listener("tcp_svc", "", 47013, 13)
	any4 := listener("tcp_svc", "0.0.0.0", 47014, 13)
	listening := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:47011"), netip.MustParseAddrPort("[::1]:47012"),
		netip.MustParseAddrPort("10.9.9.9:47013"), netip.MustParseAddrPort("0.0.0.0:47014"),
		netip.MustParseAddrPort("127.0.0.1:22"),
	}
	stopped := append([]StatRow{{Proxy: "web", Service: "FRONTEND", Status: "STOP"}}, stats[1:]...)
	for _, tc := range []struct {
		name string
		o    Observation
		why  []string // each must be in Why; none means OK
	}{
		{"healthy", Observation{Pidfile: 10, Procs: procs, Stats: stats, Listening: listening,
			Expected: []Listener{web, web6, named, any4}, Required: []string{"be_up", "tcp_svc"}}, nil},
		{"started by hand: no pid file", Observation{Procs: procs, Stats: stats, Listening: listening, Expected: []Listener{web}}, nil},
		{"no worker", Observation{Pidfile: 10, Procs: ProcTable{Master: Proc{Pid: 10}}, Listening: listening, Expected: []Listener{web}},
			[]string{"haproxy master (pid 10) has no current worker"}},
		{"pid file names another master", Observation{Pidfile: 9, Procs: procs, Stats: stats, Listening: listening},
			[]string{"the master socket answers for pid 10, the pid file names 9"}},
		{"address not listening", Observation{Pidfile: 10, Procs: procs, Stats: stats, Listening: listening[:1],
			Expected: []Listener{web, web6, any4}},
			[]string{"not listening: frontend web on [::1]:47012, frontend tcp_svc on 0.0.0.0:47014"}},
		{"wildcard is not a specific address", Observation{Procs: procs, Listening: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:47014")},
			Expected: []Listener{any4}}, []string{"frontend tcp_svc on 0.0.0.0:47014"}},
		{"frontend stopped", Observation{Procs: procs, Stats: stopped, Listening: listening, Expected: []Listener{web}},
			[]string{"frontend web is STOP"}},
		{"backend with only a down server", Observation{Procs: procs, Stats: stats, Listening: listening, Required: []string{"be_down"}},
			[]string{"backend be_down has no server up (a DOWN)"}},
		{"backend in maintenance", Observation{Procs: procs, Stats: stats, Listening: listening, Required: []string{"be_maint", "be_up"}},
			[]string{"backend be_maint has no server up (a MAINT)"}},
		{"backend without servers", Observation{Procs: procs, Stats: stats, Listening: listening, Required: []string{"be_empty"}},
			[]string{"backend be_empty has no server"}},
		{"unknown backend", Observation{Procs: procs, Stats: stats, Listening: listening, Required: []string{"nope"}},
			[]string{"backend nope does not exist in the running haproxy"}},
		{"every problem named", Observation{Procs: procs, Stats: stats, Expected: []Listener{web}, Required: []string{"be_down", "be_maint"}},
			[]string{"not listening: frontend web on 127.0.0.1:47011", "backend be_down has no server up", "backend be_maint has no server up"}},
	} {
		v := assess(tc.o)
		if v.OK != (len(tc.why) == 0) {
			t.Errorf("%s: %+v", tc.name, v)
			continue
		}
		for _, w := range tc.why {
			if !strings.Contains(v.Why, w) {
				t.Errorf("%s: why %q lacks %q", tc.name, v.Why, w)
			}
		}
	}
}

func TestServerUp(t *testing.T) {
	for status, up := range map[string]bool{
		"UP": true, "UP 1/3": true, "no check": true, "DOWN": false, "DOWN 1/2": false,
		"MAINT": false, "MAINT (via b/s)": false, "DRAIN": false, "NOLB": false, "": false, "UPSIDE": false,
	} {
		if got := serverUp(status); got != up {
			t.Errorf("serverUp(%q) = %v", status, got)
		}
	}
}
