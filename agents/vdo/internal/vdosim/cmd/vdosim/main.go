// Command vdosim is the SIMULATED vdo, lvm and dmsetup of ocf:goha:vdo's
// tests: linked under those names into a simulator directory's bin/, it
// acts on that directory's state (see package vdosim). Test use only.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/vdo/internal/vdosim"
)

func main() { os.Exit(vdosim.Main(os.Args, os.Stdout, os.Stderr)) }
