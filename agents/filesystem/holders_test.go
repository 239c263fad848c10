package filesystem

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"testing"
)

// fakeProc is a /proc tree in memory: links, fd tables and maps per pid.
type fakeProc struct {
	links map[int]map[string]string // pid -> "cwd"/"fd/3" -> target
	maps  map[int]string
	comm  map[int]string
	// vanish makes a listed pid disappear before its entries are read.
	vanish map[int]bool
}

var errNoProc = &fs.PathError{Op: "readlink", Path: "/proc/x", Err: fs.ErrNotExist}

func (p fakeProc) Pids() ([]int, error) {
	var pids []int
	for pid := range p.links {
		pids = append(pids, pid)
	}
	for pid := range p.maps {
		if p.links[pid] == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func (p fakeProc) Readlink(pid int, name string) (string, error) {
	if p.vanish[pid] {
		return "", errNoProc
	}
	t, ok := p.links[pid][name]
	if !ok {
		return "", errNoProc
	}
	return t, nil
}

func (p fakeProc) FDs(pid int) ([]string, error) {
	if p.vanish[pid] {
		return nil, errNoProc
	}
	var fds []string
	for name := range p.links[pid] {
		var n int
		if _, err := fmt.Sscanf(name, "fd/%d", &n); err == nil {
			fds = append(fds, fmt.Sprint(n))
		}
	}
	return fds, nil
}

func (p fakeProc) Maps(pid int) (string, error) {
	if p.vanish[pid] {
		return "", errNoProc
	}
	m, ok := p.maps[pid]
	if !ok {
		return "", errors.New("permission denied")
	}
	return m, nil
}

func (p fakeProc) Comm(pid int) string { return p.comm[pid] }

func TestFindHolders(t *testing.T) {
	tree := fakeProc{
		links: map[int]map[string]string{
			1:    {"cwd": "/", "root": "/", "exe": "/usr/lib/systemd/systemd"},
			100:  {"cwd": "/data", "root": "/", "exe": "/usr/bin/bash", "fd/0": "/dev/pts/0"},
			101:  {"cwd": "/root", "root": "/", "fd/0": "/dev/null", "fd/10": "/data/db/ibdata1", "fd/3": "socket:[4242]", "fd/4": "/data/old.log (deleted)"},
			102:  {"cwd": "/", "root": "/data/chroot", "exe": "/data/chroot/bin/sh"},
			103:  {"cwd": "/database", "root": "/", "fd/1": "/data2/x"}, // prefixes, not the same paths
			104:  {"cwd": "/", "root": "/", "exe": "/data/bin/backupd"},
			105:  {"cwd": "/data/sub/deeper", "root": "/"},
			106:  {"cwd": "/data"}, // vanishes while the walk runs
			4242: {"cwd": "/data"}, // the agent itself
		},
		maps: map[int]string{
			100: "7f0000000000-7f0000001000 r--p 00000000 fd:00 1234 /usr/lib/x86_64-linux-gnu/libc.so.6\n",
			101: "00400000-00452000 r-xp 00000000 08:02 173521 /usr/sbin/mariadbd\n" +
				"7f00-7f10 rw-s 00000000 07:00 12 /data/db/ib_logfile0\n" +
				"7f10-7f20 rw-s 00001000 07:00 12 /data/db/ib_logfile0\n" +
				"7fff-8000 rw-p 00000000 00:00 0                          [stack]\n",
			107: "7f00-7f10 r--s 00000000 07:00 99 /other/view/of the same fs.dat\n" +
				"7f10-7f20 rw-p 00000000 00:00 0 \n",
		},
		comm:   map[int]string{100: "bash", 101: "mariadbd", 102: "sh", 104: "backupd", 105: "ls", 107: "reader"},
		vanish: map[int]bool{106: true},
	}
	skip := func(pid int) bool { return pid == 4242 }

	got, err := FindHolders(tree, Target{Dirs: []string{"/data"}, Devs: []string{"07:00"}}, skip)
	if err != nil {
		t.Fatal(err)
	}
	want := []Holder{
		{Pid: 100, Comm: "bash", Uses: []string{"cwd"}},
		{Pid: 101, Comm: "mariadbd", Uses: []string{"fd 4", "fd 10", "mmap /data/db/ib_logfile0"}},
		{Pid: 102, Comm: "sh", Uses: []string{"root", "exe"}},
		{Pid: 104, Comm: "backupd", Uses: []string{"exe"}},
		{Pid: 105, Comm: "ls", Uses: []string{"cwd"}},
		{Pid: 107, Comm: "reader", Uses: []string{"mmap /other/view/of the same fs.dat"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FindHolders =\n%v\nwant\n%v", got, want)
	}

	// A bind mount has no device of its own: only paths count.
	got, err = FindHolders(tree, Target{Dirs: []string{"/data/sub"}}, skip)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Holder{{Pid: 105, Comm: "ls", Uses: []string{"cwd"}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("bind target: %v, want %v", got, want)
	}

	// Nobody uses an unrelated directory.
	if got, _ := FindHolders(tree, Target{Dirs: []string{"/srv"}}, skip); len(got) != 0 {
		t.Errorf("unrelated directory held by %v", got)
	}
}

func TestMapsEntry(t *testing.T) {
	tests := []struct {
		line, dev, path string
		ok              bool
	}{
		{"7f00-7f10 r--p 00000000 fd:00 1234 /usr/lib/libc.so.6", "fd:00", "/usr/lib/libc.so.6", true},
		{"7f00-7f10 r--p 00000000 07:00 12    /a b/c d", "07:00", "/a b/c d", true},
		{"7f00-7f10 rw-p 00000000 00:00 0 ", "00:00", "", true},
		{"7f00-7f10 rw-p 00000000 00:00 0", "00:00", "", true},
		{"garbage", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		dev, path, ok := mapsEntry(tt.line)
		if dev != tt.dev || path != tt.path || ok != tt.ok {
			t.Errorf("mapsEntry(%q) = %q %q %v, want %q %q %v", tt.line, dev, path, ok, tt.dev, tt.path, tt.ok)
		}
	}
	if MapsDev(7, 0) != "07:00" || MapsDev(252, 17) != "fc:11" || MapsDev(259, 1) != "103:01" {
		t.Errorf("MapsDev: %s %s %s", MapsDev(7, 0), MapsDev(252, 17), MapsDev(259, 1))
	}
}
