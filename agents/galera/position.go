package galera

import "github.com/goha-ha/goha/agents/galera/grastate"

// Position is how far a node's data reaches (see package grastate).
type Position = grastate.Position
