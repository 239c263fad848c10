package manpage

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goha-ha/goha/ocf"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func noop(context.Context, *ocf.Request) error { return nil }

// sampleAgent exercises everything a page renders: paragraphs, troff
// specials at line starts and inside text, every parameter type, role
// monitors with a depth, and promotion.
func sampleAgent() *ocf.Agent {
	return &ocf.Agent{
		Name:    "sample",
		Version: "1.0",
		Short:   "Manages a sample service",
		Long: `Manages a sample service for the manual page tests.
.This line starts with a dot and 'this' one
'starts with a quote.

A second paragraph with a back\slash, a "double quote", a -dash and ` + "`ticks`" + `.`,
		Params: []ocf.Param{
			{Name: "ip", Type: ocf.String, Required: true, Unique: true, Short: "The address",
				Long: "The address to manage, e.g. 192.0.2.10 or 2001:db8::10."},
			{Name: "mode", Type: ocf.Enum, Values: []string{"fast", "safe"}, Default: "safe", Short: "How to stop"},
			{Name: "count", Type: ocf.Integer, Min: ocf.Bound(1), Max: ocf.Bound(30), Default: "3", Short: "How many announcements"},
			{Name: "verbose", Type: ocf.Boolean, Default: "false", Reloadable: true, Short: "Log more",
				Long: "Log every step.\n\nUseful while debugging."},
		},
		Ops: []ocf.Op{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 30 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 9 * time.Second, Role: "Promoted", Depth: 10},
			{Name: "promote", Timeout: 60 * time.Second},
			{Name: "demote", Timeout: 60 * time.Second},
		},
		Start: noop, Stop: noop, Monitor: noop, Promote: noop, Demote: noop,
	}
}

func sampleCLI() CLI {
	return CLI{
		Name:  "goha",
		Short: "Pacemaker resource agents and cluster tooling",
		Commands: []Command{
			{Name: "agents", Usage: "list the OCF agents (ocf:goha:NAME)"},
			{Name: "run", Args: "AGENT ACTION", Usage: "run an agent action"},
		},
		Agents: []*ocf.Agent{sampleAgent()},
	}
}

var info = Info{Source: "goha 1.2.3", Date: "2025-05-20"}

func TestEscape(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain text", "plain text"},
		{`back\slash`, `back\eslash`},
		{"a-b --long", `a\-b \-\-long`},
		{"it's", `it\(aqs`},
		{"`cmd`", `\(gacmd\(ga`},
		{"tab\there", "tab here"},
		{"two\nlines\r\n", "two lines  "},
		{"bell\a", "bell"},
		{`\fB`, `\efB`},
		{"ünïcode", "ünïcode"},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeLine(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{".SH injected", `\&.SH injected`},
		{"'br", `\(aqbr`},
		{"..", `\&..`},
		{"a.b", "a.b"},
		{`\.x`, `\e.x`},
	}
	for _, tt := range tests {
		if got := escapeLine(tt.in); got != tt.want {
			t.Errorf("escapeLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	if got, want := quote(`say "hi"`), `"say \(dqhi\(dq"`; got != want {
		t.Errorf("quote = %q, want %q", got, want)
	}
}

func TestParagraphs(t *testing.T) {
	tests := []struct {
		in   string
		want [][]string
	}{
		{"", nil},
		{"one", [][]string{{"one"}}},
		{"  a\n  b  \n", [][]string{{"a", "b"}}},
		{"a\n\n\n b\n\t\nc", [][]string{{"a"}, {"b"}, {"c"}}},
	}
	for _, tt := range tests {
		got := paragraphs(tt.in)
		if len(got) != len(tt.want) {
			t.Errorf("paragraphs(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if strings.Join(got[i], "|") != strings.Join(tt.want[i], "|") {
				t.Errorf("paragraphs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		}
	}
}

func TestParamSummary(t *testing.T) {
	tests := []struct {
		p    param
		typ  string
		want string
	}{
		{param{required: true, unique: true}, "string", "required, unique, string, no default"},
		{param{def: "3"}, "integer", "optional, integer, default 3"},
		{param{def: "safe"}, "enum", "optional, enum, default safe"},
	}
	for _, tt := range tests {
		if got := paramSummary(tt.p, tt.typ); got != tt.want {
			t.Errorf("paramSummary(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// TestGolden compares each page with its golden file; go test -update
// rewrites them after a deliberate change.
func TestGolden(t *testing.T) {
	pages := []struct {
		file   string
		render func(*bytes.Buffer) error
	}{
		{"ocf_goha_sample.7", func(b *bytes.Buffer) error { return WriteAgent(b, sampleAgent(), info) }},
		{"goha.8", func(b *bytes.Buffer) error { return WriteCLI(b, sampleCLI(), info) }},
	}
	for _, pg := range pages {
		t.Run(pg.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := pg.render(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", pg.file)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from the golden file; got:\n%s", pg.file, b.String())
			}
		})
	}
}

// TestRendered formats the pages with man, as a reader and lintian see
// them: no formatter warnings, and the troff specials come out literally.
func TestRendered(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man (man-db) is not installed: cannot format pages")
	}
	var agentPage, cliPage bytes.Buffer
	if err := WriteAgent(&agentPage, sampleAgent(), info); err != nil {
		t.Fatal(err)
	}
	if err := WriteCLI(&cliPage, sampleCLI(), info); err != nil {
		t.Fatal(err)
	}

	text := format(t, agentPage.Bytes())
	for _, want := range []string{
		"ocf_goha_sample - Manages a sample service",
		"pcs resource create name ocf:goha:sample",
		".This line starts with a dot and 'this' one 'starts with a quote.",
		`A second paragraph with a back\slash, a "double quote", a -dash and ` + "`ticks`.",
		"(required, unique, string, no default)",
		"Allowed values: fast, safe.",
		"(optional, enum, default safe)",
		"Range: 1 to 30.",
		"(optional, integer, default 3)",
		"A change is applied by reload, without a restart.",
		"(optional, boolean, default false)",
		"monitor (role Promoted)",
		"Default timeout: 20s. Default interval: 9s. Check level (OCF_CHECK_LEVEL): 10.",
		"validate-all",
		"pcs resource create p_sample ocf:goha:sample \\",
		"ip=string \\",
		"op monitor interval=10s timeout=20s \\",
		"monitor interval=9s timeout=20s role=Promoted OCF_CHECK_LEVEL=10 \\",
		"promotable notify=true",
		"primitive p_sample ocf:goha:sample \\",
		"params ip=string \\",
		"op monitor interval=9s timeout=20s role=Promoted depth=10",
		"clone c_sample p_sample meta promotable=true notify=true",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("formatted agent page lacks %q; page:\n%s", want, text)
		}
	}

	text = format(t, cliPage.Bytes())
	for _, want := range []string{
		"goha - Pacemaker resource agents and cluster tooling",
		"goha run AGENT ACTION",
		"ocf:goha:sample",
		"See ocf_goha_sample(7).",
		"ocf_goha_sample(7), pcs(8), crm_resource(8), ocf-tester(8)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("formatted goha(8) lacks %q; page:\n%s", want, text)
		}
	}
}

// format renders a page to plain text with man and fails on any warning.
// Lines are joined so that filled text can be matched across line breaks.
func format(t *testing.T, page []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "page.7")
	if err := os.WriteFile(f, page, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", f)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=200", "MAN_KEEP_FORMATTING=0", "MANPAGER=cat", "PAGER=cat")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("man -l: %v: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man --warnings reported:\n%s", stderr.String())
	}
	// Strip overstrike bold/underline (c\bc, _\bc) and collapse whitespace.
	out := stdout.String()
	var b strings.Builder
	for i := 0; i < len(out); i++ {
		if i+1 < len(out) && out[i+1] == '\b' {
			i++
			continue
		}
		b.WriteByte(out[i])
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
