package vdo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// dmDevice is a device-mapper device as sysfs shows it.
type dmDevice struct {
	Block     string   // the block device, e.g. dm-3
	Name      string   // its device-mapper name
	Suspended bool     // dm/suspended is 1
	Below     []string // the device-mapper names of the dm devices it maps onto
}

// findDM looks in the sysfs mounted at root for the device-mapper device
// called name, reading only files: ok is false when there is none. An
// error means sysfs cannot tell, and the caller asks a command instead.
func findDM(root, name string) (d dmDevice, ok bool, err error) {
	blocks := filepath.Join(root, "block")
	entries, err := os.ReadDir(blocks)
	if err != nil {
		return d, false, fmt.Errorf("list block devices: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "dm-") {
			continue
		}
		n, err := dmName(blocks, e.Name())
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // removed while we looked
			}
			return d, false, err
		}
		if n != name {
			continue
		}
		d = dmDevice{Block: e.Name(), Name: n}
		raw, err := os.ReadFile(filepath.Join(blocks, e.Name(), "dm", "suspended"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return d, false, fmt.Errorf("read %s state: %w", e.Name(), err)
		}
		d.Suspended = strings.TrimSpace(string(raw)) == "1"
		slaves, _ := os.ReadDir(filepath.Join(blocks, e.Name(), "slaves"))
		for _, s := range slaves {
			if strings.HasPrefix(s.Name(), "dm-") {
				if below, err := dmName(blocks, s.Name()); err == nil {
					d.Below = append(d.Below, below)
				}
			}
		}
		return d, true, nil
	}
	return d, false, nil
}

func dmName(blocks, block string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(blocks, block, "dm", "name"))
	if err != nil {
		return "", fmt.Errorf("read name of %s: %w", block, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// vdoLayer is the device-mapper name of the vdo target under d: d itself
// for a volume of the vdo command, the pool's NAME-vpool device below an
// LVM-VDO volume.
func vdoLayer(d dmDevice, mode Mode) string {
	if mode == LVM {
		for _, b := range d.Below {
			if strings.HasSuffix(b, "-vpool") {
				return b
			}
		}
	}
	return d.Name
}

// kvdoMode reads the operating mode the kvdo module publishes for the VDO
// device dmName (/sys/kvdo/NAME/statistics/mode); ok is false where the
// module publishes none (the dm-vdo of Linux 6.9 and later).
func kvdoMode(root, dmName string) (mode string, ok bool) {
	raw, err := os.ReadFile(filepath.Join(root, "kvdo", dmName, "statistics", "mode"))
	if err != nil {
		return "", false
	}
	mode = strings.TrimSpace(string(raw))
	return mode, mode != ""
}
