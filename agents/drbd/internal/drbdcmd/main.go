// Command drbdcmd runs ocf:goha:drbd alone, and its fence-peer and
// unfence-peer handlers when the first argument names one, so the agent's
// component tests do not depend on the rest of the multi-call binary.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/drbd"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == drbd.FenceCommand || os.Args[1] == drbd.UnfenceCommand) {
		drbd.HandlerMain(os.Args[1:])
	}
	drbd.Agent().Main(os.Args[1:])
}
