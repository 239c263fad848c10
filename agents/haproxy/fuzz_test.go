package haproxy

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseConfig: no configuration makes the parser panic, and every
// listener it returns has a port in range and a frontend name.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"testdata/openuds.cfg", "testdata/mixed.cfg"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(raw))
	}
	for _, s := range []string{"frontend a\n bind :80,:81-83\n", "listen \"a b\"\n bind ipv6@[::1]:1\n", "frontend a\n bind ${X}\\ :1 # c\n", "frontend\nbind"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cfg string) {
		p, err := parseConfig(strings.NewReader(cfg), func(string) string { return "" })
		if err != nil {
			return
		}
		for _, l := range p.Listeners {
			if l.Port < 1 || l.Port > 65535 {
				t.Fatalf("listener %+v has port %d", l, l.Port)
			}
		}
		if len(p.Listeners) > 0 && len(p.Frontends) == 0 {
			t.Fatalf("listeners %v without a frontend", p.Listeners)
		}
	})
}

// FuzzParseShowProc: any answer parses or fails without a panic, and a
// parsed table always has its master.
func FuzzParseShowProc(f *testing.F) {
	for _, name := range []string{"show-proc-one-worker.txt", "show-proc-old-worker.txt", "show-proc-failed-reload.txt"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(raw))
	}
	f.Add("Unknown command.\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseShowProc(s)
		if err == nil && p.Master.Pid <= 0 {
			t.Fatalf("parseShowProc(%q) = %+v without a master", s, p)
		}
	})
}

// FuzzParseShowStat: any answer parses or fails without a panic, and the
// judgement over its rows never panics.
func FuzzParseShowStat(f *testing.F) {
	raw, err := os.ReadFile("testdata/show-stat-mixed.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add("# pxname,svname,status\n\"a,b\",\"c\"\"\",UP\n")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := parseShowStat(s)
		if err != nil {
			return
		}
		_ = assess(Observation{Procs: ProcTable{Master: Proc{Pid: 1}, Workers: []Proc{{Pid: 2}}}, Stats: rows, Required: []string{"a", "be_up"}})
	})
}
