package apache

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goha-ha/goha/internal/proc"
)

// system is what the actions need from the machine; host implements it and
// tests replace it.
type system interface {
	// Files is the file system the configuration and envfiles are read from.
	Files() fs.FS
	// Process describes pid, or returns proc.ErrGone.
	Process(pid int) (process, error)
	// Processes describes every process.
	Processes() ([]process, error)
	// Run runs argv with env and returns its combined output.
	Run(ctx context.Context, argv, env []string) ([]byte, error)
	// Get fetches url.
	Get(ctx context.Context, url string) (page, error)
	Signal(pid int, sig syscall.Signal) error
	// Terminate ends pids with SIGTERM, then SIGKILL at killAt.
	Terminate(ctx context.Context, pids []int, killAt time.Time) error
	// MakeDirs creates the missing directories of dirs, owned by owner
	// when owner is not "".
	MakeDirs(dirs []string, owner string) error
	Remove(path string) error
}

// process is one process as /proc shows it.
type process struct {
	Pid, PPid int
	Exe       string // the program, without " (deleted)"
	Argv      []string
}

// maxPage bounds what a monitor reads of a page.
const maxPage = 4 << 20

// host is the real machine.
type host struct {
	client *http.Client
}

func newHost() host {
	return host{client: &http.Client{
		Transport: &http.Transport{
			Proxy:             nil, // the status page is local: never through a proxy
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the server is checked, not its name
		},
	}}
}

func (host) Files() fs.FS { return os.DirFS("/") }

func (host) Process(pid int) (process, error) {
	p := process{Pid: pid}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return p, proc.ErrGone
	}
	if err != nil {
		return p, fmt.Errorf("read cmdline of %d: %w", pid, err)
	}
	if len(raw) == 0 || !proc.Alive(pid) {
		return p, proc.ErrGone // a zombie or a kernel thread
	}
	p.Argv = strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, proc.ErrGone
	}
	p.PPid = statPPid(stat)
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil && !proc.Alive(pid) {
		return p, proc.ErrGone
	}
	p.Exe = strings.TrimSuffix(exe, " (deleted)")
	return p, nil
}

// statPPid reads the parent pid from a stat line: the second field after
// the parenthesised command name.
func statPPid(stat []byte) int {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func (h host) Processes() ([]process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		p, err := h.Process(pid)
		if err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func (host) Run(ctx context.Context, argv, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdin = nil
	// apache detaches its server from this process; the server keeps no
	// descriptor of the agent's, so the output pipe closes when the
	// launcher exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 2 * time.Second
	return cmd.CombinedOutput()
}

func (h host) Get(ctx context.Context, url string) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return page{}, err
	}
	req.Header.Set("User-Agent", "goha-apache-monitor")
	resp, err := h.client.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	if err != nil {
		return page{}, fmt.Errorf("read the page: %w", err)
	}
	p := page{Code: resp.StatusCode, Status: resp.Status, Body: body}
	if len(body) > maxPage {
		p.Body, p.Truncated = body[:maxPage], true
	}
	return p, nil
}

func (host) Signal(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); errors.Is(err, syscall.ESRCH) {
		return proc.ErrGone
	} else if err != nil {
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	return nil
}

func (host) Terminate(ctx context.Context, pids []int, killAt time.Time) error {
	return proc.Terminate(ctx, pids, killAt)
}

// MakeDirs does for a Debian configuration what apache2ctl does before it
// starts apache: the run and lock directories of envvars may live on a
// tmpfs and be gone after a reboot.
func (host) MakeDirs(dirs []string, owner string) error {
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		if owner == "" {
			continue
		}
		u, err := user.Lookup(owner)
		if err != nil {
			return fmt.Errorf("owner of %s: %w", d, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(d, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", d, err)
		}
	}
	return nil
}

func (host) Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// logTail returns the last non-empty line of what was appended to the
// file at path after offset, for an exit reason; "" when there is none.
func logTail(fsys fs.FS, path string, offset int64) string {
	if path == "" {
		return ""
	}
	f, err := fsys.Open(fsPath(path))
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size()-offset > 64<<10 {
		offset = st.Size() - 64<<10
	}
	if s, ok := f.(io.Seeker); !ok || offset < 0 {
		return ""
	} else if _, err := s.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	raw, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil || len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// fileSize is the size of path, 0 when it does not exist.
func fileSize(fsys fs.FS, path string) int64 {
	if path == "" {
		return 0
	}
	st, err := fs.Stat(fsys, fsPath(path))
	if err != nil {
		return 0
	}
	return st.Size()
}

// resolveExe is the program path as /proc/<pid>/exe shows it.
func resolveExe(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
