package filesystem

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ProcTree is the part of /proc the search for a filesystem's users reads.
// Every method reads links and text only: nothing follows a link to its
// target, so a dead NFS server cannot block the search the way stat-based
// tools (fuser) can.
type ProcTree interface {
	// Pids lists the processes.
	Pids() ([]int, error)
	// Readlink reads /proc/<pid>/<name>: "cwd", "root", "exe" or "fd/<n>".
	Readlink(pid int, name string) (string, error)
	// FDs lists the names in /proc/<pid>/fd.
	FDs(pid int) ([]string, error)
	// Maps returns /proc/<pid>/maps.
	Maps(pid int) (string, error)
	// Comm returns /proc/<pid>/comm, for messages.
	Comm(pid int) string
}

// Holder is a process that uses a filesystem, and how.
type Holder struct {
	Pid  int
	Comm string
	Uses []string // "cwd", "root", "exe", "fd 3", "mmap /x/lib.so"
}

func (h Holder) String() string {
	return fmt.Sprintf("%d (%s: %s)", h.Pid, h.Comm, strings.Join(h.Uses, ", "))
}

// Target is what a filesystem's users are recognised by: paths under its
// mount points, and for a block device its device number in memory maps.
type Target struct {
	Dirs []string // clean absolute mount points
	// Devs are "major:minor" numbers as /proc/<pid>/maps prints them
	// ("07:00"); empty for bind mounts, whose number is shared with the
	// whole source filesystem.
	Devs []string
}

func (t Target) has(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false // socket:[...], pipe:[...], anon_inode:...
	}
	path = strings.TrimSuffix(path, " (deleted)")
	for _, d := range t.Dirs {
		if isUnder(path, d) {
			return true
		}
	}
	return false
}

// FindHolders walks tree for processes that use t, except those skip
// accepts (the agent itself). Processes that vanish during the walk, or
// whose entries cannot be read, are passed over: a vanished one holds
// nothing, and the unmount that follows is the real test.
func FindHolders(tree ProcTree, t Target, skip func(pid int) bool) ([]Holder, error) {
	pids, err := tree.Pids()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	sort.Ints(pids)
	var holders []Holder
	for _, pid := range pids {
		if skip != nil && skip(pid) {
			continue
		}
		if uses := usesOf(tree, pid, t); len(uses) > 0 {
			holders = append(holders, Holder{Pid: pid, Comm: tree.Comm(pid), Uses: uses})
		}
	}
	return holders, nil
}

func usesOf(tree ProcTree, pid int, t Target) []string {
	var uses []string
	for _, name := range []string{"cwd", "root", "exe"} {
		if target, err := tree.Readlink(pid, name); err == nil && t.has(target) {
			uses = append(uses, name)
		}
	}
	if fds, err := tree.FDs(pid); err == nil {
		sort.Slice(fds, func(i, j int) bool { return fdNumber(fds[i]) < fdNumber(fds[j]) })
		for _, fd := range fds {
			if target, err := tree.Readlink(pid, "fd/"+fd); err == nil && t.has(target) {
				uses = append(uses, "fd "+fd)
			}
		}
	}
	if maps, err := tree.Maps(pid); err == nil {
		seen := map[string]bool{}
		for _, line := range strings.Split(maps, "\n") {
			dev, path, ok := mapsEntry(line)
			if !ok || seen[path] {
				continue
			}
			if t.has(path) || (path != "" && contains(t.Devs, dev)) {
				seen[path] = true
				uses = append(uses, "mmap "+path)
			}
		}
	}
	return uses
}

// mapsEntry returns the device and path of one line of maps:
// "addr perms offset dev inode path", where the path may contain spaces.
func mapsEntry(line string) (dev, path string, ok bool) {
	rest := line
	for i := 0; i < 5; i++ {
		rest = strings.TrimLeft(rest, " ")
		field, after, found := strings.Cut(rest, " ")
		if i == 3 {
			dev = field
		}
		if !found {
			if i == 4 && field != "" {
				return dev, "", true // an anonymous mapping
			}
			return "", "", false
		}
		rest = after
	}
	return dev, strings.TrimLeft(rest, " "), true
}

func fdNumber(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// MapsDev formats a device number as /proc/<pid>/maps does.
func MapsDev(major, minor uint32) string { return fmt.Sprintf("%02x:%02x", major, minor) }
