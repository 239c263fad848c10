// Command vdocmd runs ocf:goha:vdo alone, so the agent's component tests
// do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/vdo"
)

func main() { vdo.Agent().Main(os.Args[1:]) }
