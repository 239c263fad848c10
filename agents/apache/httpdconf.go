package apache

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// serverConfig is what the agent needs to know of an apache configuration:
// where apache listens, where its status page is, where it writes its pid
// and its errors.
type serverConfig struct {
	ServerRoot string
	PidFile    string // absolute; "" when the configuration sets none
	ErrorLog   string // absolute path of the main error log; "" for syslog or a pipe
	Listens    []listen
	Status     []statusLocation // <Location>s with SetHandler server-status, in order
	Files      []string         // every file read, in order
}

// listen is one Listen directive.
type listen struct {
	Host  string // address or name without brackets; "" for every address
	Port  int
	Proto string // the optional protocol argument, lower case ("https")
}

// statusLocation is one <Location> that serves mod_status.
type statusLocation struct {
	Path  string
	VHost bool  // inside a <VirtualHost>
	Ports []int // the virtual host's ports; 0 for "any port"
}

// configInput is how apache is told to read its configuration.
type configInput struct {
	File       string                      // the main file (-f), absolute
	ServerRoot string                      // -d, or the compiled-in default
	Defines    []string                    // -D names, STATUS among them
	Pre, Post  []string                    // -C and -c directives
	Lookup     func(string) (string, bool) // the environment apache starts with
}

// staticModules are compiled into Debian's apache2 (apache2 -l), so
// <IfModule> finds them without a LoadModule.
var staticModules = []string{"core.c", "mod_so.c", "mod_watchdog.c", "http_core.c", "mod_log_config.c", "mod_logio.c", "mod_version.c", "mod_unixd.c"}

// maxIncludeDepth bounds Include recursion, as apache does, so that a file
// including itself is an error instead of a hang.
const maxIncludeDepth = 128

// readServerConfig reads in.File from fsys (rooted at "/") the way apache
// does for what the agent needs: Include and IncludeOptional with
// wildcards and directories, relative to ServerRoot; Define and ${VAR};
// <IfModule>, <IfDefine> and <IfFile> evaluated, other conditions assumed
// true. It only reads: apache's own configtest is what decides whether the
// configuration is valid.
func readServerConfig(fsys fs.FS, in configInput) (serverConfig, error) {
	r := &confReader{
		fsys:    fsys,
		in:      in,
		root:    in.ServerRoot,
		defines: map[string]string{},
		modules: map[string]bool{},
	}
	for _, d := range in.Defines {
		r.defines[d] = ""
	}
	for _, m := range staticModules {
		r.modules[m] = true
	}
	for i, d := range in.Pre {
		if err := r.line(fmt.Sprintf("-C argument %d", i+1), d, 0); err != nil {
			return r.sc, err
		}
	}
	if err := r.file(in.File, 0); err != nil {
		return r.sc, err
	}
	for i, d := range in.Post {
		if err := r.line(fmt.Sprintf("-c argument %d", i+1), d, 0); err != nil {
			return r.sc, err
		}
	}
	if len(r.stack) > 0 {
		return r.sc, fmt.Errorf("%s: <%s> is not closed", in.File, r.stack[len(r.stack)-1].name)
	}
	r.sc.ServerRoot = r.root
	if r.pidFile != "" {
		runtimeDir := r.relative(r.runtimeDir)
		if r.runtimeDir == "" {
			runtimeDir = path.Join(r.root, "logs")
		}
		r.sc.PidFile = r.pidFile
		if !path.IsAbs(r.pidFile) {
			r.sc.PidFile = path.Join(runtimeDir, r.pidFile)
		}
	}
	if r.errorLog == "" {
		r.errorLog = "logs/error_log"
	}
	if !strings.HasPrefix(r.errorLog, "|") && !strings.HasPrefix(strings.ToLower(r.errorLog), "syslog") {
		r.sc.ErrorLog = r.relative(r.errorLog)
	}
	return r.sc, nil
}

// confReader holds the state of one read.
type confReader struct {
	fsys       fs.FS
	in         configInput
	sc         serverConfig
	root       string
	defines    map[string]string
	modules    map[string]bool
	stack      []section
	pidFile    string
	runtimeDir string
	errorLog   string
}

// section is one open <Section>.
type section struct {
	name     string // lower case, without '<'
	active   bool   // its directives count
	location string // for <Location>
	vhost    []int  // for <VirtualHost>: its ports
}

func (r *confReader) active() bool {
	return len(r.stack) == 0 || r.stack[len(r.stack)-1].active
}

// relative resolves p against ServerRoot, as apache does for most paths.
func (r *confReader) relative(p string) string {
	if p == "" || path.IsAbs(p) {
		return p
	}
	return path.Join(r.root, p)
}

func (r *confReader) file(name string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: includes nested deeper than %d levels (does a file include itself?)", name, maxIncludeDepth)
	}
	raw, err := fs.ReadFile(r.fsys, fsPath(name))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	r.sc.Files = append(r.sc.Files, name)
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		text := strings.TrimRight(lines[i], " \t\r")
		for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, "\\") + strings.TrimRight(lines[i], " \t\r")
		}
		if err := r.line(fmt.Sprintf("%s:%d", name, n), text, depth); err != nil {
			return err
		}
	}
	return nil
}

// line handles one logical line; where names it in errors.
func (r *confReader) line(where, text string, depth int) error {
	text = strings.TrimSpace(text)
	if text == "" || strings.HasPrefix(text, "#") {
		return nil
	}
	text = r.expand(text)
	if strings.HasPrefix(text, "</") {
		if len(r.stack) == 0 {
			return fmt.Errorf("%s: %s closes no section", where, text)
		}
		r.stack = r.stack[:len(r.stack)-1]
		return nil
	}
	if strings.HasPrefix(text, "<") {
		body := strings.TrimSpace(strings.TrimSuffix(text[1:], ">"))
		args := configWords(body)
		if len(args) == 0 {
			return fmt.Errorf("%s: empty section %q", where, text)
		}
		r.open(strings.ToLower(args[0]), args[1:])
		return nil
	}
	args := configWords(text)
	if len(args) == 0 || !r.active() {
		return nil
	}
	return r.directive(where, strings.ToLower(args[0]), args[1:], depth)
}

func (r *confReader) open(name string, args []string) {
	s := section{name: name, active: r.active()}
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	negate := strings.HasPrefix(arg, "!")
	arg = strings.TrimPrefix(arg, "!")
	cond := true
	switch name {
	case "ifmodule":
		cond = r.modules[arg]
	case "ifdefine":
		_, cond = r.defines[arg]
	case "iffile":
		_, err := fs.Stat(r.fsys, fsPath(r.relative(arg)))
		cond = err == nil
	case "location":
		if len(args) == 1 {
			s.location = arg
		}
		negate = false
	case "virtualhost":
		for _, a := range args {
			s.vhost = append(s.vhost, vhostPort(a))
		}
		negate = false
	default:
		negate = false
	}
	s.active = s.active && cond != negate
	if s.location == "" && len(r.stack) > 0 {
		s.location = r.stack[len(r.stack)-1].location
	}
	if s.vhost == nil && len(r.stack) > 0 {
		s.vhost = r.stack[len(r.stack)-1].vhost
	}
	r.stack = append(r.stack, s)
}

// vhostPort reads the port of a <VirtualHost> address: 0 for "any".
func vhostPort(a string) int {
	_, port, err := net.SplitHostPort(a)
	if err != nil || port == "*" {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

func (r *confReader) directive(where, name string, args []string, depth int) error {
	inVHost := len(r.stack) > 0 && r.stack[len(r.stack)-1].vhost != nil
	switch name {
	case "serverroot":
		if len(args) == 1 {
			r.root = path.Clean(args[0])
		}
	case "include", "includeoptional":
		if len(args) != 1 {
			return fmt.Errorf("%s: %s takes one path", where, args)
		}
		return r.include(where, r.relative(args[0]), name == "includeoptional", depth)
	case "loadmodule":
		if len(args) == 2 {
			r.modules[args[0]] = true
			r.modules[strings.TrimSuffix(path.Base(args[1]), ".so")+".c"] = true
		}
	case "define":
		if len(args) >= 1 {
			r.defines[args[0]] = strings.Join(args[1:], " ")
		}
	case "undefine":
		if len(args) == 1 {
			delete(r.defines, args[0])
		}
	case "listen":
		if len(args) == 0 {
			return fmt.Errorf("%s: Listen without an address", where)
		}
		l, err := parseListen(args)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		r.sc.Listens = append(r.sc.Listens, l)
	case "pidfile":
		if len(args) == 1 && !inVHost {
			r.pidFile = args[0]
		}
	case "defaultruntimedir":
		if len(args) == 1 {
			r.runtimeDir = args[0]
		}
	case "errorlog":
		if len(args) >= 1 && !inVHost {
			r.errorLog = strings.Join(args, " ")
		}
	case "sethandler":
		if len(args) == 1 && strings.EqualFold(args[0], "server-status") && len(r.stack) > 0 {
			top := r.stack[len(r.stack)-1]
			if top.location != "" {
				r.sc.Status = append(r.sc.Status, statusLocation{Path: top.location, VHost: top.vhost != nil, Ports: top.vhost})
			}
		}
	}
	return nil
}

// include reads the files pattern names: a file, a directory (every file
// below it, in order) or a wildcard pattern.
func (r *confReader) include(where, pattern string, optional bool, depth int) error {
	var names []string
	if strings.ContainsAny(pattern, "*?[") {
		m, err := fs.Glob(r.fsys, fsPath(pattern))
		if err != nil {
			return fmt.Errorf("%s: include %s: %w", where, pattern, err)
		}
		if len(m) == 0 && !optional {
			return fmt.Errorf("%s: Include %s matches no file", where, pattern)
		}
		for _, p := range m {
			names = append(names, "/"+p)
		}
	} else {
		names = []string{pattern}
	}
	for _, name := range names {
		st, err := fs.Stat(r.fsys, fsPath(name))
		if err != nil {
			if optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("%s: include %s: %w", where, name, err)
		}
		if !st.IsDir() {
			if err := r.file(name, depth+1); err != nil {
				return err
			}
			continue
		}
		err = fs.WalkDir(r.fsys, fsPath(name), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// A link to a directory is followed like the directory.
				if st, err := fs.Stat(r.fsys, p); err == nil && st.IsDir() {
					return r.include(where, "/"+p, optional, depth+1)
				}
			}
			return r.file("/"+p, depth+1)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// expand replaces ${NAME} by a Define'd value or an environment variable,
// as apache does; an unknown name stays as it is.
func (r *confReader) expand(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			break
		}
		name := s[i+2 : i+end]
		b.WriteString(s[:i])
		if v, ok := r.defines[name]; ok {
			b.WriteString(v)
		} else if v, ok := r.lookup(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+end+1])
		}
		s = s[i+end+1:]
	}
	b.WriteString(s)
	return b.String()
}

func (r *confReader) lookup(name string) (string, bool) {
	if r.in.Lookup == nil {
		return "", false
	}
	return r.in.Lookup(name)
}

// fsPath turns an absolute path into a path of an fs.FS rooted at "/".
func fsPath(p string) string {
	p = strings.TrimPrefix(path.Clean(p), "/")
	if p == "" {
		return "."
	}
	return p
}

// configWords splits a directive's arguments like apache: at white space,
// with double or single quotes around an argument and a backslash escaping
// a quote inside them.
func configWords(s string) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out
		}
		if q := s[0]; q == '"' || q == '\'' {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != q; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
					i++
				}
				b.WriteByte(s[i])
			}
			out = append(out, b.String())
			if i < len(s) {
				i++
			}
			s = s[i:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

// parseListen reads the arguments of a Listen directive:
// [address:]port [protocol], the address in brackets when it is IPv6.
func parseListen(args []string) (listen, error) {
	spec := args[0]
	var l listen
	if len(args) > 1 {
		l.Proto = strings.ToLower(args[1])
	}
	port := spec
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]")
		if end < 0 || !strings.HasPrefix(spec[end+1:], ":") {
			return l, fmt.Errorf("Listen %s: want [address]:port", spec)
		}
		l.Host, port = spec[1:end], spec[end+2:]
	} else if i := strings.LastIndex(spec, ":"); i >= 0 {
		if strings.Count(spec, ":") > 1 {
			return l, fmt.Errorf("Listen %s: an IPv6 address goes in brackets", spec)
		}
		l.Host, port = spec[:i], spec[i+1:]
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return l, fmt.Errorf("Listen %s: port %q is not 1 to 65535", spec, port)
	}
	l.Port = n
	if l.Host == "*" {
		l.Host = ""
	}
	return l, nil
}

// URL is the base URL a local client reaches this listener at: a wildcard
// listener is reached on loopback (::1 when ipv6 is set), and port 443 or
// the https protocol mean https, as they do for apache.
func (l listen) URL(ipv6 bool) string {
	scheme := "http"
	if l.Proto == "https" || l.Proto == "" && l.Port == 443 {
		scheme = "https"
	}
	host := l.Host
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
		if ipv6 || l.Host == "::" {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(l.Port))
}

// statusURL derives the status page's URL from the configuration: the
// first <Location> serving server-status (one outside any virtual host
// first) on the first Listen, or on the first Listen on its virtual
// host's port. Without a Listen, port (80 when 0) on loopback is used.
func statusURL(sc serverConfig, port int, ipv6 bool) (string, error) {
	if len(sc.Status) == 0 {
		return "", errors.New("has no <Location> with SetHandler server-status (enable mod_status, e.g. a2enmod status)")
	}
	loc := sc.Status[0]
	for _, s := range sc.Status {
		if !s.VHost {
			loc = s
			break
		}
	}
	p := loc.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return baseURL(sc, loc.Ports, port, ipv6) + p, nil
}

// baseURL is the URL of the listener that serves a virtual host on ports
// (any when empty or 0).
func baseURL(sc serverConfig, ports []int, port int, ipv6 bool) string {
	if len(sc.Listens) == 0 {
		if port == 0 {
			port = 80
		}
		return listen{Port: port}.URL(ipv6)
	}
	for _, l := range sc.Listens {
		for _, p := range ports {
			if p == 0 || p == l.Port {
				return l.URL(ipv6)
			}
		}
	}
	return sc.Listens[0].URL(ipv6)
}

// testURL resolves the depth-10 test URL: one that does not start with
// http is a path on the first listener, as for the shell agent.
func testURL(sc serverConfig, raw string, port int, ipv6 bool) string {
	if strings.HasPrefix(raw, "http") {
		return raw
	}
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	return baseURL(sc, nil, port, ipv6) + raw
}

// checkURL accepts an absolute http or https URL.
func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("is not an http:// or https:// URL: %q", v)
	}
	return nil
}
