package osm

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"

	"github.com/goha-ha/goha/ocf"
)

const (
	// pollEvery is the period of start's and stop's waits for the service.
	pollEvery = 200 * time.Millisecond
	// deadlineMargin is kept free before an action's deadline to answer
	// before Pacemaker gives up on the action.
	deadlineMargin = time.Second
)

// actions are the agent's operations over the kernel's nftables and the
// service's commands.
type actions struct {
	fw  firewall
	svc runner
}

func (a *actions) config(r *ocf.Request) (Config, error) {
	return configFrom(r.Params, r.ResourceName())
}

// validate checks what the declarations cannot: the parameters together,
// and that the service's programs exist.
func (a *actions) validate(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil || c.Service == nil {
		return err
	}
	for _, cmd := range []struct {
		param string
		argv  []string
	}{{pStart, c.Service.Start}, {pStop, c.Service.Stop}, {pStatus, c.Service.Status}} {
		if _, err := a.svc.LookPath(cmd.argv[0]); err != nil {
			return ocf.Fail(ocf.ErrInstalled, "parameter %s: program %s not found or not executable", cmd.param, cmd.argv[0])
		}
	}
	return nil
}

// start writes the SNAT table, then starts the service: its first
// connections to the farm already leave from the virtual IP.
func (a *actions) start(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		return err
	}
	if err := a.writeTable(r, c.Ruleset); err != nil {
		return err
	}
	if c.Service == nil {
		return nil
	}
	return a.startService(ctx, r, c.Service)
}

// writeTable puts the resource's table in place unless it already is;
// a table of the name that is not the agent's is left alone.
func (a *actions) writeTable(r *ocf.Request, rs Ruleset) error {
	tables, err := a.fw.Observe(rs.Table, rs.Families())
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read nftables")
	}
	var owned []nftables.TableFamily
	for _, t := range tables {
		if !t.Owned() {
			return ocf.Fail(ocf.ErrConfigured, "parameter %s: table %s %s exists and was not made by this agent (no chain %s); name another table",
				pTable, familyName(t.Family), rs.Table, chainName)
		}
		owned = append(owned, t.Family)
	}
	if len(tables) == 1 && len(rs.Differences(tables[0])) == 0 {
		r.Log.Infof("table %s %s is already in place", familyName(tables[0].Family), rs.Table)
		return nil
	}
	var errs []string
	for _, family := range rs.Families() {
		drop := slices.DeleteFunc(slices.Clone(owned), func(f nftables.TableFamily) bool { return f == family })
		err := a.fw.Replace(rs, family, drop)
		if err == nil {
			r.Log.Infof("wrote table %s %s: %s", familyName(family), rs.Table, strings.Join(rs.Statements(family), " "))
			return a.verifyTable(rs)
		}
		errs = append(errs, err.Error())
		if !unsupported(err) {
			break
		}
		r.Log.Warnf("%v; trying another table family", err)
	}
	return ocf.Fail(ocf.ErrGeneric, "%s", strings.Join(errs, "; "))
}

// verifyTable reads the table back after writing it: start succeeds only
// when a monitor will find exactly what it expects.
func (a *actions) verifyTable(rs Ruleset) error {
	tables, err := a.fw.Observe(rs.Table, rs.Families())
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read nftables")
	}
	if v := assess(rs, tables, ServiceStatus{State: NoService}); v.Status != ocf.Success {
		return ocf.Fail(ocf.ErrGeneric, "after writing it: %s", v.Reason)
	}
	return nil
}

// status asks the service's status command.
func (a *actions) status(ctx context.Context, s *Service) ServiceStatus {
	if s == nil {
		return ServiceStatus{State: NoService}
	}
	code, out, err := a.svc.Run(ctx, s.Status)
	return serviceStatus(code, out, err)
}

// startService runs the start command unless the service runs, and waits
// until the status command says it does.
func (a *actions) startService(ctx context.Context, r *ocf.Request, s *Service) error {
	switch st := a.status(ctx, s); st.State {
	case ServiceRunning:
		r.Log.Infof("the service already runs")
		return nil
	case ServiceUnknown:
		return ocf.Fail(ocf.ErrGeneric, "cannot tell whether the service runs before starting it: %s", st.Detail)
	}
	r.Log.Infof("starting the service: %s", strings.Join(s.Start, " "))
	code, out, err := a.svc.Run(ctx, s.Start)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "%s failed", pStart)
	}
	if code != 0 {
		return ocf.Fail(ocf.ErrGeneric, "%s exited with %d%s", pStart, code, firstLine(out))
	}
	st, ok := a.waitService(ctx, s, ServiceRunning)
	if !ok {
		return ocf.Fail(ocf.ErrGeneric, "the service did not report running within the start timeout (%s)", describe(st))
	}
	return nil
}

// waitService polls the status command until the service is in state or
// the action's time is nearly up; it returns the last status seen.
func (a *actions) waitService(ctx context.Context, s *Service, want ServiceState) (ServiceStatus, bool) {
	deadline, hasDeadline := ctx.Deadline()
	for {
		st := a.status(ctx, s)
		if st.State == want {
			return st, true
		}
		if ctx.Err() != nil || hasDeadline && time.Until(deadline) < deadlineMargin+pollEvery {
			return st, false
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}

func describe(st ServiceStatus) string {
	switch {
	case st.Detail != "":
		return st.Detail
	case st.State == ServiceRunning:
		return "running"
	case st.State == ServiceStopped:
		return pStatus + " says it is stopped"
	}
	return "no service"
}

// monitor reports whether the table holds exactly the expected rule and
// the service runs.
func (a *actions) monitor(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		if r.IsProbe() {
			return ocf.ErrNotRunning
		}
		return err
	}
	tables, err := a.fw.Observe(c.Ruleset.Table, c.Ruleset.Families())
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "read nftables")
	}
	v := assess(c.Ruleset, tables, a.status(ctx, c.Service))
	switch v.Status {
	case ocf.Success:
		return nil
	case ocf.NotRunning:
		r.Log.Debugf("%s", v.Reason)
		return ocf.ErrNotRunning
	}
	return ocf.Fail(v.Status, "%s", v.Reason)
}

// stop stops the service, then deletes the table. It succeeds only when
// the status command says the service is stopped and no table of the
// agent's is left.
func (a *actions) stop(ctx context.Context, r *ocf.Request) error {
	c, err := a.config(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration (%s): nothing to stop", ocf.ReasonOf(err))
		return nil
	}
	serviceErr := a.stopService(ctx, r, c.Service)
	if err := a.deleteTable(r, c.Ruleset); err != nil {
		if serviceErr != nil {
			return ocf.Fail(ocf.ErrGeneric, "%s; and %s", ocf.ReasonOf(serviceErr), ocf.ReasonOf(err))
		}
		return err
	}
	return serviceErr
}

func (a *actions) stopService(ctx context.Context, r *ocf.Request, s *Service) error {
	if s == nil {
		return nil
	}
	if st := a.status(ctx, s); st.State == ServiceStopped {
		return nil
	}
	r.Log.Infof("stopping the service: %s", strings.Join(s.Stop, " "))
	code, out, err := a.svc.Run(ctx, s.Stop)
	if err != nil {
		return ocf.Wrap(ocf.ErrGeneric, err, "%s failed", pStop)
	}
	if code != 0 {
		r.Log.Warnf("%s exited with %d%s", pStop, code, firstLine(out))
	}
	st, ok := a.waitService(ctx, s, ServiceStopped)
	if !ok {
		return ocf.Fail(ocf.ErrGeneric, "the service is not stopped after %s (%s)", pStop, describe(st))
	}
	return nil
}

// deleteTable deletes the resource's table in every family it is in, and
// checks that it is gone. A table of the name that is not the agent's is
// left alone.
func (a *actions) deleteTable(r *ocf.Request, rs Ruleset) error {
	var lastErr error
	for attempt := 0; ; attempt++ {
		tables, err := a.fw.Observe(rs.Table, rs.Families())
		if err != nil {
			return ocf.Wrap(ocf.ErrGeneric, err, "read nftables")
		}
		var owned []nftables.TableFamily
		for _, t := range tables {
			if t.Owned() {
				owned = append(owned, t.Family)
			} else if attempt == 0 {
				r.Log.Warnf("table %s %s is not this resource's (no chain %s); left alone", familyName(t.Family), rs.Table, chainName)
			}
		}
		if len(owned) == 0 {
			return nil
		}
		if attempt == 2 {
			return ocf.Wrap(ocf.ErrGeneric, lastErr, "table %s is still there after deleting it", rs.Table)
		}
		if lastErr = a.fw.Delete(rs.Table, owned); lastErr != nil {
			// A table that vanished meanwhile fails the batch: look again.
			r.Log.Warnf("%v", lastErr)
			continue
		}
		r.Log.Infof("deleted table %s", rs.Table)
	}
}
