package vdo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's and stop's bounded waits.
	pollEvery = 200 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to answer
	// before Pacemaker gives up on the action.
	deadlineMargin = time.Second
)

// actions are the agent's operations over a runner of programs.
type actions struct {
	run        runner
	serviceDir string // where systemd's enabled units are; /etc/systemd/system when ""
}

func (a *actions) config(r *ocf.Request) (Config, error) {
	c, err := configFrom(r.Params)
	if a.serviceDir != "" {
		c.ServiceDir = a.serviceDir
	}
	return c, err
}

// validate checks what the declaration cannot: the programs of the mode
// exist, the vdo command's configuration file exists, and the vdo
// service will not start the volume behind Pacemaker's back.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	program, param := c.Lvm, pLvmBinary
	if c.Mode == Legacy {
		program, param = c.Vdo, pVdoBinary
	}
	if err := checkExecutable(program); err != nil {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %v", param, err)
	}
	if c.Mode != Legacy {
		return nil
	}
	if c.ConfFile != "" {
		if _, err := os.Stat(c.ConfFile); err != nil {
			return ocf.Fail(ocf.ErrConfigured, "parameter %s: %s does not exist", pConfig, c.ConfFile)
		}
	}
	if enabled, _ := filepath.Glob(filepath.Join(c.ServiceDir, "*.wants", "vdo.service")); len(enabled) > 0 {
		return ocf.Fail(ocf.ErrConfigured, "the vdo systemd service is enabled (%s): it starts every activated volume at boot; disable it", enabled[0])
	}
	return nil
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return err
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// observe finds out the state of the volume's device: from sysfs when it
// can, and runs a program only for what sysfs does not say.
func (a *actions) observe(ctx context.Context, r *ocf.Request, c Config) (Observation, error) {
	d, ok, err := findDM(c.Sysfs, c.DMName())
	if err != nil {
		r.Log.Debugf("sysfs cannot tell (%v): asking %s", err, c.Mode)
		return a.observeByCommand(ctx, c)
	}
	if !ok {
		return Observation{}, nil
	}
	o := Observation{Present: true, Suspended: d.Suspended, Device: vdoLayer(d, c.Mode)}
	if mode, ok := kvdoMode(c.Sysfs, o.Device); ok {
		o.Mode = mode
		return o, nil
	}
	if c.Mode == LVM && o.Device == d.Name {
		// No pool layer below: nothing more to read.
		return o, nil
	}
	out, err := a.run.Run(ctx, []string{c.Dmsetup, "status", o.Device})
	var pe *os.PathError
	if errors.As(err, &pe) {
		r.Log.Debugf("cannot run %s (%v): operating mode of %s unknown", c.Dmsetup, err, o.Device)
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("read the state of device %s: %w", o.Device, err)
	}
	s, err := parseDMStatus(out)
	if err != nil {
		return o, fmt.Errorf("device %s: %w", o.Device, err)
	}
	o.Target, o.Mode, o.Index = s.Target, s.Mode, s.Index
	return o, nil
}

// observeByCommand asks the volume's manager: vdo status or lvs.
func (a *actions) observeByCommand(ctx context.Context, c Config) (Observation, error) {
	if c.Mode == LVM {
		lvs, err := a.lvs(ctx, c)
		if err != nil {
			return Observation{}, err
		}
		return observeLVS(lvs, c.VG, c.LV)
	}
	v, found, err := a.vdoStatus(ctx, c)
	if err != nil {
		return Observation{}, err
	}
	if !found {
		return Observation{}, fmt.Errorf("vdo status knows no volume %s", c.Volume)
	}
	return observeVdoStatus(v, c.Volume)
}

func (a *actions) vdoStatus(ctx context.Context, c Config) (VdoVolume, bool, error) {
	out, err := a.run.Run(ctx, c.vdoStatusArgs())
	if err != nil {
		return VdoVolume{}, false, err
	}
	return parseVdoStatus(out, c.Volume)
}

func (a *actions) lvs(ctx context.Context, c Config) ([]LV, error) {
	out, err := a.run.Run(ctx, c.lvsArgs())
	if err != nil {
		return nil, err
	}
	return parseLVS(out)
}

// monitor reports whether the volume is started and usable.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	o, err := a.observe(ctx, r, c)
	var pe *os.PathError
	switch {
	case err != nil && errors.As(err, &pe) && r.IsProbe():
		// Neither sysfs nor the manager's program here: nothing can
		// have started the volume on this node.
		r.Log.Debugf("probe: %v", err)
		return ocf.ErrNotRunning
	case err != nil && errors.As(err, &pe):
		return ocf.Wrap(ocf.ErrInstalled, err, "VDO volume %s", c.Name())
	case err != nil:
		return ocf.Wrap(ocf.ErrGeneric, err, "VDO volume %s", c.Name())
	}
	h := assess(c.Name(), o)
	switch h.State {
	case Stopped:
		return ocf.Fail(ocf.NotRunning, "%s", h.Why)
	case Failed:
		return ocf.Fail(ocf.ErrGeneric, "%s", h.Why)
	}
	if h.Warning != "" {
		r.Log.Warnf("%s", h.Warning)
	}
	r.Log.Debugf("%s", h.Why)
	return nil
}

// start makes the volume's device available, unless it already is.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	var activated bool
	switch c.Mode {
	case Legacy:
		v, found, err := a.vdoStatus(ctx, c)
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "read the vdo configuration")
		}
		if !found {
			// Perhaps only this node's copy of the configuration lacks it:
			// another node may start it.
			return ocf.Fail(ocf.ErrArgs, "parameter %s: the vdo configuration of this node has no volume %q", pVolume, c.Volume)
		}
		activated = v.Activated
	case LVM:
		lvs, err := a.lvs(ctx, c)
		var ce *commandError
		if errors.As(err, &ce) && ce.Code == 5 && strings.Contains(ce.Stderr, "not found") {
			// This node does not see the volume group (its storage may
			// be missing here): another node may start it.
			return ocf.Wrap(ocf.ErrArgs, err, "parameter %s: not on this node", pVG)
		}
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "list the logical volumes of %s", c.VG)
		}
		if _, ok := findLV(lvs, c.VG, c.LV); !ok {
			return ocf.Fail(ocf.ErrArgs, "parameter %s: this node sees no logical volume %s in volume group %s", pLV, c.LV, c.VG)
		}
		if err := checkVDOLV(lvs, c.VG, c.LV); err != nil {
			return ocf.Fail(ocf.ErrConfigured, "parameter %s: %v", pLV, err)
		}
	}
	o, err := a.observe(ctx, r, c)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "VDO volume %s", c.Name())
	}
	h := assess(c.Name(), o)
	switch {
	case h.State == Running:
		r.Log.Infof("%s: nothing to do", h.Why)
		return nil
	case h.State == Failed && o.Mode != "read-only":
		return ocf.Fail(ocf.ErrGeneric, "cannot start: %s", h.Why)
	case h.State == Stopped:
		r.Log.Infof("starting VDO volume %s", c.Name())
		if err := a.startVolume(ctx, c, activated, false); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "start VDO volume %s", c.Name())
		}
		if o, h, err = a.waitFor(ctx, r, c, func(h Health) bool { return h.State != Stopped }); err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "VDO volume %s", c.Name())
		}
	}
	if o.Mode == "read-only" {
		if c.Mode != Legacy || !c.Rebuild {
			hint := ""
			if c.Mode == Legacy {
				hint = fmt.Sprintf("; %s=true would rebuild it with vdo start --forceRebuild", pRebuild)
			}
			return ocf.Fail(ocf.ErrGeneric, "%s%s", h.Why, hint)
		}
		if o, h, err = a.rebuild(ctx, r, c); err != nil {
			return err
		}
	}
	if h.State != Running {
		return ocf.Fail(ocf.ErrGeneric, "%s", h.Why)
	}
	if h.Warning != "" {
		r.Log.Warnf("%s", h.Warning)
	}
	r.Log.Infof("%s", h.Why)
	return nil
}

// startVolume runs the manager's start command.
func (a *actions) startVolume(ctx context.Context, c Config, activated, forceRebuild bool) error {
	if c.Mode == LVM {
		_, err := a.run.Run(ctx, c.lvchangeArgs(true))
		return err
	}
	if !activated {
		if _, err := a.run.Run(ctx, c.vdoArgs("activate")); err != nil {
			return err
		}
	}
	var extra []string
	if forceRebuild {
		extra = append(extra, "--forceRebuild")
	}
	_, err := a.run.Run(ctx, c.vdoArgs("start", extra...))
	return err
}

// rebuild stops a read-only volume of the vdo command and starts it with
// --forceRebuild.
func (a *actions) rebuild(ctx context.Context, r *ocf.Request, c Config) (Observation, Health, error) {
	r.Log.Warnf("VDO volume %s is read-only: stopping it to start it with --forceRebuild (%s=true); data may be lost", c.Name(), pRebuild)
	if _, err := a.stopVolume(ctx, r, c); err != nil {
		return Observation{}, Health{}, err
	}
	if err := a.startVolume(ctx, c, true, true); err != nil {
		return Observation{}, Health{}, ocf.Wrap(ocf.ErrGeneric, err, "rebuild VDO volume %s", c.Name())
	}
	o, h, err := a.waitFor(ctx, r, c, func(h Health) bool { return h.State == Running })
	if err != nil {
		return o, h, ocf.Wrap(ocf.ErrGeneric, err, "VDO volume %s", c.Name())
	}
	return o, h, nil
}

// waitFor observes the volume until done accepts its health or the
// action's time is nearly up, and returns the last observation.
func (a *actions) waitFor(ctx context.Context, r *ocf.Request, c Config, done func(Health) bool) (Observation, Health, error) {
	deadline, hasDeadline := ctx.Deadline()
	for {
		o, err := a.observe(ctx, r, c)
		if err != nil {
			return o, Health{}, err
		}
		h := assess(c.Name(), o)
		if done(h) || hasDeadline && time.Until(deadline) < deadlineMargin+pollEvery {
			return o, h, nil
		}
		select {
		case <-ctx.Done():
			return o, h, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// stop makes the volume's device go away; it succeeds only when it has.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	stopped, err := a.stopVolume(ctx, r, c)
	if err != nil {
		return err
	}
	if stopped && c.Mode == Legacy {
		// As start activates, stop deactivates: should the vdo service
		// be enabled by mistake, it will not start the volume here at
		// boot while another node uses it.
		if _, err := a.run.Run(ctx, c.vdoArgs("deactivate")); err != nil {
			r.Log.Warnf("VDO volume %s is stopped but stays activated: %v", c.Name(), err)
		}
	}
	r.Log.Infof("VDO volume %s is stopped", c.Name())
	return nil
}

// stopVolume runs the manager's stop command unless the device is gone
// already, and waits until it is; stopped says whether it had to.
func (a *actions) stopVolume(ctx context.Context, r *ocf.Request, c Config) (stopped bool, err error) {
	o, err := a.observe(ctx, r, c)
	if err != nil {
		return false, ocf.Wrap(ocf.ErrGeneric, err, "VDO volume %s", c.Name())
	}
	if !o.Present {
		r.Log.Infof("VDO volume %s is not started", c.Name())
		return false, nil
	}
	r.Log.Infof("stopping VDO volume %s", c.Name())
	argv := c.lvchangeArgs(false)
	if c.Mode == Legacy {
		argv = c.vdoArgs("stop")
	}
	_, runErr := a.run.Run(ctx, argv)
	if runErr != nil {
		// The command refused (in use, say): look once, do not wait.
		o, err = a.observe(ctx, r, c)
	} else {
		o, _, err = a.waitFor(ctx, r, c, func(h Health) bool { return h.State == Stopped })
	}
	switch {
	case err == nil && !o.Present:
		if runErr != nil {
			r.Log.Warnf("VDO volume %s is stopped, though: %v", c.Name(), runErr)
		}
		return true, nil
	case runErr != nil:
		return false, ocf.Wrap(ocf.ErrGeneric, runErr, "stop VDO volume %s", c.Name())
	case err != nil:
		return false, ocf.Wrap(ocf.ErrGeneric, err, "VDO volume %s", c.Name())
	}
	return false, ocf.Fail(ocf.ErrGeneric, "device %s of VDO volume %s still exists after stop", c.DMName(), c.Name())
}
