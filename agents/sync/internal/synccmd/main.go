// Command synccmd runs ocf:goha:sync alone, so that the agent's component
// tests do not depend on the rest of the multi-call binary compiling. Like
// goha, it is the agent, and the agent's daemon when its first argument is
// sync.DaemonCommand.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/sync"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == sync.DaemonCommand {
		sync.DaemonMain(os.Args[2:])
	}
	sync.Agent().Main(os.Args[1:])
}
