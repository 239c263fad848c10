// Command vipcmd runs ocf:goha:vip alone, so the agent's component tests
// do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/vip"
)

func main() { vip.Agent().Main(os.Args[1:]) }
