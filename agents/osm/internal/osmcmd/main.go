// Command osmcmd runs ocf:goha:osm alone, so the agent's component tests
// do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/osm"
)

func main() { osm.Agent().Main(os.Args[1:]) }
