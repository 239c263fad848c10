// Command filesystemcmd runs ocf:goha:filesystem alone, so the agent's
// component tests do not depend on the rest of the multi-call binary
// compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/filesystem"
)

func main() { filesystem.Agent().Main(os.Args[1:]) }
