// Command galeracmd runs ocf:goha:galera alone, so the agent's component
// tests do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/galera"
)

func main() { galera.Agent().Main(os.Args[1:]) }
