package drbd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's, promote's and demote's waits.
	pollEvery = 500 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to answer
	// before Pacemaker gives up on the action.
	deadlineMargin = time.Second
	// defaultWait bounds the waits of actions run without a timeout.
	defaultWait = 60 * time.Second
)

// actions are the agent's operations.
type actions struct {
	tools  func(r *ocf.Request) drbdTools // nil: the programs the parameters name
	getenv func(string) string            // for HA_RSCTMP; os.Getenv when nil
}

func (a *actions) toolsFor(r *ocf.Request) drbdTools {
	if a.tools != nil {
		return a.tools(r)
	}
	return execTools{
		drbdadm: r.Params.String(pDrbdadm), drbdsetup: r.Params.String(pDrbdsetup),
		conf: r.Params.String(pConf), resource: r.Params.String(pResource),
	}
}

func (a *actions) env(name string) string {
	if a.getenv != nil {
		return a.getenv(name)
	}
	return os.Getenv(name)
}

// twoPrimaries reports whether the clone may have two promoted instances.
func twoPrimaries(r *ocf.Request) bool { return r.Meta.PromotedMax >= 2 }

// validate checks the programs, the configuration file, the clone's
// meta-attributes and that the resource is defined for this node.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	for _, p := range []string{pDrbdadm, pDrbdsetup} {
		if _, err := exec.LookPath(r.Params.String(p)); err != nil {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s: %s not found (install drbd-utils)", p, r.Params.String(p))
		}
	}
	conf := r.Params.String(pConf)
	if _, err := os.Stat(conf); err != nil {
		return ocf.Fail(ocf.ErrInstalled, "parameter %s: %v", pConf, err)
	}
	m := r.Meta
	if m.Clone != "" || m.CloneMax > 0 {
		switch {
		case !m.NotifyEnabled && !r.Params.Bool(pIgnoreNotify):
			return ocf.Fail(ocf.ErrConfigured, "the clone needs notify=true (or set parameter %s)", pIgnoreNotify)
		case m.CloneNodeMax > 1:
			return ocf.Fail(ocf.ErrConfigured, "the clone needs clone-node-max=1: a DRBD resource runs once per node")
		case m.PromotedMax > 2:
			return ocf.Fail(ocf.ErrConfigured, "the clone needs promoted-max 1, or 2 with allow-two-primaries")
		}
	}
	if err := a.toolsFor(r).Adm(ctx, "dump"); err != nil {
		if exitCode(err) < 0 {
			return ocf.Wrap(ocf.ErrGeneric, err, "run drbdadm")
		}
		return ocf.Fail(ocf.ErrArgs, "parameter %s: drbdadm dump: %s", pResource, lastLine(err))
	}
	return nil
}

// observe reads the resource's state.
func (a *actions) observe(ctx context.Context, r *ocf.Request) (Status, bool, error) {
	s, up, err := a.toolsFor(r).Status(ctx)
	if err != nil {
		return s, up, ocf.Wrap(ocf.ErrGeneric, err, "read the state of DRBD resource %s", r.Params.String(pResource))
	}
	return s, up, nil
}

// monitor reports the resource's role and refreshes the promotion score.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	s, up, err := a.toolsFor(r).Status(ctx)
	if err != nil {
		if r.IsProbe() && errors.Is(err, exec.ErrNotFound) {
			return ocf.ErrNotRunning // drbd-utils not installed: nothing can run
		}
		return ocf.Wrap(ocf.ErrGeneric, err, "read the state of DRBD resource %s", r.Params.String(pResource))
	}
	h := Assess(up, s)
	if up || r.IsProbe() {
		a.publish(ctx, r, up, s, r.IsProbe())
	}
	switch h.Status {
	case ocf.Success, ocf.RunningPromoted:
		r.Log.Debugf("%s", h.Why)
		if h.Status == ocf.RunningPromoted {
			return ocf.ErrRunningPromoted
		}
		return nil
	case ocf.NotRunning:
		return ocf.ErrNotRunning
	}
	return ocf.Fail(h.Status, "%s", h.Why)
}

// start brings the resource up as Secondary and waits for its peers.
// The runtime has run validate first.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	t := a.toolsFor(r)
	s, up, err := a.observe(ctx, r)
	if err != nil {
		return err
	}
	cmd := "up"
	if up {
		cmd = "adjust" // applies configuration changes; a no-op otherwise
	}
	if err := t.Adm(ctx, cmd); err != nil {
		return ocf.Fail(ocf.ErrGeneric, "drbdadm %s %s failed: %s", cmd, r.Params.String(pResource), lastLine(err))
	}
	wfc := time.Duration(r.Params.Int(pWFC)) * time.Second
	until := time.Now().Add(wfc)
	for {
		if s, up, err = a.observe(ctx, r); err != nil {
			return err
		}
		if !up {
			return ocf.Fail(ocf.ErrGeneric, "drbdadm %s succeeded but resource %s is not up", cmd, r.Params.String(pResource))
		}
		if allConnected(s) || !a.wait(ctx, until) {
			break
		}
	}
	if !allConnected(s) {
		r.Log.Infof("started without every peer connected (waited %s)", wfc)
	}
	a.publish(ctx, r, up, s, true)
	r.Log.Infof("resource %s is up: %s", r.Params.String(pResource), Assess(up, s).Why)
	return nil
}

func allConnected(s Status) bool {
	for _, c := range s.Connections {
		if c.ConnectionState != Connected {
			return false
		}
	}
	return true
}

// wait sleeps one poll period unless that would pass until or the
// action's deadline; it reports whether it slept.
func (a *actions) wait(ctx context.Context, until time.Time) bool {
	if d, ok := ctx.Deadline(); ok && d.Add(-deadlineMargin).Before(until) {
		until = d.Add(-deadlineMargin)
	}
	if time.Until(until) < pollEvery {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(pollEvery):
		return true
	}
}

// actionEnd is when a retrying action gives up: its deadline less a
// margin, or defaultWait from now.
func actionEnd(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d.Add(-deadlineMargin)
	}
	return time.Now().Add(defaultWait)
}

// stop takes the resource down; it succeeds only when the kernel no
// longer has it.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	t := a.toolsFor(r)
	s, up, err := t.Status(ctx)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			r.Log.Warnf("drbd-utils are missing: nothing can be up (%v)", err)
			a.unpublish(ctx, r)
			return nil
		}
		return ocf.Wrap(ocf.ErrGeneric, err, "read the state of DRBD resource %s", r.Params.String(pResource))
	}
	if up {
		wasSecondary := s.Role != Primary
		if !wasSecondary {
			// Holders of the device (udev, blkid) may let go in a moment.
			if err := a.demote(ctx, r); err != nil {
				return ocf.Fail(ocf.ErrGeneric, "demote before stop: %s", ocf.ReasonOf(err))
			}
		}
		if err := t.Adm(ctx, "down"); err != nil {
			return ocf.Fail(ocf.ErrGeneric, "drbdadm down %s failed: %s", r.Params.String(pResource), lastLine(err))
		}
		if _, up, err = a.observe(ctx, r); err != nil {
			return err
		}
		if up {
			return ocf.Fail(ocf.ErrGeneric, "drbdadm down succeeded but resource %s is still up", r.Params.String(pResource))
		}
		if p := OutdateOnStop(r.Node(), r.Notify); wasSecondary && p != "" && r.Params.Bool(pStopOutdates) {
			r.Log.Infof("%s is Primary: marking the stopped Secondary's data Outdated", p)
			if err := t.Adm(ctx, "outdate"); err != nil {
				r.Log.Warnf("drbdadm outdate failed: %v", err)
			}
		}
	}
	a.unpublish(ctx, r)
	return nil
}

// OutdateOnStop returns another node that the notifications name as
// Primary and that is not stopping, or "": a Secondary stopped while it
// runs falls behind and may mark its data Outdated.
func OutdateOnStop(self string, n ocf.Notification) string {
	for _, p := range n.Promoted {
		if !strings.EqualFold(p, self) && !slices.Contains(n.Stop, p) && !slices.Contains(n.Demote, p) {
			return p
		}
	}
	return ""
}

// promote makes the resource Primary. It refuses data that is not good
// enough and waits, until its deadline, while a peer is still Primary.
func (a *actions) promote(ctx context.Context, r *ocf.Request) error {
	t := a.toolsFor(r)
	end := actionEnd(ctx)
	var last error
	for {
		s, up, err := a.observe(ctx, r)
		if err != nil {
			return err
		}
		if !up {
			return ocf.Fail(ocf.ErrGeneric, "cannot promote resource %s: it is not started", r.Params.String(pResource))
		}
		verdict, why := CanPromote(s, twoPrimaries(r))
		switch verdict {
		case AlreadyPrimary:
			a.publish(ctx, r, up, s, true)
			r.Log.Infof("resource %s is Primary", r.Params.String(pResource))
			return nil
		case NeverPromote:
			a.publish(ctx, r, up, s, true)
			return ocf.Fail(ocf.ErrGeneric, "refusing to promote %s: %s", r.Params.String(pResource), why)
		case WaitPeerPrimary:
			last = errors.New(why)
		case PromoteNow:
			err := t.Adm(ctx, "primary")
			if exitCode(err) == ExitNoUpToDate {
				return ocf.Fail(ocf.ErrGeneric, "refusing to promote %s without access to UpToDate data: %s", r.Params.String(pResource), lastLine(err))
			}
			last = err
			if err == nil {
				continue // confirm from the state
			}
			r.Log.Warnf("drbdadm primary: %v", err)
		}
		if !a.wait(ctx, end) {
			return ocf.Fail(ocf.ErrGeneric, "could not promote %s before the timeout: %s", r.Params.String(pResource), lastLine(last))
		}
	}
}

// demote makes the resource Secondary, retrying while the device is in
// use until the deadline.
func (a *actions) demote(ctx context.Context, r *ocf.Request) error {
	t := a.toolsFor(r)
	end := actionEnd(ctx)
	for {
		s, up, err := a.observe(ctx, r)
		if err != nil {
			return err
		}
		if !up {
			return ocf.Fail(ocf.NotRunning, "cannot demote resource %s: it is not started", r.Params.String(pResource))
		}
		if s.Role != Primary {
			a.publish(ctx, r, up, s, true)
			return nil
		}
		err = t.Adm(ctx, "secondary")
		if err == nil {
			continue
		}
		r.Log.Warnf("drbdadm secondary: %v", err)
		if !a.wait(ctx, end) {
			return ocf.Fail(ocf.ErrGeneric, "could not demote %s before the timeout: %s", r.Params.String(pResource), lastLine(err))
		}
	}
}

// notify refreshes the promotion score after a peer started, stopped,
// was promoted or demoted: a Primary peer takes the score away, its demote
// gives it back. It never fails.
func (a *actions) notify(ctx context.Context, r *ocf.Request) error {
	n := r.Notify
	if n.Type != "post" {
		return nil
	}
	s, up, err := a.toolsFor(r).Status(ctx)
	if err != nil {
		r.Log.Warnf("post-%s notification: %v", n.Operation, err)
		return nil
	}
	if up {
		a.publish(ctx, r, up, s, true)
	}
	return nil
}

// scoreFile keeps the last score published, so that monitors fork
// crm_attribute only when the score changes.
func (a *actions) scoreFile(r *ocf.Request) string {
	name := strings.Map(func(c rune) rune {
		if c == '/' || c == 0 {
			return '_'
		}
		return c
	}, r.Resource)
	return filepath.Join(ocf.LockDir(a.env), "drbd-"+name+".score")
}

// publish writes the promotion score for the observed state, unless the
// same score was published last and force is false. A failure is logged:
// the resource's state is not wrong because the attribute manager is away.
func (a *actions) publish(ctx context.Context, r *ocf.Request, up bool, s Status, force bool) {
	ladder, err := ParseLadder(r.Params.String(pLadder))
	if err != nil {
		r.Log.Warnf("parameter %s %v: publishing no score", pLadder, err)
		ladder = Ladder{Consistent: Ineligible, RemoteUpToDate: Ineligible, PeerUnknown: Ineligible, UpToDate: Ineligible}
	}
	p := Score(up, s, ladder, twoPrimaries(r))
	file := a.scoreFile(r)
	if !force {
		if raw, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(raw)) == strconv.Itoa(p.Score) {
			return
		}
	}
	if err := ocf.SetPromotionScore(ctx, r.Attrs, r.Node(), r.ResourceName(), p.Score); err != nil {
		r.Log.Warnf("cannot publish promotion score %d (%s): %v", p.Score, p.Why, err)
		os.Remove(file)
		return
	}
	r.Log.Infof("promotion score %d: %s", p.Score, p.Why)
	if err := os.WriteFile(file, []byte(strconv.Itoa(p.Score)+"\n"), 0o644); err != nil {
		r.Log.Debugf("cannot keep the score: %v", err)
	}
}

// unpublish removes the promotion score of a stopped instance.
func (a *actions) unpublish(ctx context.Context, r *ocf.Request) {
	if err := ocf.SetPromotionScore(ctx, r.Attrs, r.Node(), r.ResourceName(), Ineligible); err != nil {
		r.Log.Warnf("cannot remove the promotion score: %v", err)
	}
	os.Remove(a.scoreFile(r))
}

// lastLine is the last line a failed tool printed, the one that says why.
func lastLine(err error) string {
	if err == nil {
		return ""
	}
	var te *ToolError
	if errors.As(err, &te) {
		if out := strings.TrimSpace(te.Output); out != "" {
			if i := strings.LastIndexByte(out, '\n'); i >= 0 {
				out = out[i+1:]
			}
			return out
		}
	}
	return fmt.Sprint(err)
}
