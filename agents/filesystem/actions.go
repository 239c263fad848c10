package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of stop's retries.
	pollEvery = 100 * time.Millisecond
	// rescanEvery is how often stop looks again for users of a busy
	// mount (new ones may have appeared) and signals them again.
	rescanEvery = time.Second
	// deadlineMargin is kept free before an action's deadline to answer
	// before Pacemaker gives up on the action.
	deadlineMargin = time.Second
	// maxStopRounds bounds how often stop unmounts a filesystem that
	// something else keeps mounting again.
	maxStopRounds = 5
)

// actions are the agent's operations over a system.
type actions struct {
	sys system
}

func (a *actions) config(r *ocf.Request) (Config, error) {
	node, _ := os.Hostname() // uname -n, as the reference agent names status files
	return configFrom(r.Params, r.Resource, r.Meta.Clone, node)
}

// want resolves the configuration to what the mount table will show.
// A device that cannot be resolved (not there yet, a share) is matched by
// its name; err says why it could not be resolved.
func (a *actions) want(c Config, mounts []Mount) (Want, error) {
	w := Want{Directory: c.Directory, Source: c.Device}
	// A mount point behind a symbolic link shows under its real path. The
	// link is only resolved when the path itself is not a mount point, so
	// that a monitor never looks up a path on a mounted network share.
	if At(mounts, w.Directory) == nil {
		if real, err := a.sys.Realpath(w.Directory); err == nil {
			w.Directory = real
		}
	}
	switch {
	case c.IsBind():
		w.Bind = true
		src, err := a.sys.Realpath(c.Device)
		if err != nil {
			return w, err
		}
		major, minor, _, err := a.sys.Stat(src)
		if err != nil {
			return w, err
		}
		root, ok := BindRootOf(mounts, src)
		if !ok {
			return w, fmt.Errorf("%s is on no mounted filesystem", src)
		}
		w.Source, w.Major, w.Minor, w.BindRoot = src, major, minor, root
	case c.OnBlockDevice():
		w.Source = DeviceSpec(c.Device)
		real, err := a.sys.Realpath(w.Source)
		if err != nil {
			return w, err
		}
		major, minor, mode, err := a.sys.Stat(real)
		if err != nil {
			return w, err
		}
		if mode&fs.ModeDevice == 0 {
			return w, fmt.Errorf("%s is not a block device", real)
		}
		w.Source, w.Major, w.Minor, w.Block = real, major, minor, true
	}
	return w, nil
}

// validate checks what the declaration cannot: the parameters together,
// the kernel's support for the type, and fsck when start will run it.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	if !c.IsBind() {
		ok, err := a.sys.Supported(ctx, c.FSType)
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "check filesystem type")
		}
		if !ok {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s: the kernel does not support %q (not in /proc/filesystems, and no module for it could be loaded)", pFSType, c.FSType)
		}
	}
	if c.NeedsFsck() {
		if _, err := lookSbin("fsck." + c.FSType); err != nil {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s asks for a check but fsck.%s is not installed", pRunFsck, c.FSType)
		}
	}
	return nil
}

// start mounts the filesystem unless it is mounted already.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	if r.Meta.Clone != "" || r.Meta.CloneMax > 0 {
		problem, warning := c.CloneProblem()
		if problem != "" {
			return ocf.Fail(ocf.ErrConfigured, "%s", problem)
		}
		if warning != "" {
			r.Log.Warnf("%s", warning)
		}
	}
	mounts, err := a.sys.Mountinfo()
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read mount table")
	}
	w, werr := a.want(c, mounts)
	s := Observe(mounts, w)
	switch {
	case s.Mounted != nil:
		r.Log.Infof("%s is already mounted on %s", c.Device, w.Directory)
		return nil
	case s.Other != nil:
		return ocf.Fail(ocf.ErrGeneric, "%s already has %s (%s) mounted on it, not %s", w.Directory, s.Other.Source, s.Other.FSType, c.Device)
	case len(s.Beneath) > 0:
		return ocf.Fail(ocf.ErrConfigured, "parameter %s: %s has %s mounted below it, which the mount would hide", pDirectory, w.Directory, s.Beneath[0].MountPoint)
	}
	if err := a.checkSource(c, w, werr); err != nil {
		return err
	}
	if c.NeedsFsck() {
		if err := a.fsck(ctx, r, c, w.Source); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(w.Directory, 0o755); err != nil {
		return ocf.Wrap(ocf.ErrInstalled, err, "parameter %s: cannot create mount point", pDirectory)
	}
	if st, err := os.Stat(w.Directory); err != nil || !st.IsDir() {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s is not a directory", pDirectory, w.Directory)
	}
	if err := a.mount(r, c, w); err != nil {
		return err
	}
	mounts, err = a.sys.Mountinfo()
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read mount table")
	}
	if Observe(mounts, w).Mounted == nil {
		return ocf.Fail(ocf.ErrGeneric, "mounted %s on %s, but the mount table does not show it there", c.Device, w.Directory)
	}
	r.Log.Infof("mounted %s (%s) on %s", c.Device, c.FSType, w.Directory)
	return nil
}

// checkSource fails start when the device or bind source is missing.
func (a *actions) checkSource(c Config, w Want, werr error) error {
	if werr == nil {
		return nil
	}
	switch {
	case c.IsBind():
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: cannot bind %s: %v", pDevice, c.Device, unwrapPath(werr))
	case c.OnBlockDevice() && errors.Is(werr, fs.ErrNotExist):
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: device %s does not exist", pDevice, w.Source)
	case c.OnBlockDevice():
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %v", pDevice, unwrapPath(werr))
	}
	return nil
}

// unwrapPath shortens an error to its cause's text when the path is
// already in the message.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// fsck checks device and fails on errors it could not correct.
func (a *actions) fsck(ctx context.Context, r *ocf.Request, c Config, device string) error {
	r.Log.Infof("checking %s with fsck.%s -p", device, c.FSType)
	status, out, err := a.sys.Fsck(ctx, c.FSType, device)
	if errors.Is(err, exec.ErrNotFound) {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s asks for a check but fsck.%s is not installed", pRunFsck, c.FSType)
	}
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "check %s", device)
	}
	if out = strings.TrimSpace(out); out != "" {
		r.Log.Infof("fsck.%s: %s", c.FSType, out)
	}
	// fsck(8): 1 errors corrected, 2 reboot advised (root only), 4 and
	// above errors left or fsck failed.
	if status >= 4 {
		return ocf.Fail(ocf.ErrGeneric, "fsck.%s -p %s exited with status %d: errors left uncorrected, repair the filesystem by hand", c.FSType, device, status)
	}
	return nil
}

// mount performs the mount(2) calls for c.
func (a *actions) mount(r *ocf.Request, c Config, w Want) error {
	o := c.Options
	dir := w.Directory
	if c.IsBind() {
		if err := a.sys.Mount(w.Source, dir, "", o.Flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "bind %s on %s", w.Source, dir)
		}
		if o.NeedsBindRemount() {
			if err := a.sys.Mount("", dir, "", o.BindRemountFlags(), ""); err != nil {
				a.undo(r, dir)
				return ocf.Wrap(ocf.ErrGeneric, err, "apply options %q to the bind mount %s", c.RawOpts, dir)
			}
		}
	} else if err := a.sys.Mount(mountSource(c, w), dir, c.FSType, o.Flags, o.Data); err != nil {
		return mountFailure(c, w, err)
	}
	if o.Propagation != 0 {
		if err := a.sys.Mount("", dir, "", o.Propagation, ""); err != nil {
			a.undo(r, dir)
			return ocf.Wrap(ocf.ErrGeneric, err, "set propagation of %s", dir)
		}
	}
	return nil
}

// mountSource is the name the mount table will show for the device: the
// resolved path, except that device-mapper names stay readable
// (/dev/mapper/vdo0 rather than /dev/dm-3), as mount(8) keeps them.
func mountSource(c Config, w Want) string {
	if given := DeviceSpec(c.Device); w.Block && strings.HasPrefix(given, "/dev/mapper/") {
		return given
	}
	return w.Source
}

// undo unmounts a half-configured mount after a failed start step.
func (a *actions) undo(r *ocf.Request, dir string) {
	if err := a.sys.Unmount(dir, 0); err != nil {
		r.Log.Warnf("cannot unmount %s again: %v", dir, err)
	}
}

// mountFailure turns mount(2)'s errno into an exit code and a reason that
// says what to look at.
func mountFailure(c Config, w Want, err error) error {
	switch {
	case errors.Is(err, unix.ENODEV):
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: the kernel does not know filesystem type %q", pFSType, c.FSType)
	case errors.Is(err, unix.EINVAL):
		return ocf.Wrap(ocf.ErrGeneric, err, "cannot mount %s on %s as %s: wrong fstype, bad option in %q or bad superblock (see the kernel log)", w.Source, w.Directory, c.FSType, c.RawOpts)
	case errors.Is(err, unix.ENOTBLK):
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s is not a block device", pDevice, w.Source)
	case errors.Is(err, unix.EBUSY):
		return ocf.Wrap(ocf.ErrGeneric, err, "cannot mount %s on %s: device busy (mounted elsewhere or held open)", w.Source, w.Directory)
	}
	return ocf.Wrap(ocf.ErrGeneric, err, "cannot mount %s on %s", w.Source, w.Directory)
}

// monitor reports whether the filesystem is mounted and, at depth 10 and
// 20, whether its device reads and it writes.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	mounts, err := a.sys.Mountinfo()
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read mount table")
	}
	w, werr := a.want(c, mounts)
	s := Observe(mounts, w)
	if s.Mounted == nil {
		if werr != nil && s.Other != nil {
			// Perhaps the resource's mount, whose device or source went
			// away: a failure that stop can clear, not a clean stop.
			return ocf.Fail(ocf.ErrGeneric, "%s is mounted on %s, but %s cannot be resolved: %v", s.Other.Source, w.Directory, c.Device, unwrapPath(werr))
		}
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		if s.Other != nil {
			return ocf.Fail(ocf.NotRunning, "%s is not mounted on %s (%s is)", c.Device, w.Directory, s.Other.Source)
		}
		return ocf.Fail(ocf.NotRunning, "%s is not mounted on %s", c.Device, w.Directory)
	}
	// A filesystem that hit an error may have turned itself read-only
	// (errors=remount-ro): the superblock says so. A bind mount answers
	// only for its own flag, the source may be read-only by design.
	readOnly := hasOption(s.Mounted.Options, "ro") || (!c.IsBind() && hasOption(s.Mounted.SuperOpts, "ro"))
	if !c.Options.ReadOnly() && readOnly {
		return ocf.Fail(ocf.ErrGeneric, "%s on %s has become read-only (filesystem errors? see the kernel log)", c.Device, w.Directory)
	}
	switch r.CheckLevel {
	case 0:
	case 10:
		if !w.Block {
			r.Log.Debugf("%s is not a block device: depth 10 has nothing to read", c.Device)
			return nil
		}
		if err := a.sys.ReadBlock(w.Source); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "cannot read device %s", w.Source)
		}
	case 20:
		if err := a.sys.WriteStatus(c.StatusFile, []byte(r.Resource+"\n")); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "cannot write and read back %s", c.StatusFile)
		}
	default:
		return ocf.Fail(ocf.ErrConfigured, "unsupported monitor depth OCF_CHECK_LEVEL=%d (0, 10 or 20)", r.CheckLevel)
	}
	return nil
}

func hasOption(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// stop unmounts the filesystem, what is mounted on it and the device's
// other mounts, and succeeds only when none of them is left.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	var w Want
	for round := 0; ; round++ {
		mounts, err := a.sys.Mountinfo()
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "read mount table")
		}
		var werr error
		w, werr = a.want(c, mounts)
		if top := At(mounts, w.Directory); werr != nil && top != nil && !w.Matches(*top) {
			// The device or bind source is gone while something is still
			// mounted on the directory: as the reference agent does, stop
			// takes that mount for the resource's, but only that mount.
			r.Log.Warnf("cannot resolve %s (%v): unmounting %s from %s", c.Device, werr, top.Source, w.Directory)
			w = Want{Directory: w.Directory, Bind: true, Major: top.Major, Minor: top.Minor, BindRoot: top.Root}
		}
		plan := PlanUnmount(mounts, w)
		if len(plan) == 0 {
			break
		}
		switch {
		case ctx.Err() != nil:
			return ocf.Fail(ocf.ErrGeneric, "%s is still mounted on %s at the stop timeout", c.Device, w.Directory)
		case round >= maxStopRounds:
			return ocf.Fail(ocf.ErrGeneric, "%s is mounted on %s again after each unmount: something else mounts it", c.Device, w.Directory)
		}
		if round == 0 && !c.IsNetwork() {
			if err := os.Remove(c.StatusFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				r.Log.Warnf("cannot remove status file: %v", err)
			}
		}
		if round > 0 {
			r.Log.Warnf("%s is mounted again on %s: unmounting again", c.Device, w.Directory)
		}
		t := UnmountTarget(mounts, plan, w)
		for _, m := range plan {
			if err := a.unmount(ctx, r, c, m, t); err != nil {
				return err
			}
		}
	}
	if w.Block {
		if err := a.sys.FlushBuffers(w.Source); err != nil {
			r.Log.Debugf("%v", err)
		}
	}
	r.Log.Infof("%s is not mounted on %s", c.Device, w.Directory)
	return nil
}

// unmount unmounts m, dealing with the users of t while it is busy.
func (a *actions) unmount(ctx context.Context, r *ocf.Request, c Config, m Mount, t Target) error {
	flags := 0
	if c.IsNetwork() {
		flags = unix.MNT_FORCE
	}
	start := time.Now()
	left := time.Hour
	if deadline, ok := ctx.Deadline(); ok {
		left = time.Until(deadline) - deadlineMargin
	}
	budget := c.StopBudget(left)
	killAt := start.Add(budget / 2)
	var last []Holder
	said := ""
	for {
		err := a.sys.Unmount(m.MountPoint, flags)
		switch {
		case err == nil:
			r.Log.Infof("unmounted %s", m.MountPoint)
			return nil
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT):
			// not a mount point (any more): someone else unmounted it
			if gone, gerr := a.gone(m); gerr != nil || gone {
				return gerr
			}
			return ocf.Wrap(ocf.ErrGeneric, err, "cannot unmount %s", m.MountPoint)
		case !errors.Is(err, unix.EBUSY):
			return ocf.Wrap(ocf.ErrGeneric, err, "cannot unmount %s", m.MountPoint)
		}
		elapsed := time.Since(start)
		phase := PhaseAt(elapsed, budget)
		if phase == PhaseGiveUp {
			return ocf.Fail(ocf.ErrGeneric, "cannot unmount %s: still busy after %s%s", m.MountPoint, elapsed.Round(time.Second), heldBy(last, c))
		}
		if c.Force == ForceNone {
			sleep(ctx, pollEvery)
			continue
		}
		scanCtx, cancel := context.WithDeadline(ctx, start.Add(budget))
		holders, err := a.sys.Holders(scanCtx, t)
		cancel()
		if err != nil {
			r.Log.Warnf("%v", err)
		}
		if len(holders) == 0 {
			sleep(ctx, pollEvery)
			continue
		}
		last = holders
		sig := "SIGTERM"
		if phase == PhaseKill {
			sig = "SIGKILL"
		}
		pids := make([]int, len(holders))
		desc := make([]string, len(holders))
		for i, h := range holders {
			pids[i], desc[i] = h.Pid, h.String()
		}
		// Each change of phase or of the users is logged once; the
		// rounds in between repeat the signal quietly.
		if news := sig + " " + strings.Join(desc, "; "); news != said {
			r.Log.Infof("%s is busy: sending %s to %s", m.MountPoint, sig, strings.Join(desc, "; "))
			said = news
		} else {
			r.Log.Debugf("%s is still busy: sending %s again", m.MountPoint, sig)
		}
		// One round: Terminate sends SIGTERM, in the SIGKILL phase SIGKILL
		// right after, and waits. The wait ends after rescanEvery, so that
		// processes that appear meanwhile are found too, and at killAt, so
		// that SIGKILL is sent by a round of its own, after a new search.
		until := time.Now().Add(rescanEvery)
		if phase == PhaseTerm && killAt.Before(until) {
			until = killAt
		}
		if end := start.Add(budget); end.Before(until) {
			until = end
		}
		sigkillAt := time.Now()
		if phase == PhaseTerm {
			sigkillAt = until.Add(time.Hour) // not in this round
		}
		tctx, cancel := context.WithDeadline(ctx, until)
		if err := a.sys.Terminate(tctx, pids, sigkillAt); err != nil {
			r.Log.Debugf("%v", err)
		}
		cancel()
		if ctx.Err() != nil {
			return ocf.Fail(ocf.ErrGeneric, "cannot unmount %s before the stop timeout%s", m.MountPoint, heldBy(last, c))
		}
	}
}

// gone reports whether m has left the mount table.
func (a *actions) gone(m Mount) (bool, error) {
	mounts, err := a.sys.Mountinfo()
	if err != nil {
		return false, ocf.Wrap(ocf.ErrGeneric, err, "read mount table")
	}
	for _, x := range mounts {
		if x.ID == m.ID {
			return false, nil
		}
	}
	return true, nil
}

// heldBy completes a busy-mount reason with who holds it.
func heldBy(h []Holder, c Config) string {
	if c.Force == ForceNone {
		return fmt.Sprintf(" (%s=false: no process was signalled)", pForceUnmount)
	}
	if len(h) == 0 {
		return " (no process found using it)"
	}
	s := make([]string, len(h))
	for i, x := range h {
		s[i] = x.String()
	}
	return "; used by " + strings.Join(s, "; ")
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
