// Command drbdsimcmd is the drbd-utils simulator (see package drbdsim) as a
// program: installed under the names drbdadm, drbdsetup and cibadmin, it
// is each of them, with its state in $DRBDSIM_DIR (or the directory that
// drbdsim.dir beside it names); run as drbdsim it takes a test's commands
// for a replicated resource (define, show, set).
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/drbd/internal/drbdsim"
)

func main() {
	os.Exit(drbdsim.Run(os.Args, os.Getenv, os.Stdout, os.Stderr))
}
