package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procStart returns field 22 (starttime) of /proc/PID/stat.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatStart(b)
}

// parseStatStart extracts starttime from a /proc/PID/stat line; the comm
// field may contain spaces and parentheses, so fields are counted after the
// last ')'.
func parseStatStart(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat line")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, errors.New("short stat line")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// pidNS returns the PID namespace link of a process, e.g. "pid:[4026532]".
func pidNS(pid int) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
}

// procOf returns the identity of a running process.
func procOf(pid int) (*Proc, error) {
	st, err := procStart(pid)
	if err != nil {
		return nil, err
	}
	ns, err := pidNS(pid)
	if err != nil {
		return nil, err
	}
	return &Proc{PID: pid, Start: st, PidNS: ns}, nil
}

// alive reports whether p still names the same, not yet exited process.
func (p *Proc) alive() bool {
	if p == nil || p.PID <= 0 {
		return false
	}
	st, err := procStart(p.PID)
	if err != nil || st != p.Start {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// signal sends sig to p if it is still the recorded process.
func (p *Proc) signal(sig syscall.Signal) error {
	if !p.alive() {
		return os.ErrProcessDone
	}
	return syscall.Kill(p.PID, sig)
}

// nsProc is a process found in a node's PID namespace.
type nsProc struct {
	PID  int // in the host's PID namespace
	Comm string
	Argv []string
}

// procsInNS lists the live processes whose PID namespace is ns.
func procsInNS(ns string) ([]nsProc, error) {
	if ns == "" {
		return nil, nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var ps []nsProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		l, err := pidNS(pid)
		if err != nil || l != ns {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		ps = append(ps, nsProc{
			PID:  pid,
			Comm: strings.TrimSpace(string(comm)),
			Argv: strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"),
		})
	}
	return ps, nil
}

// matches reports whether a process is the program name: its comm (which
// the kernel cuts at 15 bytes) or the base name of argv[0].
func (p nsProc) matches(name string) bool {
	if p.Comm == name || (len(name) > 15 && p.Comm == name[:15]) {
		return true
	}
	return len(p.Argv) > 0 && filepath.Base(p.Argv[0]) == name
}
