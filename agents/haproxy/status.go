package haproxy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Proc is one process of the master's `show proc`.
type Proc struct {
	Pid     int
	Reloads int // for the master, reloads done; for a worker, reloads it has seen
}

// ProcTable is the master's `show proc`: itself, its current workers and
// the old workers still finishing their connections after a reload.
type ProcTable struct {
	Master        Proc
	FailedReloads int
	Workers       []Proc
	OldWorkers    []Proc
}

// parseShowProc reads `show proc` of HAProxy 2.x:
//
//	#<PID>          <type>          <reloads>       <uptime>        <version>
//	24375           master          1 [failed: 0]   0d00h10m18s     2.6.12-1+deb12u4
//	# workers
//	24897           worker          0               0d00h00m01s     2.6.12-1+deb12u4
//	# old workers
//	24376           worker          1               0d00h10m18s     2.6.12-1+deb12u4
//	# programs
func parseShowProc(text string) (ProcTable, error) {
	var t ProcTable
	section := "master"
	sawMaster := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case line == "# workers":
			section = "workers"
			continue
		case line == "# old workers":
			section = "old"
			continue
		case line == "# programs":
			section = "programs"
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return t, fmt.Errorf("show proc: malformed line %q", line)
		}
		pid, err1 := strconv.Atoi(f[0])
		reloads, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || pid <= 0 {
			return t, fmt.Errorf("show proc: malformed line %q", line)
		}
		p := Proc{Pid: pid, Reloads: reloads}
		switch section {
		case "master":
			if f[1] != "master" {
				return t, fmt.Errorf("show proc: %q where the master was expected", line)
			}
			t.Master, sawMaster = p, true
			if len(f) >= 5 && f[3] == "[failed:" {
				t.FailedReloads, _ = strconv.Atoi(strings.TrimSuffix(f[4], "]"))
			}
		case "workers":
			t.Workers = append(t.Workers, p)
		case "old":
			t.OldWorkers = append(t.OldWorkers, p)
		}
	}
	if !sawMaster {
		return t, errors.New("show proc: no master line")
	}
	return t, nil
}

// Pids lists the master and every worker, current and old.
func (t ProcTable) Pids() []int {
	pids := []int{t.Master.Pid}
	for _, w := range append(append([]Proc{}, t.Workers...), t.OldWorkers...) {
		pids = append(pids, w.Pid)
	}
	return pids
}

// StatRow is one line of `show stat`: a frontend, a backend or a server.
type StatRow struct {
	Proxy   string // pxname
	Service string // svname: FRONTEND, BACKEND or the server's name
	Status  string // OPEN, UP, DOWN, MAINT, no check, UP 1/3, ...
}

// parseShowStat reads the CSV of `show stat`, locating the columns by the
// header so that versions with more columns parse alike.
func parseShowStat(text string) ([]StatRow, error) {
	text = strings.TrimSpace(text)
	header, body, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(header, "# ") {
		return nil, fmt.Errorf("show stat: no CSV header but %q", firstLine(text))
	}
	cols := strings.Split(strings.TrimPrefix(header, "# "), ",")
	px, sv, st := -1, -1, -1
	for i, c := range cols {
		switch c {
		case "pxname":
			px = i
		case "svname":
			sv = i
		case "status":
			st = i
		}
	}
	if px < 0 || sv < 0 || st < 0 {
		return nil, errors.New("show stat: header lacks pxname, svname or status")
	}
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	var rows []StatRow
	for {
		rec, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("show stat: %w", err)
		}
		if len(rec) <= max(px, sv, st) {
			return nil, fmt.Errorf("show stat: a line has %d fields, fewer than the header's", len(rec))
		}
		rows = append(rows, StatRow{Proxy: rec[px], Service: rec[sv], Status: rec[st]})
	}
	return rows, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 80 {
		line = line[:80] + "..."
	}
	return line
}

// serverUp reports whether a server status lets it take traffic: UP,
// UP going down ("UP 1/3"), or no health check at all.
func serverUp(status string) bool {
	return status == "UP" || strings.HasPrefix(status, "UP ") || status == "no check"
}

// Observation is what a monitor saw of a running haproxy.
type Observation struct {
	Pidfile   int              // the master's pid as the pid file says
	Procs     ProcTable        // the master's show proc
	Stats     []StatRow        // the current worker's show stat
	Listening []netip.AddrPort // TCP sockets in LISTEN state
	Expected  []Listener       // what the configuration binds
	Required  []string         // backends that need a server up
}

// Verdict is a monitor's conclusion; Why names what is wrong.
type Verdict struct {
	OK  bool
	Why string
}

// assess judges an observation; every problem it finds is in Why.
func assess(o Observation) Verdict {
	var problems []string
	if len(o.Procs.Workers) == 0 {
		problems = append(problems, fmt.Sprintf("haproxy master (pid %d) has no current worker", o.Procs.Master.Pid))
	}
	if o.Pidfile != 0 && o.Procs.Master.Pid != o.Pidfile {
		problems = append(problems, fmt.Sprintf("the master socket answers for pid %d, the pid file names %d", o.Procs.Master.Pid, o.Pidfile))
	}
	if missing := notListening(o.Expected, o.Listening); len(missing) > 0 {
		problems = append(problems, "not listening: "+strings.Join(missing, ", "))
	}
	problems = append(problems, frontendsNotOpen(o.Expected, o.Stats)...)
	problems = append(problems, backendsDown(o.Required, o.Stats)...)
	if len(problems) > 0 {
		return Verdict{Why: strings.Join(problems, "; ")}
	}
	return Verdict{OK: true, Why: fmt.Sprintf("master %d, worker %d, %d addresses listening", o.Procs.Master.Pid, o.Procs.Workers[0].Pid, len(o.Expected))}
}

// notListening names the expected listeners without a listening socket.
func notListening(expected []Listener, listening []netip.AddrPort) []string {
	var missing []string
	for _, l := range expected {
		found := false
		for _, s := range listening {
			if int(s.Port()) == l.Port && (!l.Addr.IsValid() || s.Addr().Unmap() == l.Addr.Unmap()) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("frontend %s on %s", l.Frontend, l))
		}
	}
	return missing
}

// frontendsNotOpen names the frontends of expected that show stat reports
// in another state than OPEN (stopped or paused from the CLI).
func frontendsNotOpen(expected []Listener, rows []StatRow) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range expected {
		if seen[l.Frontend] {
			continue
		}
		seen[l.Frontend] = true
		for _, r := range rows {
			if r.Proxy == l.Frontend && r.Service == "FRONTEND" && r.Status != "OPEN" {
				out = append(out, fmt.Sprintf("frontend %s is %s", l.Frontend, r.Status))
			}
		}
	}
	return out
}

// backendsDown names each required backend without a server up.
func backendsDown(required []string, rows []StatRow) []string {
	var out []string
	for _, name := range required {
		found := false
		up := 0
		var servers []string
		for _, r := range rows {
			if r.Proxy != name {
				continue
			}
			if r.Service == "BACKEND" {
				found = true
				continue
			}
			if r.Service == "FRONTEND" {
				continue
			}
			servers = append(servers, r.Service+" "+r.Status)
			if serverUp(r.Status) {
				up++
			}
		}
		switch {
		case !found:
			out = append(out, fmt.Sprintf("backend %s does not exist in the running haproxy", name))
		case len(servers) == 0:
			out = append(out, fmt.Sprintf("backend %s has no server", name))
		case up == 0:
			out = append(out, fmt.Sprintf("backend %s has no server up (%s)", name, strings.Join(servers, ", ")))
		}
	}
	return out
}
