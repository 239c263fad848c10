package filesystem

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	ID, Parent   int
	Major, Minor uint32 // st_dev of files on this mount
	// Root is the directory of the filesystem that is mounted here: "/"
	// for a whole filesystem, the source directory for a bind mount.
	Root       string
	MountPoint string
	Options    string // per-mount options (rw, nosuid, ...)
	FSType     string
	Source     string // the device or "server:/export"; "none" when absent
	SuperOpts  string // per-superblock options
}

// ParseMountinfo parses the contents of /proc/<pid>/mountinfo. Paths come
// unescaped (the kernel writes space, tab, newline and backslash as \ooo).
// Lines are in mount order, which the stop plan relies on.
func ParseMountinfo(data string) ([]Mount, error) {
	var mounts []Mount
	for n, line := range strings.Split(data, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseMountinfoLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n+1, err)
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

func parseMountinfoLine(line string) (Mount, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 7 || sep < 0 || len(f) < sep+3 {
		return Mount{}, fmt.Errorf("malformed %q", line)
	}
	var m Mount
	var err error
	if m.ID, err = strconv.Atoi(f[0]); err != nil {
		return Mount{}, fmt.Errorf("mount id %q: %w", f[0], err)
	}
	if m.Parent, err = strconv.Atoi(f[1]); err != nil {
		return Mount{}, fmt.Errorf("parent id %q: %w", f[1], err)
	}
	maj, min, ok := strings.Cut(f[2], ":")
	if !ok {
		return Mount{}, fmt.Errorf("device %q is not major:minor", f[2])
	}
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("device %q is not major:minor", f[2])
	}
	m.Major, m.Minor = uint32(ma), uint32(mi)
	m.Root = unescapeOctal(f[3])
	m.MountPoint = unescapeOctal(f[4])
	m.Options = f[5]
	m.FSType = unescapeOctal(f[sep+1])
	m.Source = unescapeOctal(f[sep+2])
	if len(f) > sep+3 {
		m.SuperOpts = f[sep+3]
	}
	return m, nil
}

// unescapeOctal undoes the kernel's \ooo escapes; anything else is kept.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			if s[i+1] <= '3' {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// At returns the topmost mount at path (the last one mounted there,
// which hides the others), or nil.
func At(mounts []Mount, path string) *Mount {
	for i := len(mounts) - 1; i >= 0; i-- {
		if mounts[i].MountPoint == path {
			return &mounts[i]
		}
	}
	return nil
}

// Containing returns the mount that path lies on: the topmost one with the
// longest mount point that is path or a parent of it; nil for a relative
// path.
func Containing(mounts []Mount, path string) *Mount {
	var best *Mount
	for i := range mounts {
		m := &mounts[i]
		if isUnder(path, m.MountPoint) && (best == nil || len(m.MountPoint) >= len(best.MountPoint)) {
			best = m
		}
	}
	return best
}

// isUnder reports whether path is dir or lies below it. Both are clean
// absolute paths.
func isUnder(path, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// Want describes the mount a resource manages, for matching it against
// mountinfo.
type Want struct {
	Directory string // clean absolute mount point
	// Source is the device parameter as given, or the resolved path of
	// the block device.
	Source string
	// Major and Minor are the block device's number (Block), or st_dev of
	// the bind source directory (Bind).
	Major, Minor uint32
	Block        bool
	Bind         bool
	// BindRoot is the source directory relative to the root of its
	// filesystem, as mountinfo shows it in Root for the bind mount.
	BindRoot string
}

// Matches reports whether m is the mount w describes.
func (w Want) Matches(m Mount) bool {
	switch {
	case w.Bind:
		return m.Major == w.Major && m.Minor == w.Minor && m.Root == w.BindRoot
	case w.Block:
		return (m.Major == w.Major && m.Minor == w.Minor) || m.Source == w.Source
	default:
		return strings.TrimRight(m.Source, "/") == strings.TrimRight(w.Source, "/")
	}
}

// BindRootOf is what mountinfo will show as Root for a bind mount of
// source: the source's path inside the filesystem it lies on.
func BindRootOf(mounts []Mount, source string) (string, bool) {
	m := Containing(mounts, source)
	if m == nil {
		return "", false
	}
	rel, err := filepath.Rel(m.MountPoint, source)
	if err != nil {
		return "", false
	}
	return filepath.Join(m.Root, rel), true
}
