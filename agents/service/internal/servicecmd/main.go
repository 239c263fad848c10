// Command servicecmd runs ocf:goha:service alone, so the agent's component
// tests do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/service"
)

func main() { service.Agent().Main(os.Args[1:]) }
