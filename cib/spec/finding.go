package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a finding stops generation.
type Severity int

const (
	// Error findings make validation fail.
	Error Severity = iota
	// Warning findings are reported and do not.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Finding is one problem of a spec, tied to the field it is about.
type Finding struct {
	Severity Severity
	// Path names the field: primitives[2].params.ip.
	Path string
	Msg  string
	// Line and Column locate Path in the spec file (0 when unknown).
	Line, Column int
	// Safety marks the findings of the safety lint (fencing and quorum),
	// which --allow-unsafe turns into warnings.
	Safety bool
}

func (f Finding) String() string {
	loc := ""
	if f.Line > 0 {
		loc = fmt.Sprintf("%d:%d: ", f.Line, f.Column)
	}
	return fmt.Sprintf("%s%s: %s: %s", loc, f.Severity, f.Path, f.Msg)
}

// Findings is a list of findings.
type Findings []Finding

// Errorf adds an error about the field at path.
func (fs *Findings) Errorf(path, format string, args ...any) {
	*fs = append(*fs, Finding{Severity: Error, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Warnf adds a warning about the field at path.
func (fs *Findings) Warnf(path, format string, args ...any) {
	*fs = append(*fs, Finding{Severity: Warning, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Unsafef adds a safety error about the field at path.
func (fs *Findings) Unsafef(path, format string, args ...any) {
	*fs = append(*fs, Finding{Severity: Error, Path: path, Msg: fmt.Sprintf(format, args...), Safety: true})
}

// HasErrors reports whether any finding is an error.
func (fs Findings) HasErrors() bool {
	for _, f := range fs {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// Locate fills in the line and column of every finding from pos and sorts
// the findings by position, then path, so output is stable.
func (fs Findings) Locate(pos Positions) {
	for i := range fs {
		fs[i].Line, fs[i].Column = pos.Find(fs[i].Path)
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Path < b.Path
	})
}

// Format renders the findings one per line, prefixed with file.
func (fs Findings) Format(file string) string {
	var b strings.Builder
	for _, f := range fs {
		if file != "" {
			b.WriteString(file)
			b.WriteString(":")
			if f.Line == 0 {
				b.WriteString(" ")
			}
		}
		b.WriteString(f.String())
		b.WriteString("\n")
	}
	return b.String()
}
