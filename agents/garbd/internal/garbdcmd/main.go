// Command garbdcmd runs ocf:goha:garbd alone, so the agent's component
// tests do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/garbd"
)

func main() { garbd.Agent().Main(os.Args[1:]) }
