// Package manpage renders goha's manual pages as man(7) troff: one page per
// OCF agent (ocf_goha_<agent>(7), in the layout resource-agents uses) built
// from the agent's own meta-data, and goha(8) for the command-line interface.
package manpage

import (
	"fmt"
	"io"
	"strings"
)

// Info is what every page's title line carries besides its name.
type Info struct {
	Source string // package and version, e.g. "goha 0.1.0"
	Date   string // e.g. "2025-05-20"; empty leaves it out, for reproducible output
}

// roff accumulates troff source and remembers the first write error, so the
// renderers can write line after line and check once.
type roff struct {
	w   io.Writer
	err error
}

// line writes one line of troff source as is.
func (r *roff) line(format string, args ...any) {
	if r.err != nil {
		return
	}
	_, r.err = fmt.Fprintf(r.w, format+"\n", args...)
}

// text writes s as filled running text: paragraphs (separated by blank
// lines) become .PP-separated, each source line is trimmed and escaped.
func (r *roff) text(s string) {
	for i, para := range paragraphs(s) {
		if i > 0 {
			r.line(".sp")
		}
		for _, l := range para {
			r.line("%s", escapeLine(l))
		}
	}
}

// paragraphs splits s on blank lines into paragraphs of trimmed, non-empty
// lines.
func paragraphs(s string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			if cur != nil {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}

// escape makes s safe as inline troff text: backslashes print as
// backslashes, hyphens as ASCII minus (so commands can be copied), quotes as
// ASCII quotes; line breaks and tabs become spaces, other control
// characters are dropped.
func escape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\e`)
		case c == '-':
			b.WriteString(`\-`)
		case c == '\'':
			b.WriteString(`\(aq`)
		case c == '`':
			b.WriteString(`\(ga`)
		case c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(' ')
		case c < ' ' || c == 0x7f:
			// a control character has no business in a man page
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// escapeLine escapes one text line so that troff cannot take it for a
// request: a leading dot or apostrophe is made literal with the zero-width
// escape \&.
func escapeLine(s string) string {
	e := escape(s)
	if strings.HasPrefix(e, ".") || strings.HasPrefix(e, "'") {
		return `\&` + e
	}
	return e
}

// quote makes s one double-quoted macro argument.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"`
}

// bold and italic set s, escaped, in a font and return to roman.
func bold(s string) string   { return `\fB` + escape(s) + `\fR` }
func italic(s string) string { return `\fI` + escape(s) + `\fR` }

// header writes the page's title line and the formatting defaults: no
// hyphenation, ragged right (commands and addresses must not be split).
func (r *roff) header(title, section string, info Info, manual string) {
	r.line(".TH %s %s %s %s %s", quote(strings.ToUpper(title)), quote(section), quote(info.Date), quote(info.Source), quote(manual))
	r.line(".nh")
	r.line(".ad l")
}

// section starts a .SH section.
func (r *roff) section(name string) {
	r.line(".SH %s", quote(name))
}

// example writes lines verbatim in no-fill mode, indented; lines are
// already troff (they may carry font changes).
func (r *roff) example(lines []string) {
	r.line(".sp")
	r.line(".RS 4")
	r.line(".nf")
	for _, l := range lines {
		r.line("%s", l)
	}
	r.line(".fi")
	r.line(".RE")
}
