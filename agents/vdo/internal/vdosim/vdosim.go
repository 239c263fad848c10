// Package vdosim is a SIMULATOR, for tests only. It stands in for the
// programs ocf:goha:vdo runs (vdo, lvm's lvs and lvchange, dmsetup
// status) and for the part of sysfs the agent reads, on machines where no
// VDO kernel module (kvdo or dm-vdo) can be loaded. Nothing here touches a
// real device.
//
// A simulator lives in one directory: bin/ holds links named vdo, lvm and
// dmsetup to the simulator program (cmd/vdosim), which finds its state
// from the directory of the name it was run as; state.json holds the
// volumes, locked across concurrent calls; sys/ is the device tree as
// sysfs would show it (block/dm-N/dm/name, dm/suspended, slaves/,
// kvdo/NAME/statistics/mode), rebuilt after every change; calls.log lists
// every command run. Tests prepare volumes and inject failures with the
// Sim methods.
//
// The output formats follow the tools' documentation: vdo status prints
// YAML with a "Device mapper status" line per volume, lvs --reportformat
// json a {"report":[{"lv":[...]}]} document of strings, dmsetup status
// "START LENGTH vdo DEVICE MODE RECOVERY INDEX COMPRESSION USED TOTAL".
// Error messages are the simulator's own approximations.
package vdosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Kinds of simulated volume.
const (
	KindVDO = "vdo" // a volume of the vdo command
	KindLVM = "lvm" // an LVM-VDO logical volume on a VDO pool
)

// Volume is one simulated VDO volume.
type Volume struct {
	Kind      string
	Name      string // vdo: the volume name; lvm: the logical volume name
	VG        string // lvm: the volume group
	Pool      string // lvm: the VDO pool logical volume
	Device    string // the storage below
	Activated bool   // vdo: "Activate: enabled"
	Started   bool   // the device-mapper device exists
	Mode      string // operating mode: normal, recovering, read-only
	Index     string // deduplication index state
	InUse     bool   // open (mounted): stop and deactivation fail
	Suspended bool   // the device's I/O is suspended
}

// DMName is the device-mapper name of the volume's top device.
func (v *Volume) DMName() string {
	if v.Kind == KindLVM {
		return mangle(v.VG) + "-" + mangle(v.Name)
	}
	return v.Name
}

// VDOName is the device-mapper name of the device with the vdo target.
func (v *Volume) VDOName() string {
	if v.Kind == KindLVM {
		return mangle(v.VG) + "-" + mangle(v.Pool) + "-vpool"
	}
	return v.Name
}

func mangle(s string) string { return strings.ReplaceAll(s, "-", "--") }

// Fault makes a command fail or linger. Command is "PROGRAM SUBCOMMAND",
// e.g. "vdo start", "lvm lvchange", "dmsetup status".
type Fault struct {
	Exit    int    // exit status; 0 runs the command normally (after DelayMs)
	Stderr  string // what it prints when it fails
	DelayMs int    // how long it takes before anything else
	Times   int    // how many calls it affects; 0 is every call
}

// State is everything the simulator keeps between calls.
type State struct {
	Volumes []*Volume
	Faults  map[string]*Fault
	// NoKVDOSysfs publishes no kvdo/NAME/statistics/mode, as the
	// upstream dm-vdo does: readers must ask dmsetup status.
	NoKVDOSysfs bool
	// NoSysfs publishes no sys/block at all, so readers must ask the
	// vdo command or lvs.
	NoSysfs bool
}

func (s *State) find(kind, vg, name string) *Volume {
	for _, v := range s.Volumes {
		if v.Kind == kind && v.Name == name && (kind == KindVDO || v.VG == vg) {
			return v
		}
	}
	return nil
}

// Sim is a simulator directory, seen from a test.
type Sim struct {
	Dir string
}

// New makes a simulator in dir whose commands run program (the built
// cmd/vdosim).
func New(dir, program string) (*Sim, error) {
	s := &Sim{Dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return nil, err
	}
	for _, name := range []string{"vdo", "lvm", "dmsetup"} {
		if err := os.Symlink(program, s.Bin(name)); err != nil {
			return nil, fmt.Errorf("link simulated %s: %w", name, err)
		}
	}
	return s, s.Update(func(*State) error { return nil })
}

// Bin is the path of the simulated program name (vdo, lvm, dmsetup).
func (s *Sim) Bin(name string) string { return filepath.Join(s.Dir, "bin", name) }

// Sysfs is the simulated sysfs directory.
func (s *Sim) Sysfs() string { return filepath.Join(s.Dir, "sys") }

// AddVDO adds a stopped, deactivated volume of the vdo command.
func (s *Sim) AddVDO(name, device string) error {
	return s.Update(func(st *State) error {
		st.Volumes = append(st.Volumes, &Volume{Kind: KindVDO, Name: name, Device: device, Mode: "normal", Index: "online"})
		return nil
	})
}

// AddLVM adds an inactive LVM-VDO volume vg/lv on pool vg/pool.
func (s *Sim) AddLVM(vg, lv, pool string) error {
	return s.Update(func(st *State) error {
		st.Volumes = append(st.Volumes, &Volume{Kind: KindLVM, VG: vg, Name: lv, Pool: pool,
			Device: "/dev/mapper/" + mangle(vg) + "-" + mangle(pool) + "_vdata", Mode: "normal", Index: "online"})
		return nil
	})
}

// Volume changes the volume kind/name (name is "vg/lv" for LVM) with f.
func (s *Sim) Volume(kind, name string, f func(*Volume)) error {
	return s.Update(func(st *State) error {
		vg, lv, _ := strings.Cut(name, "/")
		if kind == KindVDO {
			lv = name
		}
		v := st.find(kind, vg, lv)
		if v == nil {
			return fmt.Errorf("no simulated %s volume %s", kind, name)
		}
		f(v)
		return nil
	})
}

// Inject makes command fail or linger as f says; a nil f removes the fault.
func (s *Sim) Inject(command string, f *Fault) error {
	return s.Update(func(st *State) error {
		if f == nil {
			delete(st.Faults, command)
			return nil
		}
		st.Faults[command] = f
		return nil
	})
}

// Calls lists the commands run so far, one "PROGRAM ARGS..." each.
func (s *Sim) Calls() ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(s.Dir, "calls.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return strings.Split(strings.TrimRight(string(raw), "\n"), "\n"), err
}

// Load returns the current state.
func (s *Sim) Load() (State, error) {
	var st State
	raw, err := os.ReadFile(filepath.Join(s.Dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return State{Faults: map[string]*Fault{}}, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("parse simulator state: %w", err)
	}
	if st.Faults == nil {
		st.Faults = map[string]*Fault{}
	}
	return st, nil
}

// Update changes the state with f under the simulator's lock, saves it
// and rebuilds the simulated sysfs.
func (s *Sim) Update(f func(*State) error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.Load()
	if err != nil {
		return err
	}
	if err := f(&st); err != nil {
		return err
	}
	return s.save(st)
}

func (s *Sim) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, "state.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock simulator state: %w", err)
	}
	return func() { f.Close() }, nil
}

func (s *Sim) save(st State) error {
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, "state.json.tmp")
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir, "state.json")); err != nil {
		return err
	}
	return s.writeSysfs(st)
}

// writeSysfs builds the device tree of st in a new directory and swaps the
// sys link to it, so that a reader sees the old tree or the new one.
func (s *Sim) writeSysfs(st State) error {
	gen := 0
	if target, err := os.Readlink(s.Sysfs()); err == nil {
		fmt.Sscanf(filepath.Base(target), "sys.%d", &gen)
	}
	gen++
	root := filepath.Join(s.Dir, fmt.Sprintf("sys.%d", gen))
	os.RemoveAll(root)
	if err := os.MkdirAll(filepath.Join(root, "kvdo"), 0o755); err != nil {
		return err
	}
	if !st.NoSysfs {
		if err := os.MkdirAll(filepath.Join(root, "block"), 0o755); err != nil {
			return err
		}
	}
	minor := 0
	device := func(name string, suspended bool, below ...int) (int, error) {
		minor++
		if st.NoSysfs {
			return minor, nil
		}
		dm := filepath.Join(root, "block", fmt.Sprintf("dm-%d", minor))
		if err := os.MkdirAll(filepath.Join(dm, "dm"), 0o755); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(filepath.Join(dm, "slaves"), 0o755); err != nil {
			return 0, err
		}
		susp := "0\n"
		if suspended {
			susp = "1\n"
		}
		for file, content := range map[string]string{"name": name + "\n", "suspended": susp} {
			if err := os.WriteFile(filepath.Join(dm, "dm", file), []byte(content), 0o644); err != nil {
				return 0, err
			}
		}
		for _, b := range below {
			if err := os.Symlink(fmt.Sprintf("../../dm-%d", b), filepath.Join(dm, "slaves", fmt.Sprintf("dm-%d", b))); err != nil {
				return 0, err
			}
		}
		return minor, nil
	}
	pools := map[string]int{}
	for _, v := range st.Volumes {
		if !v.Started {
			continue
		}
		vdoMinor, ok := pools[v.VDOName()]
		if !ok {
			var err error
			if vdoMinor, err = device(v.VDOName(), v.Suspended && v.Kind == KindVDO); err != nil {
				return err
			}
			pools[v.VDOName()] = vdoMinor
			if !st.NoKVDOSysfs {
				stats := filepath.Join(root, "kvdo", v.VDOName(), "statistics")
				if err := os.MkdirAll(stats, 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(stats, "mode"), []byte(v.Mode+"\n"), 0o644); err != nil {
					return err
				}
			}
		}
		if v.Kind == KindLVM {
			if _, err := device(v.DMName(), v.Suspended, vdoMinor); err != nil {
				return err
			}
		}
	}
	link := filepath.Join(s.Dir, "sys.link")
	os.Remove(link)
	if err := os.Symlink(filepath.Base(root), link); err != nil {
		return err
	}
	if err := os.Rename(link, s.Sysfs()); err != nil {
		return err
	}
	// Keep the previous tree for readers that are still in it.
	if gen > 2 {
		os.RemoveAll(filepath.Join(s.Dir, fmt.Sprintf("sys.%d", gen-2)))
	}
	return nil
}
