package service

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// manager is what the actions ask of systemd.
type manager interface {
	// State reads a unit's properties (loading the unit if need be).
	State(ctx context.Context, unit string) (UnitState, error)
	// Start and Stop enqueue a job and wait until systemd reports it
	// removed; they return the job's result (done, failed, timeout,
	// canceled, dependency, skipped).
	Start(ctx context.Context, unit string) (string, error)
	Stop(ctx context.Context, unit string) (string, error)
	// ResetFailed clears a failed state, its result and NRestarts.
	ResetFailed(ctx context.Context, unit string) error
	// KillAll sends sig to every process of the unit.
	KillAll(ctx context.Context, unit string, sig syscall.Signal) error
	Close()
}

// dialSystemd connects to systemd over the bus at address; "" means the
// system bus (DBUS_SYSTEM_BUS_ADDRESS or its standard socket), and as root
// systemd's private socket when there is no system bus.
func dialSystemd(ctx context.Context, address string) (manager, error) {
	if address != "" {
		c, err := sd.NewConnection(func() (*dbus.Conn, error) { return dialBus(ctx, address) })
		if err != nil {
			return nil, fmt.Errorf("connect to systemd at %s: %w", address, err)
		}
		return busManager{c}, nil
	}
	c, err := sd.NewSystemConnectionContext(ctx)
	if err != nil && os.Geteuid() == 0 {
		var errPrivate error
		if c, errPrivate = sd.NewSystemdConnectionContext(ctx); errPrivate == nil {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("connect to systemd on the system bus: %w", err)
	}
	return busManager{c}, nil
}

// dialBus opens an authenticated connection to the bus at address.
func dialBus(ctx context.Context, address string) (*dbus.Conn, error) {
	conn, err := dbus.Dial(address, dbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// busManager is manager over a go-systemd connection.
type busManager struct{ c *sd.Conn }

func (m busManager) Close() { m.c.Close() }

func (m busManager) State(ctx context.Context, unit string) (UnitState, error) {
	p, err := m.c.GetAllPropertiesContext(ctx, unit)
	if err != nil {
		return UnitState{}, fmt.Errorf("read properties of %s: %w", unit, err)
	}
	s := UnitState{
		LoadState:      str(p["LoadState"]),
		ActiveState:    str(p["ActiveState"]),
		SubState:       str(p["SubState"]),
		Result:         str(p["Result"]),
		Restart:        str(p["Restart"]),
		UnitFileState:  str(p["UnitFileState"]),
		ControlGroup:   str(p["ControlGroup"]),
		NRestarts:      u32(p["NRestarts"]),
		MainPID:        u32(p["MainPID"]),
		ExecMainCode:   i32(p["ExecMainCode"]),
		ExecMainStatus: i32(p["ExecMainStatus"]),
	}
	// LoadError is (ss): an error name and a message.
	if le, ok := p["LoadError"].([]any); ok && len(le) == 2 {
		if name, _ := le[0].(string); name != "" {
			s.LoadError, _ = le[1].(string)
		}
	}
	return s, nil
}

func (m busManager) Start(ctx context.Context, unit string) (string, error) {
	done := make(chan string, 1)
	if _, err := m.c.StartUnitContext(ctx, unit, "replace", done); err != nil {
		return "", fmt.Errorf("start %s: %w", unit, err)
	}
	return waitJob(ctx, unit, "start", done)
}

func (m busManager) Stop(ctx context.Context, unit string) (string, error) {
	done := make(chan string, 1)
	if _, err := m.c.StopUnitContext(ctx, unit, "replace", done); err != nil {
		return "", fmt.Errorf("stop %s: %w", unit, err)
	}
	return waitJob(ctx, unit, "stop", done)
}

func waitJob(ctx context.Context, unit, kind string, done <-chan string) (string, error) {
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		return "", fmt.Errorf("systemd's %s job for %s is still running: %w", kind, unit, ctx.Err())
	}
}

func (m busManager) ResetFailed(ctx context.Context, unit string) error {
	if err := m.c.ResetFailedUnitContext(ctx, unit); err != nil {
		return fmt.Errorf("reset-failed %s: %w", unit, err)
	}
	return nil
}

func (m busManager) KillAll(ctx context.Context, unit string, sig syscall.Signal) error {
	if err := m.c.KillUnitWithTarget(ctx, unit, sd.All, int32(sig)); err != nil {
		return fmt.Errorf("kill %s: %w", unit, err)
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func u32(v any) uint32 {
	n, _ := v.(uint32)
	return n
}

func i32(v any) int32 {
	n, _ := v.(int32)
	return n
}
