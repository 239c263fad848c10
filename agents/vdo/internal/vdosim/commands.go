package vdosim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// sectors is the simulated size of every device, in 512-byte sectors.
const sectors = 20971520

// Main runs one simulated command: args[0] is the path it was run as
// (DIR/bin/vdo, DIR/bin/lvm or DIR/bin/dmsetup), which names the simulator
// directory DIR. It returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintf(stderr, "vdosim: usage: vdo|lvm|dmsetup COMMAND ...\n")
		return 2
	}
	program := filepath.Base(args[0])
	if program == AdminName {
		return admin(args[1:], stdout, stderr)
	}
	s := &Sim{Dir: filepath.Dir(filepath.Dir(args[0]))}
	command := program + " " + args[1]
	if err := s.log(strings.Join(append([]string{program}, args[1:]...), " ")); err != nil {
		fmt.Fprintf(stderr, "vdosim: %v\n", err)
		return 1
	}
	if f, err := s.takeFault(command); err != nil {
		fmt.Fprintf(stderr, "vdosim: %v\n", err)
		return 1
	} else if f != nil {
		time.Sleep(time.Duration(f.DelayMs) * time.Millisecond)
		if f.Exit != 0 {
			fmt.Fprint(stderr, f.Stderr)
			return f.Exit
		}
	}
	var code int
	err := s.Update(func(st *State) error {
		switch program {
		case "vdo":
			code = runVdo(st, args[1], options(args[2:]), stdout, stderr)
		case "lvm":
			code = runLvm(st, args[1], args[2:], stdout, stderr)
		case "dmsetup":
			code = runDmsetup(st, args[1], args[2:], stdout, stderr)
		default:
			fmt.Fprintf(stderr, "vdosim: no simulated program %q\n", program)
			code = 2
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "vdosim: %v\n", err)
		return 1
	}
	return code
}

func (s *Sim) log(line string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := os.OpenFile(filepath.Join(s.Dir, "calls.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}

// takeFault returns the fault for command, counting the call.
func (s *Sim) takeFault(command string) (*Fault, error) {
	var fault *Fault
	err := s.Update(func(st *State) error {
		f := st.Faults[command]
		if f == nil {
			return nil
		}
		copied := *f
		fault = &copied
		if f.Times > 0 {
			if f.Times--; f.Times == 0 {
				delete(st.Faults, command)
			}
		}
		return nil
	})
	return fault, err
}

// options parses --key=value, --key value and -n value into a map.
func options(args []string) map[string]string {
	o := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" || a == "--name" || a == "-f" || a == "--confFile":
			key := map[string]string{"-n": "name", "--name": "name", "-f": "confFile", "--confFile": "confFile"}[a]
			if i+1 < len(args) {
				o[key] = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--"):
			k, v, ok := strings.Cut(a[2:], "=")
			if !ok {
				v = "true"
			}
			o[k] = v
		case a == "-a":
			o["all"] = "true"
		}
	}
	return o
}

func runVdo(st *State, command string, o map[string]string, stdout, stderr io.Writer) int {
	if command == "status" {
		vdoStatus(st, o["name"], stdout)
		return 0
	}
	name := o["name"]
	v := st.find(KindVDO, "", name)
	if v == nil {
		fmt.Fprintf(stderr, "vdo: ERROR - VDO volume %s not found\n", name)
		return 7
	}
	switch command {
	case "activate":
		v.Activated = true
		fmt.Fprintf(stdout, "vdo: activated %s\n", name)
	case "deactivate":
		v.Activated = false
		fmt.Fprintf(stdout, "vdo: deactivated %s\n", name)
	case "start":
		fmt.Fprintf(stdout, "Starting VDO %s\n", name)
		switch {
		case !v.Activated:
			fmt.Fprintf(stderr, "vdo: ERROR - VDO volume %s is not activated\n", name)
			return 1
		case v.Started:
			fmt.Fprintf(stdout, "VDO instance %s already started\n", name)
			return 0
		}
		if o["forceRebuild"] == "true" && v.Mode == "read-only" {
			v.Mode = "normal"
		}
		v.Started = true
		fmt.Fprintf(stdout, "Starting compression on VDO %s\nVDO instance %s volume is ready at /dev/mapper/%s\n", name, name, name)
	case "stop":
		fmt.Fprintf(stdout, "Stopping VDO %s\n", name)
		if v.InUse {
			fmt.Fprintf(stderr, "vdo: ERROR - cannot stop VDO volume %s: in use\n", name)
			return 1
		}
		v.Started = false
	default:
		fmt.Fprintf(stderr, "vdo: ERROR - simulated vdo has no command %q\n", command)
		return 2
	}
	return 0
}

// vdoStatus prints the YAML document of vdo status, for one volume or all.
func vdoStatus(st *State, only string, w io.Writer) {
	fmt.Fprintf(w, "VDO status:\n  Date: '2026-01-01 00:00:00+00:00'\n  Node: simulated\n")
	fmt.Fprintf(w, "Kernel module:\n  Loaded: true\n  Name: kvdo\n  Version information:\n    kvdo version: 6.2.0 (simulated)\n")
	fmt.Fprintf(w, "Configuration:\n  File: /etc/vdoconf.yml\n  Last modified: '2026-01-01 00:00:00'\n")
	fmt.Fprintf(w, "VDOs:\n")
	for _, v := range st.Volumes {
		if v.Kind != KindVDO || only != "" && v.Name != only {
			continue
		}
		activate := "disabled"
		if v.Activated {
			activate = "enabled"
		}
		dm := "not available"
		if v.Started {
			dm = vdoTargetStatus(v)
		}
		fmt.Fprintf(w, "  %s:\n    Acknowledgement threads: 1\n    Activate: %s\n    Compression: enabled\n", v.Name, activate)
		fmt.Fprintf(w, "    Deduplication: enabled\n    Device mapper status: %s\n    Storage device: %s\n", dm, v.Device)
		if v.Started {
			fmt.Fprintf(w, "    VDO statistics:\n      /dev/mapper/%s:\n        1K-blocks: 10485760\n        operating mode: %s\n", v.Name, v.Mode)
		} else {
			fmt.Fprintf(w, "    VDO statistics: not available\n")
		}
	}
}

func vdoTargetStatus(v *Volume) string {
	return fmt.Sprintf("0 %d vdo %s %s - %s online 1048576 2621440", sectors, v.Device, v.Mode, v.Index)
}

func runLvm(st *State, command string, args []string, stdout, stderr io.Writer) int {
	switch command {
	case "lvs":
		return lvs(st, args, stdout, stderr)
	case "lvchange":
		var activate, deactivate bool
		var name string
		for _, a := range args {
			switch {
			case a == "-ay":
				activate = true
			case a == "-an":
				deactivate = true
			case a == "-K": // ignore the activation skip flag: nothing to simulate
			case !strings.HasPrefix(a, "-") && name == "":
				name = a
			default:
				name = ""
			}
		}
		if activate == deactivate || name == "" {
			fmt.Fprintf(stderr, "  simulated lvchange takes -ay [-K] VG/LV or -an VG/LV, not %q\n", args)
			return 3
		}
		vg, lv, _ := strings.Cut(name, "/")
		v := st.find(KindLVM, vg, lv)
		if v == nil {
			fmt.Fprintf(stderr, "  Failed to find logical volume \"%s\"\n", name)
			return 5
		}
		if activate {
			v.Started = true
			return 0
		}
		if v.InUse {
			fmt.Fprintf(stderr, "  Logical volume %s in use.\n", name)
			return 5
		}
		v.Started = false
		return 0
	}
	fmt.Fprintf(stderr, "  simulated lvm has no command %q\n", command)
	return 3
}

// lvs prints `lvs --reportformat json -o FIELDS VG`: every VDO volume of
// the group and its pools.
func lvs(st *State, args []string, stdout, stderr io.Writer) int {
	var fields []string
	vg := ""
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--reportformat":
			if i++; i >= len(args) || args[i] != "json" {
				fmt.Fprintf(stderr, "  simulated lvs only reports json\n")
				return 3
			}
		case "-o":
			if i++; i < len(args) {
				fields = strings.Split(args[i], ",")
			}
		default:
			vg = args[i]
		}
	}
	type row map[string]string
	var rows []row
	pools := map[string]bool{}
	for _, v := range st.Volumes {
		if v.Kind != KindLVM || v.VG != vg {
			continue
		}
		state, open := "-", "-"
		if v.Started {
			state = "a"
			if v.Suspended {
				state = "s"
			}
			if v.InUse {
				open = "o"
			}
		}
		rows = append(rows, row{"lv_name": v.Name, "vg_name": v.VG, "lv_attr": "vwi-" + state + open + "v---",
			"segtype": "vdo", "pool_lv": v.Pool, "vdo_operating_mode": "", "vdo_index_state": ""})
		if !pools[v.Pool] {
			pools[v.Pool] = true
			pr := row{"lv_name": v.Pool, "vg_name": v.VG, "lv_attr": "dwi-" + state + "-v---", "segtype": "vdo-pool", "pool_lv": ""}
			if v.Started {
				pr["vdo_operating_mode"], pr["vdo_index_state"] = v.Mode, v.Index
			}
			rows = append(rows, pr)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(stderr, "  Volume group \"%s\" not found\n  Cannot process volume group %s\n", vg, vg)
		return 5
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i]["lv_name"] < rows[j]["lv_name"] })
	out := make([]row, len(rows))
	for i, r := range rows {
		out[i] = row{}
		for _, f := range fields {
			out[i][f] = r[f]
		}
	}
	doc := map[string]any{"report": []map[string]any{{"lv": out}}}
	raw, _ := json.MarshalIndent(doc, "  ", "    ")
	fmt.Fprintf(stdout, "  %s\n", raw)
	return 0
}

func runDmsetup(st *State, command string, args []string, stdout, stderr io.Writer) int {
	if command != "status" || len(args) != 1 {
		fmt.Fprintf(stderr, "simulated dmsetup takes status NAME\n")
		return 2
	}
	for _, v := range st.Volumes {
		if !v.Started {
			continue
		}
		switch args[0] {
		case v.VDOName():
			fmt.Fprintln(stdout, vdoTargetStatus(v))
			return 0
		case v.DMName():
			fmt.Fprintf(stdout, "0 %d linear \n", sectors)
			return 0
		}
	}
	fmt.Fprintf(stderr, "Device does not exist.\nCommand failed.\n")
	return 1
}

// AdminName is the simulator's own program name, under which it serves a
// test that cannot import this package (an end-to-end test outside the
// agent's tree):
//
//	vdosim new DIR                   a simulator in DIR whose commands run this program
//	vdosim add-vdo DIR NAME DEVICE   a stopped, deactivated volume of the vdo command
//	vdosim power-loss DIR            every volume stopped, as after a power cut
const AdminName = "vdosim"

func admin(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "usage: vdosim new DIR | add-vdo DIR NAME DEVICE | power-loss DIR")
		return 2
	}
	s := &Sim{Dir: args[1]}
	var err error
	switch {
	case args[0] == "new" && len(args) == 2:
		var exe string
		if exe, err = os.Executable(); err == nil {
			_, err = New(args[1], exe)
		}
	case args[0] == "add-vdo" && len(args) == 4:
		err = s.AddVDO(args[2], args[3])
	case args[0] == "power-loss" && len(args) == 2:
		err = s.Update(func(st *State) error {
			for _, v := range st.Volumes {
				v.Started, v.Suspended, v.InUse = false, false, false
			}
			return nil
		})
	default:
		fmt.Fprintf(stderr, "vdosim: bad command %q\n", args)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "vdosim: %v\n", err)
		return 1
	}
	return 0
}
