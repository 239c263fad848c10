package labfence

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goha-ha/goha/internal/lab"
)

func TestParseStdin(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Options
		unknown []string
		wantErr bool
	}{
		{
			name: "as pacemaker sends it",
			in:   "action=reboot\nnodename=n2\nport=n2\nlab=db\n",
			want: Options{Action: "reboot", Plug: "n2", Nodename: "n2", Lab: "db"},
		},
		{
			name: "plug, spaces, comments, blank lines",
			in:   "# comment\n\n action = off \nplug=n3\nstate_dir=/tmp/x\ndelay=1.5\n",
			want: Options{Action: "off", Plug: "n3", StateDir: "/tmp/x", Delay: 1500 * time.Millisecond},
		},
		{
			name: "defaults",
			in:   "",
			want: Options{Action: "reboot"},
		},
		{
			name:    "unknown keys are kept aside",
			in:      "action=status\nport=n1\nfoo=bar\n",
			want:    Options{Action: "status", Plug: "n1"},
			unknown: []string{"foo"},
		},
		{name: "not key=value", in: "action\n", wantErr: true},
		{name: "bad delay", in: "delay=soon\n", wantErr: true},
		{name: "bad boolean", in: "verbose=maybe\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStdin(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			checkOptions(t, got, tt.want, tt.unknown)
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		unknown []string
		wantErr bool
	}{
		{name: "short", args: []string{"-o", "status", "-n", "n1"}, want: Options{Action: "status", Plug: "n1"}},
		{name: "short glued", args: []string{"-ooff", "-nn2"}, want: Options{Action: "off", Plug: "n2"}},
		{name: "long with =", args: []string{"--action=list", "--lab=db", "--state-dir=/x"}, want: Options{Action: "list", Lab: "db", StateDir: "/x"}},
		{name: "long separate", args: []string{"--action", "on", "--plug", "n3"}, want: Options{Action: "on", Plug: "n3"}},
		{name: "port alias", args: []string{"--port=n2", "-o", "reboot"}, want: Options{Action: "reboot", Plug: "n2"}},
		{name: "flags", args: []string{"-v", "--quiet", "-o", "monitor"}, want: Options{Action: "monitor", Verbose: true, Quiet: true}},
		{name: "metadata", args: []string{"-o", "metadata"}, want: Options{Action: "metadata"}},
		{name: "unknown flag", args: []string{"--frobnicate", "-o", "list"}, want: Options{Action: "list"}, unknown: []string{"--frobnicate"}},
		{name: "missing value", args: []string{"-o"}, wantErr: true},
		{name: "stray argument", args: []string{"reboot"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			checkOptions(t, got, tt.want, tt.unknown)
		})
	}
}

// checkOptions compares got with want, where want's zero StateDir and
// PowerTimeout stand for the defaults.
func checkOptions(t *testing.T, got, want Options, unknown []string) {
	t.Helper()
	d := defaults()
	if want.StateDir == "" {
		want.StateDir = d.StateDir
	}
	if want.PowerTimeout == 0 {
		want.PowerTimeout = d.PowerTimeout
	}
	want.Unknown = unknown
	if strings.Join(got.Unknown, ",") != strings.Join(want.Unknown, ",") {
		t.Errorf("unknown = %v, want %v", got.Unknown, want.Unknown)
	}
	got.Unknown, want.Unknown = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"reboot with plug", Options{Action: "reboot", Plug: "n1", StateDir: "/x"}, true},
		{"reboot with nodename only", Options{Action: "reboot", Nodename: "n1", StateDir: "/x"}, true},
		{"off without target", Options{Action: "off", StateDir: "/x"}, false},
		{"status without target", Options{Action: "status", StateDir: "/x"}, false},
		{"list needs no target", Options{Action: "list", StateDir: "/x"}, true},
		{"monitor needs no target", Options{Action: "monitor", StateDir: "/x"}, true},
		{"unknown action", Options{Action: "explode", Plug: "n1", StateDir: "/x"}, false},
		{"bad lab name", Options{Action: "list", Lab: "../etc", StateDir: "/x"}, false},
		{"empty state dir", Options{Action: "list"}, false},
	}
	for _, tt := range tests {
		if err := tt.o.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestMetadata(t *testing.T) {
	var buf bytes.Buffer
	if code := Main([]string{"fence_goha_lab", "-o", "metadata"}, nil, &buf, &buf); code != 0 {
		t.Fatalf("exit %d: %s", code, buf.String())
	}
	if !strings.HasPrefix(buf.String(), "<?xml") {
		t.Error("no XML declaration")
	}
	var m struct {
		XMLName   xml.Name `xml:"resource-agent"`
		Name      string   `xml:"name,attr"`
		ShortDesc string   `xml:"shortdesc,attr"`
		LongDesc  string   `xml:"longdesc"`
		VendorURL string   `xml:"vendor-url"`
		Params    []struct {
			Name     string `xml:"name,attr"`
			Unique   string `xml:"unique,attr"`
			Required string `xml:"required,attr"`
			Getopt   struct {
				Mixed string `xml:"mixed,attr"`
			} `xml:"getopt"`
			Content struct {
				Type string `xml:"type,attr"`
			} `xml:"content"`
			ShortDesc struct {
				Lang string `xml:"lang,attr"`
				Text string `xml:",chardata"`
			} `xml:"shortdesc"`
		} `xml:"parameters>parameter"`
		Actions []struct {
			Name string `xml:"name,attr"`
		} `xml:"actions>action"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("metadata is not XML: %v", err)
	}
	if m.Name != "fence_goha_lab" || m.ShortDesc == "" || m.LongDesc == "" || m.VendorURL == "" {
		t.Errorf("header: %q %q %q %q", m.Name, m.ShortDesc, m.LongDesc, m.VendorURL)
	}
	params := map[string]bool{}
	for _, p := range m.Params {
		params[p.Name] = true
		if p.Getopt.Mixed == "" || p.Content.Type == "" || p.ShortDesc.Lang != "en" || p.ShortDesc.Text == "" ||
			(p.Unique != "0" && p.Unique != "1") || (p.Required != "0" && p.Required != "1") {
			t.Errorf("parameter %s incomplete: %+v", p.Name, p)
		}
	}
	// Pacemaker passes the target as port or plug, plus action; the lab
	// needs lab and state_dir.
	for _, want := range []string{"action", "port", "plug", "lab", "state_dir"} {
		if !params[want] {
			t.Errorf("parameter %s missing", want)
		}
	}
	acts := map[string]bool{}
	for _, a := range m.Actions {
		acts[a.Name] = true
	}
	for _, want := range []string{"on", "off", "reboot", "status", "list", "monitor", "metadata", "validate-all"} {
		if !acts[want] {
			t.Errorf("action %s missing", want)
		}
	}
}

// fakeController answers the lab protocol for nodes n1 (on) and n2 (off)
// and records the operations it was asked for.
type fakeController struct {
	mu  sync.Mutex
	ops []string
	on  map[string]bool
}

func startFake(t *testing.T) (stateDir string, f *fakeController) {
	t.Helper()
	// Unix socket paths are short; t.TempDir can be long.
	dir, err := os.MkdirTemp("", "lf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.MkdirAll(filepath.Join(dir, "lab1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lab1", "state.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", lab.SocketPath(dir, "lab1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f = &fakeController{on: map[string]bool{"n1": true, "n2": false}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var req lab.PowerRequest
				if json.NewDecoder(c).Decode(&req) != nil {
					return
				}
				f.mu.Lock()
				f.ops = append(f.ops, req.Op+" "+req.Node)
				rep := lab.PowerReply{OK: true}
				switch req.Op {
				case lab.OpList:
					rep.Nodes = []string{"n1", "n2"}
				case lab.OpStatus, lab.OpOn, lab.OpOff, lab.OpReboot:
					if _, ok := f.on[req.Node]; !ok {
						rep = lab.PowerReply{Error: "no node " + req.Node}
						break
					}
					switch req.Op {
					case lab.OpOn, lab.OpReboot:
						f.on[req.Node] = true
					case lab.OpOff:
						f.on[req.Node] = false
					}
					rep.On = f.on[req.Node]
				}
				f.mu.Unlock()
				_ = json.NewEncoder(c).Encode(rep)
			}()
		}
	}()
	return dir, f
}

func TestMainAgainstController(t *testing.T) {
	dir, f := startFake(t)
	tests := []struct {
		name     string
		args     []string // nil: use stdin
		stdin    string
		code     int
		stdout   string
		wantOp   string
		noLabDir bool
	}{
		{name: "status on", args: []string{"-o", "status", "-n", "n1"}, code: 0, stdout: "Status: ON", wantOp: "status n1"},
		{name: "status off", args: []string{"-o", "status", "-n", "n2"}, code: 2, stdout: "Status: OFF", wantOp: "status n2"},
		{name: "list", args: []string{"-o", "list"}, code: 0, stdout: "n1,n1\nn2,n2\n", wantOp: "list "},
		{name: "monitor", args: []string{"-o", "monitor"}, code: 0, wantOp: "ping "},
		{name: "reboot from stdin with port", stdin: "action=reboot\nnodename=n2\nport=n2\nlab=lab1\n", code: 0, wantOp: "reboot n2"},
		{name: "off from stdin with nodename only", stdin: "action=off\nnodename=n1\n", code: 0, wantOp: "off n1"},
		{name: "on", args: []string{"--action=on", "--plug=n1"}, code: 0, wantOp: "on n1"},
		{name: "unknown node", args: []string{"-o", "off", "-n", "n7"}, code: 1, wantOp: "off n7"},
		{name: "validate-all", args: []string{"-o", "validate-all"}, code: 0},
		{name: "off without target", args: []string{"-o", "off"}, code: 1},
		{name: "no such lab", args: []string{"-o", "list", "--lab", "other"}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.mu.Lock()
			f.ops = nil
			f.mu.Unlock()
			args := []string{"fence_goha_lab"}
			stdin := tt.stdin
			if tt.args != nil {
				args = append(args, tt.args...)
				args = append(args, "--state-dir="+dir)
			} else {
				stdin += "state_dir=" + dir + "\n"
			}
			var out, errb bytes.Buffer
			code := Main(args, strings.NewReader(stdin), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if tt.stdout != "" && !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q, want %q", out.String(), tt.stdout)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if tt.wantOp != "" && (len(f.ops) == 0 || f.ops[len(f.ops)-1] != tt.wantOp) {
				t.Errorf("controller saw %v, want last %q", f.ops, tt.wantOp)
			}
		})
	}
}

func TestMainNoController(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Main([]string{"fence_goha_lab", "-o", "monitor", "--state-dir", dir}, nil, &out, &errb); code != 1 {
		t.Fatalf("monitor with no lab: exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "no lab") {
		t.Errorf("stderr %q", errb.String())
	}
}
