package vip

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/ocf"
)

const (
	// conflictWait is how long a conflict probe listens for another owner.
	conflictWait = time.Second
	// pollEvery is the period of the bounded waits for carrier and DAD.
	pollEvery = 50 * time.Millisecond
)

// actions are the agent's operations over a network and a wire.
type actions struct {
	net  network
	wire wire
}

// validate checks what the parameter declarations cannot: the parameters
// together, that nic exists, and that the interface and prefix length can
// be found when they are not given.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := configFrom(r.Params)
	if err != nil {
		return err
	}
	if _, err := a.link(c.NIC); err != nil {
		return err
	}
	_, err = a.resolve(c)
	return err
}

// link looks nic up; a missing interface is a configuration error.
func (a *actions) link(nic string) (Link, error) {
	if nic == "" {
		return Link{}, nil
	}
	l, err := a.net.Link(nic)
	if errors.Is(err, errNoLink) {
		return l, ocf.Fail(ocf.ErrConfigured, "parameter %s: no such interface %q", pNIC, nic)
	}
	if err != nil {
		return l, ocf.Wrap(ocf.ErrGeneric, err, "parameter %s", pNIC)
	}
	return l, nil
}

// resolve reads the routing table only when nic or cidr_netmask is missing.
func (a *actions) resolve(c Config) (Target, error) {
	var routes []Route
	if c.NIC == "" || c.Prefix == 0 {
		var err error
		if routes, err = a.net.Routes(familyOf(c.IP)); err != nil {
			return Target{}, ocf.Wrap(ocf.ErrGeneric, err, "find the interface of %s", c.IP)
		}
	}
	return resolve(c, routes)
}

func (a *actions) observe(t Target) (Verdict, error) {
	o, err := a.net.Observe(t)
	if err != nil {
		return Verdict{}, ocf.Wrap(ocf.ErrGeneric, err, "read %s", t.NIC)
	}
	return assess(t, o), nil
}

// start adds the address unless it is already there, then announces it.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := configFrom(r.Params)
	if err != nil {
		return err
	}
	t, err := a.resolve(c)
	if err != nil {
		return err
	}
	link, err := a.link(t.NIC)
	if err != nil {
		return err
	}
	if link, err = a.linkUp(ctx, r, link); err != nil {
		return err
	}
	v, err := a.observe(t)
	if err != nil {
		return err
	}
	if v.Warn != "" {
		r.Log.Warnf("%s", v.Warn)
	}
	if v.State == OtherPrefix {
		return ocf.Fail(ocf.ErrGeneric, "%s: remove that address or set %s to match it", v.Why, pNetmask)
	}
	if c.ConflictCheck {
		if err := a.checkConflict(ctx, link, t); err != nil {
			return err
		}
	}
	switch v.State {
	case Up, Tentative:
		r.Log.Infof("%s is already on %s", t.Net(), t.NIC)
	case Duplicate:
		r.Log.Warnf("%s: removing it and adding it again", v.Why)
		if err := a.net.DelAddr(t); err != nil && !gone(err) {
			return ocf.Wrap(ocf.ErrGeneric, err, "remove the duplicate %s", t.Net())
		}
		fallthrough
	default:
		r.Log.Infof("adding %s to %s%s", t.Net(), t.NIC, addrDetails(t))
		if err := a.net.AddAddr(t, c.PreferredLft); err != nil && !errors.Is(err, unix.EEXIST) {
			return ocf.Wrap(ocf.ErrGeneric, err, "add %s", t.Net())
		}
	}
	if t.IP.Is6() {
		if err := a.waitDAD(ctx, link, t); err != nil {
			return err
		}
	}
	a.announce(ctx, r, link, t, c.ArpCount, c.ArpInterval, r.Log.Infof)
	return nil
}

// addrDetails is the broadcast and label part of the "adding" log line.
func addrDetails(t Target) string {
	s := ""
	if t.Broadcast.IsValid() {
		s += " broadcast " + t.Broadcast.String()
	}
	if t.Label != "" {
		s += " label " + t.Label
	}
	return s
}

// linkUp enables an administratively down interface (as IPaddr2 does) and
// waits, within the start's time, for it to have a carrier.
func (a *actions) linkUp(ctx context.Context, r *ocf.Request, link Link) (Link, error) {
	if !link.AdminUp {
		r.Log.Infof("bringing %s up", link.Name)
		if err := a.net.SetUp(link.Name); err != nil {
			return link, ocf.Wrap(ocf.ErrGeneric, err, "bring %s up", link.Name)
		}
	}
	err := waitFor(ctx, func() (bool, error) {
		l, err := a.net.Link(link.Name)
		link = l
		return err == nil && l.Carrier, err
	})
	switch {
	case errors.Is(err, errNoLink):
		return link, ocf.Fail(ocf.ErrConfigured, "parameter %s: no such interface %q", pNIC, link.Name)
	case errors.Is(err, context.DeadlineExceeded):
		return link, ocf.Fail(ocf.ErrGeneric, "%s has no carrier: the address would not be reachable", link.Name)
	case err != nil:
		return link, ocf.Wrap(ocf.ErrGeneric, err, "wait for %s", link.Name)
	}
	return link, nil
}

// waitFor polls done every pollEvery until it is true or fails, or until
// announceMargin before ctx's deadline (context.DeadlineExceeded).
func waitFor(ctx context.Context, done func() (bool, error)) error {
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-announceMargin))
		defer cancel()
	}
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return context.DeadlineExceeded
		case <-time.After(pollEvery):
		}
	}
}

// waitDAD waits for an IPv6 address to leave the tentative state. When
// duplicate address detection fails, the address is removed again and the
// reason names the other owner when a probe finds it.
func (a *actions) waitDAD(ctx context.Context, link Link, t Target) error {
	var v Verdict
	err := waitFor(ctx, func() (bool, error) {
		var err error
		v, err = a.observe(t)
		return err == nil && v.State != Tentative, err
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		a.net.DelAddr(t)
		return ocf.Fail(ocf.ErrGeneric, "%s on %s is still tentative (duplicate address detection did not finish); removed it", t.Net(), t.NIC)
	case v.State == Duplicate:
		if err := a.net.DelAddr(t); err != nil && !gone(err) {
			return ocf.Wrap(ocf.ErrGeneric, err, "%s; and removing it failed", v.Why)
		}
		if mac, _ := a.wire.Probe(ctx, link, t.IP, conflictWait); mac != nil {
			return ocf.Fail(ocf.ErrGeneric, "%s is already in use by %s on %s (duplicate address detection failed); removed it", t.IP, mac, t.NIC)
		}
		return ocf.Fail(ocf.ErrGeneric, "%s; removed it", v.Why)
	case !v.State.Running():
		return ocf.Fail(ocf.ErrGeneric, "%s right after it was added", v.Why)
	}
	return nil
}

// checkConflict probes the link and fails when another host answers.
func (a *actions) checkConflict(ctx context.Context, link Link, t Target) error {
	if link.MAC == nil || link.NoARP {
		return nil
	}
	mac, err := a.wire.Probe(ctx, link, t.IP, conflictWait)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "probe %s for %s", t.NIC, t.IP)
	}
	if mac != nil {
		return ocf.Fail(ocf.ErrGeneric, "%s is already in use by %s on %s", t.IP, mac, t.NIC)
	}
	return nil
}

// announce sends a burst of announcements; failures are logged, not fatal:
// the address works, only neighbours' stale caches stay stale longer.
func (a *actions) announce(ctx context.Context, r *ocf.Request, link Link, t Target, count int, interval time.Duration, logf func(string, ...any)) {
	if count <= 0 {
		return
	}
	if link.MAC == nil || link.NoARP {
		r.Log.Debugf("%s does not resolve neighbours: no announcement", t.NIC)
		return
	}
	ann, err := a.wire.Announcer(link, t.IP)
	if err != nil {
		r.Log.Warnf("cannot announce %s on %s: %v", t.IP, t.NIC, err)
		return
	}
	defer ann.Close()
	sent, err := burst(ctx, count, interval, ann.Send)
	switch {
	case err != nil:
		r.Log.Warnf("announced %s on %s %d of %d times: %v", t.IP, t.NIC, sent, count, err)
	case sent < count:
		r.Log.Warnf("announced %s on %s %d of %d times: the rest would not fit before the timeout", t.IP, t.NIC, sent, count)
	default:
		logf("announced %s on %s from %s %d times", t.IP, t.NIC, link.MAC, sent)
	}
}

// monitor reports whether the address is on its interface with the link up;
// at OCF_CHECK_LEVEL 10 also that no other host answers for it.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	notRunning := func(why string) error {
		if r.IsProbe() {
			r.Log.Debugf("%s", why)
			return ocf.ErrNotRunning
		}
		return ocf.Fail(ocf.NotRunning, "%s", why)
	}
	c, err := configFrom(r.Params)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	t, err := a.resolve(c)
	if err != nil {
		// The address's own subnet route exists while it is up, so no
		// covering route means no address.
		return notRunning(ocf.ReasonOf(err))
	}
	v, err := a.observe(t)
	if err != nil {
		return err
	}
	if v.Warn != "" {
		r.Log.Warnf("%s", v.Warn)
	}
	switch {
	case v.State == Duplicate:
		return ocf.Fail(ocf.ErrGeneric, "%s", v.Why)
	case !v.State.Running():
		return notRunning(v.Why)
	}
	if r.CheckLevel >= 10 || (c.ArpRefresh > 0 && !r.IsProbe()) {
		link, err := a.net.Link(t.NIC)
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "read %s", t.NIC)
		}
		if r.CheckLevel >= 10 {
			if err := a.checkConflict(ctx, link, t); err != nil {
				return err
			}
		}
		if c.ArpRefresh > 0 && !r.IsProbe() && v.State == Up {
			a.announce(ctx, r, link, t, c.ArpRefresh, c.ArpInterval, r.Log.Debugf)
		}
	}
	return nil
}

// stop removes exactly the agent's address: its IP with its prefix length
// on its interface. Anything else, including the same IP with another
// prefix, is left alone.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := configFrom(r.Params)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to remove", ocf.ReasonOf(err))
		return nil
	}
	t, err := a.resolve(c)
	if err != nil {
		r.Log.Infof("%s: nothing to remove", ocf.ReasonOf(err))
		return nil
	}
	v, err := a.observe(t)
	if err != nil {
		return err
	}
	switch v.State {
	case Absent, NoLink, OtherPrefix:
		r.Log.Infof("%s: nothing to remove", v.Why)
		return nil
	}
	r.Log.Infof("removing %s from %s", t.Net(), t.NIC)
	if err := a.net.DelAddr(t); err != nil && !gone(err) {
		return ocf.Wrap(ocf.ErrGeneric, err, "remove %s", t.Net())
	}
	if v, err = a.observe(t); err != nil {
		return err
	}
	switch v.State {
	case Absent, NoLink, OtherPrefix:
		return nil
	}
	return ocf.Fail(ocf.ErrGeneric, "%s is still on %s after removing it", t.Net(), t.NIC)
}

// gone reports a removal that failed because the address or its interface
// is already gone.
func gone(err error) bool {
	return errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ESRCH) ||
		errors.Is(err, errNoLink)
}
