// Command apachecmd runs ocf:goha:apache alone, so the agent's component
// tests do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/apache"
)

func main() { apache.Agent().Main(os.Args[1:]) }
