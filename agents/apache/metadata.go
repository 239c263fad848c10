// Package apache is ocf:goha:apache, an Apache HTTP Server watched through
// its server-status page.
//
// Parameter names and meanings follow ocf:heartbeat:apache, so a resource
// can be switched to it by changing its type. What differs is how the work
// is done: the envfiles (Debian's /etc/apache2/envvars) are read as
// assignments instead of being sourced by a shell; the configuration is
// read in Go, Include files and all, to find the status URL and the pid
// file; and a monitor forks nothing: it reads the pid file and /proc, then
// fetches the status page with an in-process HTTP client.
//
// The package reads top-down: this file declares the agent; config.go
// (parameters, apache's command line, what a fetched page means),
// httpdconf.go (apache's configuration) and envfile.go (envvars files)
// are the pure core; host.go is the adapter to processes, /proc, files and
// HTTP; actions.go wires them into start, stop, monitor, reload and
// validate-all.
//
// start runs apache's configtest first, so a broken configuration fails
// with apache's own words and OCF_ERR_CONFIGURED, then `httpd -DSTATUS
// -f configfile -k start`, and returns once the status page answers.
// reload tests the configuration before it signals a graceful restart, so
// a bad file never replaces a good running server. stop asks for a
// graceful stop (SIGWINCH) for half its timeout, then terminates the
// parent, its children and any process left with this configuration file.
package apache

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pConfigFile  = "configfile"
	pHttpd       = "httpd"
	pPort        = "port"
	pStatusURL   = "statusurl"
	pTestRegex   = "testregex"
	pClient      = "client"
	pTestURL     = "testurl"
	pTestRegex10 = "testregex10"
	pOptions     = "options"
	pEnvFiles    = "envfiles"
	pPidFile     = "pidfile"
	pUseIPv6     = "use_ipv6"

	defaultTestRegex = "</ *html *>"
)

// Agent returns the ocf:goha:apache declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{sys: newHost()})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "apache",
		Version: version.Version,
		Short:   "Apache HTTP Server, monitored through its server-status page",
		Long: "Runs an Apache HTTP Server (apache2 or httpd) from its configuration file. start " +
			"checks the configuration with apache's configtest, starts the server with -DSTATUS and " +
			"returns once the status page answers; monitor finds the server's parent process from " +
			"its pid file and /proc and fetches the status page (mod_status, by default the first " +
			"Listen address and the <Location> with SetHandler server-status of the configuration) " +
			"with an in-process HTTP client: status 200 and a match of testregex. With " +
			"OCF_CHECK_LEVEL=10 it also fetches testurl and matches testregex10. reload tests the " +
			"configuration, then restarts the server gracefully; stop asks for a graceful stop " +
			"for half its timeout, then terminates what is left. Make sure the status page is " +
			"allowed only from the local host (Require local). Parameter names follow " +
			"ocf:heartbeat:apache.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 40 * time.Second},
			{Name: "stop", Timeout: 60 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 61 * time.Second, Depth: 10},
			{Name: "reload", Timeout: 40 * time.Second},
			{Name: "validate-all", Timeout: 5 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Reload:   a.reload,
		Validate: a.validate,
	}
}

func params() []ocf.Param {
	return []ocf.Param{
		{
			Name: pConfigFile, Default: "/etc/apache2/apache2.conf", Unique: true,
			Short: "Apache configuration file",
			Long: "The absolute path of the server's main configuration file, passed with -f. The " +
				"agent reads it, and the files it includes, to find the status URL and the pid file. " +
				"Every apache process of the resource carries it on its command line, which is how " +
				"stop finds them all.",
			Check: checkAbsolute,
		},
		{
			Name: pHttpd, Default: "/usr/sbin/apache2",
			Short: "httpd program",
			Long:  "The absolute path of the server program: /usr/sbin/apache2 on Debian, /usr/sbin/httpd elsewhere.",
			Check: checkAbsolute,
		},
		{
			Name: pPort, Type: ocf.Integer, Min: ocf.Bound(1), Max: ocf.Bound(65535),
			Short: "Port of the status page when the configuration has no Listen",
			Long: "The port the derived status URL uses when the configuration has no Listen " +
				"directive (80 when empty). A Listen in the configuration takes precedence.",
			Reloadable: true,
		},
		{
			Name:  pStatusURL,
			Short: "URL of the status page",
			Long: "The URL a monitor fetches. Empty derives it from the configuration: the first " +
				"Listen (a wildcard address is reached on 127.0.0.1, or ::1 with use_ipv6; port " +
				"443 or the https protocol mean https) and the <Location> with SetHandler " +
				"server-status (one outside virtual hosts first; one in a virtual host uses the " +
				"Listen of its port). Make sure the page answers only to the local host, or the " +
				"cluster may believe the server runs on several nodes. Certificates are not " +
				"verified: the monitor checks the server, not its name.",
			Check:      checkURL,
			Reloadable: true,
		},
		{
			Name: pTestRegex, Default: defaultTestRegex,
			Short: "Regular expression the status page must match",
			Long: "A regular expression (RE2 syntax, close to grep -E), matched case-insensitively " +
				"against the status page. The default matches the closing html tag, so a page cut " +
				"short fails.",
			Check:      checkRegex,
			Reloadable: true,
		},
		{
			Name:  pClient,
			Short: "HTTP client (ignored)",
			Long: "Accepted for compatibility with ocf:heartbeat:apache (wget or curl there) and " +
				"ignored: the agent fetches pages with its own in-process HTTP client.",
			Reloadable: true,
		},
		{
			Name:  pTestURL,
			Short: "URL of the depth-10 test page",
			Long: "A page the monitor with OCF_CHECK_LEVEL=10 fetches as well, e.g. an " +
				"application's health page. A value that does not start with http is a path on the " +
				"first Listen address. Needs testregex10.",
			Reloadable: true,
		},
		{
			Name:  pTestRegex10,
			Short: "Regular expression the depth-10 test page must match",
			Long:  "A regular expression matched case-insensitively against testurl's page by the monitor with OCF_CHECK_LEVEL=10.",
			Check: checkRegex, Reloadable: true,
		},
		{
			Name:  pOptions,
			Short: "Extra httpd options",
			Long: "More httpd options, separated by white space, quotes grouping words (no other " +
				"shell syntax): -D NAME, -d serverroot, -C 'directive', -c 'directive', -e level, " +
				"-E file, -T. The agent passes -DSTATUS, -f and -k itself; options that do not " +
				"start a server are rejected.",
			Check: checkOptions,
		},
		{
			Name: pEnvFiles, Default: "/etc/apache2/envvars",
			Short: "Files with environment variables for apache",
			Long: "Files, separated by white space, whose variable assignments apache gets in its " +
				"environment; a missing file is skipped. Debian's apache2.conf needs " +
				"/etc/apache2/envvars (APACHE_RUN_USER, APACHE_PID_FILE, ...). They are read, not " +
				"run: NAME=value, export NAME=value, export NAME and unset NAME with shell quoting " +
				"and $NAME expansions; conditional blocks and commands are skipped with a log " +
				"message. Set it empty to read none.",
		},
		{
			Name: pPidFile, Unique: true,
			Short: "Pid file",
			Long: "The pid file of the server's parent process. When set it is passed to apache " +
				"(-c PidFile), overriding the configuration. Empty uses the configuration's " +
				"PidFile, or apache-RESOURCE.pid in HA_RSCTMP when it has none.",
			Check: checkAbsolute,
		},
		{
			Name: pUseIPv6, Type: ocf.Boolean, Default: "false",
			Short: "Reach a wildcard listener over IPv6",
			Long: "When the status URL is derived from a Listen without an address, fetch it from " +
				"[::1] instead of 127.0.0.1.",
			Reloadable: true,
		},
	}
}
