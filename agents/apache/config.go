package apache

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/ocf"
)

// Config is one resource's validated parameters, defaults resolved.
type Config struct {
	ConfigFile  string
	Httpd       string
	Port        int    // for the status URL when the configuration has no Listen
	StatusURL   string // "" derives it from the configuration
	TestRegex   *regexp.Regexp
	TestURL     string
	TestRegex10 *regexp.Regexp // nil when testregex10 is empty
	Options     []string       // options, split
	EnvFiles    []string
	PidFile     string // "" for the configuration's own
	IPv6        bool
	ServerRoot  string   // -d from options, or the compiled-in default
	Defines     []string // STATUS and the -D names of options
	Pre, Post   []string // -C and -c directives of options
}

// configFrom resolves the parameters; raw is what Pacemaker passed, to
// tell an envfiles set empty (read no file) from one not set (the default).
func configFrom(v *ocf.Values, raw map[string]string) (Config, error) {
	c := Config{
		ConfigFile: filepath.Clean(v.String(pConfigFile)),
		Httpd:      v.String(pHttpd),
		Port:       int(v.Int(pPort)),
		StatusURL:  strings.TrimSpace(v.String(pStatusURL)),
		TestURL:    strings.TrimSpace(v.String(pTestURL)),
		EnvFiles:   strings.Fields(v.String(pEnvFiles)),
		PidFile:    v.String(pPidFile),
		IPv6:       v.Bool(pUseIPv6),
		Defines:    []string{"STATUS"},
	}
	if e, ok := raw[pEnvFiles]; ok && strings.TrimSpace(e) == "" {
		c.EnvFiles = nil
	}
	var err error
	if c.TestRegex, err = compileRegex(v.String(pTestRegex)); err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pTestRegex, err)
	}
	if re := v.String(pTestRegex10); re != "" {
		if c.TestRegex10, err = compileRegex(re); err != nil {
			return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pTestRegex10, err)
		}
	}
	if c.TestURL != "" && c.TestRegex10 == nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s is required with %s: the depth-10 monitor matches the test page against it", pTestRegex10, pTestURL)
	}
	o, err := parseOptions(v.String(pOptions))
	if err != nil {
		return c, ocf.Fail(ocf.ErrConfigured, "parameter %s %v", pOptions, err)
	}
	c.Options, c.Pre, c.Post = o.argv, o.pre, o.post
	c.Defines = append(c.Defines, o.defines...)
	c.ServerRoot = o.serverRoot
	if c.ServerRoot == "" {
		c.ServerRoot = defaultServerRoot(c.Httpd, c.ConfigFile)
	}
	return c, nil
}

// regexFlags make a page regex behave as grep -Ei does for the shell
// agent: case-insensitive, with ^ and $ matching at every line.
const regexFlags = "(?im)"

// compileRegex compiles a testregex or testregex10.
func compileRegex(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(regexFlags + s)
	if err != nil {
		return nil, fmt.Errorf("is not a regular expression: %v", err)
	}
	return re, nil
}

// defaultServerRoot is the ServerRoot apache uses when neither -d nor the
// configuration sets one: compiled into the program (HTTPD_ROOT), which is
// /etc/apache2 for Debian's apache2 and /etc/httpd for httpd; for another
// program, the directory of its configuration file.
func defaultServerRoot(httpd, configFile string) string {
	switch base := path.Base(httpd); {
	case strings.HasPrefix(base, "apache2"):
		return "/etc/apache2"
	case strings.HasPrefix(base, "httpd"):
		return "/etc/httpd"
	}
	return path.Dir(configFile)
}

// options are the parts of the options parameter that change how the
// configuration reads.
type options struct {
	argv       []string
	defines    []string
	serverRoot string
	pre, post  []string
}

// optionsWithValue are the httpd options that the options parameter may
// carry, and whether each takes a value.
var optionsWithValue = map[byte]bool{'D': true, 'd': true, 'C': true, 'c': true, 'e': true, 'E': true, 'T': false}

// parseOptions splits the options parameter (quotes group words, no other
// shell syntax) and keeps only the httpd options that make sense for a
// managed server: -D, -d, -C, -c, -e, -E and -T. The agent sets -f and -k
// itself; -t, -S, -M, -v, -X and the like would not start a server.
func parseOptions(s string) (options, error) {
	var o options
	words := configWords(s)
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(w) < 2 || w[0] != '-' {
			return o, fmt.Errorf("has %q, which is not an httpd option", w)
		}
		takes, ok := optionsWithValue[w[1]]
		if !ok {
			return o, fmt.Errorf("has %s, which the agent sets itself or which does not start a server; allowed: -D, -d, -C, -c, -e, -E, -T", w)
		}
		val := ""
		if takes {
			if len(w) > 2 {
				val = w[2:]
			} else if i+1 < len(words) {
				i++
				val = words[i]
			} else {
				return o, fmt.Errorf("has %s without its value", w)
			}
			o.argv = append(o.argv, w[:2], val)
		} else {
			if len(w) > 2 {
				return o, fmt.Errorf("has %q, which is not an httpd option", w)
			}
			o.argv = append(o.argv, w)
		}
		switch w[1] {
		case 'D':
			o.defines = append(o.defines, val)
		case 'd':
			if !path.IsAbs(val) {
				return o, errors.New("has -d with a relative ServerRoot")
			}
			o.serverRoot = path.Clean(val)
		case 'C':
			o.pre = append(o.pre, val)
		case 'c':
			o.post = append(o.post, val)
		}
	}
	return o, nil
}

// checkOptions is the declaration's check of the options parameter.
func checkOptions(v string) error { _, err := parseOptions(v); return err }

// checkAbsolute accepts an absolute path that an apache directive can
// carry in quotes.
func checkAbsolute(v string) error {
	if !filepath.IsAbs(v) {
		return fmt.Errorf("must be an absolute path, not %q", v)
	}
	if strings.ContainsAny(v, "\"\n\\") {
		return fmt.Errorf("must not contain quotes, backslashes or newlines: %q", v)
	}
	return nil
}

func checkRegex(v string) error { _, err := compileRegex(v); return err }

// argv is apache's command line for one of its -k actions or -t: the
// shell agent's -DSTATUS, the options, the configuration file, and the
// pid file when the agent chooses it.
func (c Config) argv(pidDirective string, action ...string) []string {
	argv := []string{c.Httpd, "-DSTATUS"}
	argv = append(argv, c.Options...)
	argv = append(argv, "-f", c.ConfigFile)
	if pidDirective != "" {
		argv = append(argv, "-c", pidDirective)
	}
	return append(argv, action...)
}

// pidDirective is the PidFile directive the agent adds to apache's command
// line: the pidfile parameter, or a file of the resource's own when the
// configuration names none; "" when the configuration's own is used.
func pidDirective(paramPid, configPid, defaultPid string) (file, directive string) {
	switch {
	case paramPid != "":
		return paramPid, fmt.Sprintf("PidFile %q", paramPid)
	case configPid != "":
		return configPid, ""
	}
	return defaultPid, fmt.Sprintf("PidFile %q", defaultPid)
}

// ownsArgv reports whether argv is an apache process of configFile: the
// agent always passes -f with it, and every child apache forks keeps its
// parent's command line.
func ownsArgv(argv []string, configFile string) bool {
	for i, a := range argv {
		switch {
		case a == "-f" && i+1 < len(argv):
			return filepath.Clean(argv[i+1]) == configFile
		case strings.HasPrefix(a, "-f") && len(a) > 2:
			return filepath.Clean(a[2:]) == configFile
		}
	}
	return false
}

// page is an HTTP answer as a monitor sees it.
type page struct {
	Code      int
	Status    string // "404 Not Found"
	Body      []byte
	Truncated bool // Body holds only the start of a longer page
}

// judgePage says what is wrong with the page fetched from url, "" when it
// is healthy: status 200 and a match of re, as the shell agent requires.
func judgePage(url string, p page, re *regexp.Regexp, param string) string {
	if p.Code != 200 {
		return fmt.Sprintf("GET %s answered %s, not 200 OK", url, p.Status)
	}
	if re.Match(p.Body) {
		return ""
	}
	what := "the page"
	if p.Truncated {
		what = fmt.Sprintf("the first %d bytes of the page", len(p.Body))
	}
	return fmt.Sprintf("GET %s: %s does not match %s %q", url, what, param, strings.TrimPrefix(re.String(), regexFlags))
}

// fetchProblem describes a fetch that got no answer.
func fetchProblem(url string, err error, within time.Duration) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("GET %s: connection refused", url)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("GET %s: no answer within %s", url, within.Round(100*time.Millisecond))
	}
	return fmt.Sprintf("GET %s: %v", url, err)
}

// maxMessage bounds how much of apache's output goes into an exit reason.
const maxMessage = 512

// apacheMessage turns apache's output into one line for an exit reason:
// its lines joined, repeats, "Syntax OK" and the log prefixes of its
// messages ("[time] [module:level] [pid N] ") dropped. When that is too
// long the end is kept: apache's fatal error comes after its warnings.
func apacheMessage(out []byte) string {
	var parts []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		for strings.HasPrefix(line, "[") {
			end := strings.Index(line, "] ")
			if end < 0 {
				break
			}
			line = strings.TrimSpace(line[end+2:])
		}
		if line == "" || line == "Syntax OK" || slices.Contains(parts, line) {
			continue
		}
		parts = append(parts, line)
	}
	msg := strings.Join(parts, " ")
	if len(msg) > maxMessage {
		msg = "..." + msg[len(msg)-maxMessage:]
	}
	return msg
}
