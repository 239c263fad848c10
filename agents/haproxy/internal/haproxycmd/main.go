// Command haproxycmd runs ocf:goha:haproxy alone, so the agent's component
// tests do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/haproxy"
)

func main() { haproxy.Agent().Main(os.Args[1:]) }
