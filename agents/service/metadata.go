// Package service is ocf:goha:service, a systemd unit driven over D-Bus,
// with the health checks Pacemaker's built-in systemd class lacks.
//
// start and stop enqueue a job with systemd and wait until the job is
// done, so they return when the unit really is active or inactive, with
// systemd's own verdict (failed, timeout, dependency) as the reason when it
// is not. monitor reads the unit's ActiveState, SubState and NRestarts:
// a unit that systemd restarted on its own since start (Restart=) is
// reported as failed, so that crashes are not hidden from the cluster.
// Optional checks then ask the service itself: an HTTP(S) URL with an
// expected status and body, a TCP port that must accept connections, a
// command that must succeed. Presets fill in the unit and checks of the
// services goha's stacks run: vprotect-server, vprotect-node, memcached
// and the OVD session manager.
//
// The package reads top-down: this file declares the agent; config.go
// (parameters, presets) and assess.go (what a unit's state means for each
// action) are the pure core; systemd.go is the adapter to systemd's D-Bus
// API and health.go the one to the checked service; actions.go wires them
// into start, stop, monitor and validate-all. Monitors fork nothing unless
// an exec check is configured.
package service

import (
	"time"

	"github.com/goha-ha/goha/internal/version"
	"github.com/goha-ha/goha/ocf"
)

// Parameter names, shared by the declaration and the actions.
const (
	pUnit         = "unit"
	pPreset       = "preset"
	pBus          = "bus_address"
	pMaxRestarts  = "max_restarts"
	pHTTPURL      = "http_url"
	pHTTPStatus   = "http_status"
	pHTTPRegex    = "http_regex"
	pHTTPVerify   = "http_tls_verify"
	pHTTPCA       = "http_ca_file"
	pTCPPort      = "tcp_port"
	pTCPHost      = "tcp_host"
	pExec         = "exec"
	pCheckTimeout = "check_timeout"
)

// Agent returns the ocf:goha:service declaration and its actions.
func Agent() *ocf.Agent {
	return newAgent(&actions{dial: dialSystemd, checks: hostChecks{}})
}

// newAgent declares the agent over a, which tests build with fakes.
func newAgent(a *actions) *ocf.Agent {
	return &ocf.Agent{
		Name:    "service",
		Version: version.Version,
		Short:   "A systemd unit over D-Bus, with restart detection and health checks",
		Long: "Starts, stops and monitors a systemd unit through systemd's D-Bus API. start and stop " +
			"wait until systemd's job is done and fail with systemd's reason when it is not. monitor " +
			"reads the unit's ActiveState, SubState and NRestarts: a unit that failed, or that " +
			"systemd restarted on its own (Restart=) more than " + pMaxRestarts + " times since the " +
			"cluster started it, is reported as failed rather than hidden. Optional health checks " +
			"ask the service itself: " + pHTTPURL + " (status and body, TLS verified or not), " +
			pTCPPort + " and " + pExec + "; start waits until they pass. " + pPreset + " fills in the " +
			"unit and checks of known services. Disable the unit in systemd (systemctl disable) so " +
			"that only the cluster starts it.",
		Params: params(),
		Ops: []ocf.Op{
			{Name: "start", Timeout: 100 * time.Second},
			{Name: "stop", Timeout: 100 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second},
			{Name: "validate-all", Timeout: 10 * time.Second},
		},
		Start:    a.start,
		Stop:     a.stop,
		Monitor:  a.monitor,
		Validate: a.validate,
	}
}

func params() []ocf.Param {
	return []ocf.Param{
		{
			Name:  pUnit,
			Short: "systemd unit",
			Long: "The unit to run, e.g. vprotect-server or memcached.service; a name without a type " +
				"suffix means a .service. Required unless " + pPreset + " names it.",
			Check: func(v string) error { _, err := unitName(v); return err },
		},
		{
			Name: pPreset, Type: ocf.Enum, Values: presetNames(),
			Short: "Known service to take defaults from",
			Long: "Fills in " + pUnit + " and the health checks of a known service; each parameter " +
				"given explicitly wins, and an explicitly empty check parameter turns that check " +
				"off. vprotect-server: unit vprotect-server, TCP port 8080 and " +
				"https://127.0.0.1:8181/ answering below 500 (certificate not verified, it is " +
				"self-signed by default). vprotect-node: unit vprotect-node. memcached: unit " +
				"memcached, TCP port 11211 on " + pTCPHost + " (set it to the memcache VIP when " +
				"memcached listens there). ovd-session-manager: unit ovd-session-manager.",
		},
		{
			Name:  pBus,
			Short: "D-Bus address of the system bus",
			Long: "Where systemd is reached, as a D-Bus address such as " +
				"unix:path=/run/dbus/system_bus_socket. Empty means DBUS_SYSTEM_BUS_ADDRESS, or " +
				"the standard system bus; as root without a system bus, systemd's private socket.",
			Check: checkBusAddress,
		},
		{
			Name: pMaxRestarts, Type: ocf.Integer, Default: "0", Min: ocf.Bound(0), Max: ocf.Bound(1000000),
			Short: "Restarts by systemd tolerated before monitor fails",
			Long: "How many times systemd may restart the unit on its own (Restart=, counted by " +
				"NRestarts) after start before monitor reports a failure. 0 reports the first: " +
				"the cluster, not systemd, then decides where the service runs. A unit that " +
				"systemd is about to restart (SubState auto-restart) always fails the monitor.",
		},
		{
			Name:  pHTTPURL,
			Short: "URL that must answer",
			Long: "An http:// or https:// URL fetched by start (until it answers as expected) and " +
				"by every monitor. Redirects are not followed, so " + pHTTPStatus + " sees the " +
				"first answer. Proxy settings of the environment are ignored.",
			Check: checkURL,
		},
		{
			Name: pHTTPStatus, Default: "200-399",
			Short: "Expected HTTP status codes",
			Long:  "Status codes that count as healthy: codes and ranges separated by commas, e.g. 200 or 200-299,401.",
			Check: func(v string) error { _, err := parseStatusSet(v); return err },
		},
		{
			Name:  pHTTPRegex,
			Short: "Regular expression the HTTP body must match",
			Long:  "When set, the first MiB of the body must match this regular expression (Go RE2 syntax).",
			Check: checkRegex,
		},
		{
			Name: pHTTPVerify, Type: ocf.Boolean, Default: "true",
			Short: "Verify the TLS certificate",
			Long: "Whether an https:// " + pHTTPURL + " must present a certificate valid for its host, " +
				"signed by the system's CAs or by " + pHTTPCA + ". false accepts any certificate " +
				"(still encrypted), for services with self-signed certificates.",
		},
		{
			Name:  pHTTPCA,
			Short: "CA certificates for " + pHTTPURL,
			Long:  "A PEM file of CA certificates to verify the service's certificate with, instead of the system's.",
			Check: checkAbsolute,
		},
		{
			Name: pTCPPort, Type: ocf.Integer, Min: ocf.Bound(1), Max: ocf.Bound(65535),
			Short: "TCP port that must accept connections",
			Long:  "When set, start waits until " + pTCPHost + ":PORT accepts a TCP connection, and every monitor checks it does.",
		},
		{
			Name: pTCPHost, Default: "127.0.0.1",
			Short: "Host of " + pTCPPort,
			Long:  "The address or name " + pTCPPort + " is checked on, e.g. the virtual IP the service listens on.",
			Check: checkHost,
		},
		{
			Name:  pExec,
			Short: "Command that must succeed",
			Long: "A program and its arguments, separated by white space and run without a shell, " +
				"whose exit status 0 means healthy, e.g. \"/usr/bin/vprotect status\". Run by start " +
				"until it succeeds and by every monitor; its first line of output is the reason " +
				"when it fails.",
			Check: checkCommand,
		},
		{
			Name: pCheckTimeout, Type: ocf.Integer, Default: "5", Min: ocf.Bound(1), Max: ocf.Bound(600),
			Short: "Seconds each health check may take",
			Long:  "A check that takes longer fails. Keep the monitor timeout above the sum of the checks.",
		},
	}
}
