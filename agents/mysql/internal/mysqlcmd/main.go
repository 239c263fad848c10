// Command mysqlcmd runs ocf:goha:mysql alone, so the agent's component
// tests do not depend on the rest of the multi-call binary compiling.
package main

import (
	"os"

	"github.com/goha-ha/goha/agents/mysql"
)

func main() { mysql.Agent().Main(os.Args[1:]) }
