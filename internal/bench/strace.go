package bench

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Count is what one traced agent call created: processes (fork, vfork and
// clone or clone3 without CLONE_THREAD), programs executed, and threads
// (clone with CLONE_THREAD, e.g. the Go runtime's own), none of which
// counts the agent process itself.
type Count struct {
	Forks   int
	Execs   int
	Threads int
}

// Procs summarises the counts of several traced calls of one agent.
type Procs struct {
	Traced                 int
	ForksMin, ForksMax     int
	ExecsMin, ExecsMax     int
	ThreadsMin, ThreadsMax int
}

// SummarizeCounts folds the counts of the traced calls into ranges.
func SummarizeCounts(counts []Count) Procs {
	p := Procs{Traced: len(counts)}
	for i, c := range counts {
		if i == 0 {
			p.ForksMin, p.ForksMax = c.Forks, c.Forks
			p.ExecsMin, p.ExecsMax = c.Execs, c.Execs
			p.ThreadsMin, p.ThreadsMax = c.Threads, c.Threads
			continue
		}
		p.ForksMin, p.ForksMax = min(p.ForksMin, c.Forks), max(p.ForksMax, c.Forks)
		p.ExecsMin, p.ExecsMax = min(p.ExecsMin, c.Execs), max(p.ExecsMax, c.Execs)
		p.ThreadsMin, p.ThreadsMax = min(p.ThreadsMin, c.Threads), max(p.ThreadsMax, c.Threads)
	}
	return p
}

// straceLine splits "PID name(args...) = ret" as strace -f -o writes it.
var straceLine = regexp.MustCompile(`^(?:(\d+)\s+)?(.*)$`)

// resumed matches the second half of a call strace had to split because
// another process ran in between: "<... clone resumed>...".
var resumed = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)

// ParseTrace counts the processes, programs and threads an strace log shows,
// the log being written by `strace -f -qq -e trace=process -o FILE -- agent`.
// The first successful execve is strace starting the agent and is not
// counted. Failed calls (a negative return) are not counted either.
func ParseTrace(r io.Reader) (Count, error) {
	var c Count
	pending := map[string]string{} // pid -> first half of an unfinished call
	sawAgentExec := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		m := straceLine.FindStringSubmatch(sc.Text())
		pid, call := m[1], m[2]
		if strings.HasPrefix(call, "---") || strings.HasPrefix(call, "+++") || call == "" {
			continue // signals and exits
		}
		if rm := resumed.FindStringSubmatch(call); rm != nil {
			first, ok := pending[pid]
			if !ok {
				return c, fmt.Errorf("strace log: %q resumes a call that never started", sc.Text())
			}
			delete(pending, pid)
			call = first + rm[2]
		} else if first, ok := strings.CutSuffix(call, "<unfinished ...>"); ok {
			pending[pid] = strings.TrimSpace(first)
			continue
		}
		name, _, ok := strings.Cut(call, "(")
		if !ok {
			continue
		}
		ret, ok := returnValue(call)
		if !ok || ret < 0 {
			continue
		}
		switch name {
		case "fork", "vfork":
			c.Forks++
		case "clone", "clone3":
			if strings.Contains(call, "CLONE_THREAD") {
				c.Threads++
			} else {
				c.Forks++
			}
		case "execve", "execveat":
			if !sawAgentExec {
				sawAgentExec = true
				continue
			}
			c.Execs++
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("read strace log: %w", err)
	}
	if !sawAgentExec {
		return c, fmt.Errorf("strace log shows no successful execve of the agent")
	}
	return c, nil
}

// retval matches the return of a finished call: ")   = 1234" or ") = -1 ENOENT (...)".
var retval = regexp.MustCompile(`\)\s+=\s+(-?[0-9a-fx]+|\?)`)

// returnValue reads the integer strace printed as the call's return value;
// false for none or "?" (a call that never returns, such as exit_group).
func returnValue(call string) (int64, bool) {
	all := retval.FindAllStringSubmatch(call, -1)
	if len(all) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(all[len(all)-1][1], 0, 64)
	return n, err == nil
}
