package apache

import (
	"fmt"
	"sort"
	"strings"
)

// shellEnv is the environment apache starts with: the agent's own, changed
// by the assignments of the envfiles (Debian's /etc/apache2/envvars sets
// APACHE_RUN_USER, APACHE_PID_FILE and the like, which apache2.conf
// expands and without which apache2 refuses to start).
//
// The files are shell scripts meant to be sourced, but they are read here
// as a list of assignments, without a shell: "NAME=value", "export
// NAME=value", "export NAME" and "unset NAME", with shell quoting and $NAME,
// ${NAME}, ${NAME:-word} and ${NAME-word} expansions. Anything else (a
// conditional block, a command, a command substitution) is skipped and
// reported, so that nothing in a file is run with root privileges. Only
// exported variables reach apache, as when a shell sources the file and
// then runs apache.
type shellEnv struct {
	vars     map[string]string
	exported map[string]bool
}

// newShellEnv starts from environ, in os.Environ form; all of it is
// exported.
func newShellEnv(environ []string) *shellEnv {
	e := &shellEnv{vars: map[string]string{}, exported: map[string]bool{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !validName(k) {
			continue
		}
		e.vars[k], e.exported[k] = v, true
	}
	return e
}

// Lookup returns the value of an exported variable, as apache sees it.
func (e *shellEnv) Lookup(name string) (string, bool) {
	v, ok := e.vars[name]
	return v, ok && e.exported[name]
}

// Environ returns the exported variables in os.Environ form, sorted.
func (e *shellEnv) Environ() []string {
	var out []string
	for k, v := range e.vars {
		if e.exported[k] {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// Read applies the assignments of one file, named name in messages, and
// returns a note for every statement it skipped.
func (e *shellEnv) Read(name string, data string) []string {
	var notes []string
	depth, blockLine := 0, 0
	for _, st := range splitStatements(data) {
		// Compound commands are recognised before anything is expanded:
		// their conditions are not evaluated, so their bodies are skipped.
		switch strings.Fields(st.text)[0] {
		case "if", "case", "while", "until", "for":
			if depth == 0 {
				blockLine = st.line
			}
			depth++
			continue
		case "fi", "esac", "done":
			if depth > 0 {
				depth--
				if depth == 0 {
					notes = append(notes, fmt.Sprintf("%s:%d: skipped the block up to line %d: conditions are not evaluated", name, blockLine, st.line))
				}
			}
			continue
		}
		if depth > 0 {
			continue
		}
		words, err := e.words(st.text)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s:%d: skipped %q: %v", name, st.line, st.text, err))
			continue
		}
		if len(words) == 0 {
			continue
		}
		if note := e.apply(words); note != "" {
			notes = append(notes, fmt.Sprintf("%s:%d: skipped %q: %s", name, st.line, st.text, note))
		}
	}
	if depth > 0 {
		notes = append(notes, fmt.Sprintf("%s:%d: skipped an unterminated block", name, blockLine))
	}
	return notes
}

// apply performs one statement and says why when it does not.
func (e *shellEnv) apply(words []word) string {
	switch words[0].text {
	case "export":
		if words[0].quoted {
			break
		}
		for _, w := range words[1:] {
			if strings.HasPrefix(w.text, "-") {
				return "export options are not supported"
			}
		}
		for _, w := range words[1:] {
			if k, v, ok := assignment(w); ok {
				e.vars[k], e.exported[k] = v, true
			} else if validName(w.text) {
				e.exported[w.text] = true
				if _, set := e.vars[w.text]; !set {
					e.vars[w.text] = ""
				}
			} else {
				return fmt.Sprintf("%q is not a variable name", w.text)
			}
		}
		return ""
	case "unset":
		if words[0].quoted {
			break
		}
		for _, w := range words[1:] {
			if w.text == "-v" {
				continue
			}
			if !validName(w.text) {
				return fmt.Sprintf("%q is not a variable name", w.text)
			}
			delete(e.vars, w.text)
			delete(e.exported, w.text)
		}
		return ""
	}
	var set [][2]string
	for _, w := range words {
		k, v, ok := assignment(w)
		if !ok {
			return "only variable assignments are read, no command is run"
		}
		set = append(set, [2]string{k, v})
	}
	for _, kv := range set {
		e.vars[kv[0]] = kv[1]
	}
	return ""
}

// word is one shell word after quote removal and expansion; name is the
// raw text before an unquoted '=', for recognising assignments.
type word struct {
	text   string
	quoted bool   // some of it was quoted
	name   string // "NAME" when the word is NAME=..., "" otherwise
}

func assignment(w word) (string, string, bool) {
	if w.name == "" {
		return "", "", false
	}
	return w.name, strings.TrimPrefix(w.text, w.name+"="), true
}

// statement is one simple command of a file and the line it starts on.
type statement struct {
	text string
	line int
}

// splitStatements cuts a script at unquoted newlines and semicolons, joins
// backslash-continued lines and drops comments.
func splitStatements(data string) []statement {
	var out []statement
	var b strings.Builder
	line, start := 1, 1
	var quote rune
	atWordStart := true
	flush := func() {
		if s := strings.TrimSpace(b.String()); s != "" {
			out = append(out, statement{text: s, line: start})
		}
		b.Reset()
		start = line
	}
	rs := []rune(data)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			}
		case quote == '"':
			if r == '\\' && i+1 < len(rs) {
				b.WriteRune(r)
				i++
				r = rs[i]
			} else if r == '"' {
				quote = 0
			}
		case r == '\\' && i+1 < len(rs) && rs[i+1] == '\n':
			i++
			line++
			continue
		case r == '\\' && i+1 < len(rs):
			b.WriteRune(r)
			i++
			r = rs[i]
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && atWordStart:
			for i+1 < len(rs) && rs[i+1] != '\n' {
				i++
			}
			continue
		case r == ';':
			flush()
			atWordStart = true
			continue
		case r == '\n':
			line++
			flush()
			atWordStart = true
			continue
		}
		if r == '\n' {
			line++
		}
		b.WriteRune(r)
		atWordStart = quote == 0 && (r == ' ' || r == '\t')
	}
	flush()
	return out
}

// words splits one statement into words, removing quotes and expanding
// variables from e.
func (e *shellEnv) words(s string) ([]word, error) {
	var out []word
	rs := []rune(s)
	i := 0
	for {
		for i < len(rs) && (rs[i] == ' ' || rs[i] == '\t' || rs[i] == '\n') {
			i++
		}
		if i >= len(rs) {
			return out, nil
		}
		var w word
		var b strings.Builder
		nameEnd := -1 // index in b of an unquoted '=' ending a valid name
		plain := true // nothing quoted or expanded yet
		for i < len(rs) && rs[i] != ' ' && rs[i] != '\t' && rs[i] != '\n' {
			r := rs[i]
			switch r {
			case '\'':
				end := indexRune(rs, i+1, '\'')
				if end < 0 {
					return nil, fmt.Errorf("unterminated single quote")
				}
				b.WriteString(string(rs[i+1 : end]))
				w.quoted = true
				i = end + 1
			case '"':
				w.quoted = true
				i++
				for {
					if i >= len(rs) {
						return nil, fmt.Errorf("unterminated double quote")
					}
					if rs[i] == '"' {
						i++
						break
					}
					if rs[i] == '\\' && i+1 < len(rs) && strings.ContainsRune("$`\"\\", rs[i+1]) {
						b.WriteRune(rs[i+1])
						i += 2
						continue
					}
					if rs[i] == '$' || rs[i] == '`' {
						v, n, err := e.expand(rs[i:])
						if err != nil {
							return nil, err
						}
						b.WriteString(v)
						i += n
						continue
					}
					b.WriteRune(rs[i])
					i++
				}
			case '\\':
				if i+1 < len(rs) {
					b.WriteRune(rs[i+1])
				}
				w.quoted = true
				i += 2
			case '$', '`':
				v, n, err := e.expand(rs[i:])
				if err != nil {
					return nil, err
				}
				b.WriteString(v)
				i += n
			case '|', '&', '<', '>', '(', ')':
				return nil, fmt.Errorf("%q needs a shell", r)
			default:
				if r == '=' && nameEnd < 0 && plain && validName(b.String()) {
					nameEnd = b.Len()
				}
				b.WriteRune(r)
				i++
				continue
			}
			plain = false
		}
		w.text = b.String()
		if nameEnd > 0 {
			w.name = w.text[:nameEnd]
		}
		out = append(out, w)
	}
}

// expand reads one expansion at the start of rs ($NAME, ${...}) and
// returns its value and length.
func (e *shellEnv) expand(rs []rune) (string, int, error) {
	if rs[0] == '`' || len(rs) > 1 && rs[1] == '(' {
		return "", 0, fmt.Errorf("command substitution is not run")
	}
	if len(rs) == 1 {
		return "$", 1, nil
	}
	if rs[1] == '{' {
		end := indexRune(rs, 2, '}')
		if end < 0 {
			return "", 0, fmt.Errorf("unterminated ${")
		}
		inner := string(rs[2:end])
		n := 0
		for n < len(inner) && isNameByte(inner[n], n == 0) {
			n++
		}
		name, op := inner[:n], inner[n:]
		if name == "" {
			return "", 0, fmt.Errorf("unsupported expansion ${%s}", inner)
		}
		v, set := e.vars[name]
		switch {
		case op == "":
			return v, end + 1, nil
		case strings.HasPrefix(op, ":-"):
			if v == "" {
				v = op[2:]
			}
			return v, end + 1, nil
		case strings.HasPrefix(op, "-"):
			if !set {
				v = op[1:]
			}
			return v, end + 1, nil
		}
		return "", 0, fmt.Errorf("unsupported expansion ${%s}", inner)
	}
	n := 1
	for n < len(rs) && rs[n] < 128 && isNameByte(byte(rs[n]), n == 1) {
		n++
	}
	if n == 1 {
		return "$", 1, nil
	}
	return e.vars[string(rs[1:n])], n, nil
}

func indexRune(rs []rune, from int, r rune) int {
	for i := from; i < len(rs); i++ {
		if rs[i] == r {
			return i
		}
	}
	return -1
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

// validName reports whether s is a shell variable name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}
