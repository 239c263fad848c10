package labmariadb

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goha-ha/goha/agents/galera/grastate"
	"github.com/goha-ha/goha/internal/lab"
)

// ReadGrastate reads a node's grastate.dat from the host (also while the
// node is off), with the agent's own parser. Seqno is -1 while the server
// runs and after a crash; a clean shutdown writes the last committed one.
func ReadGrastate(l *lab.Lab, node string) (grastate.Position, error) {
	dir, err := nodeDir(l, node)
	if err != nil {
		return grastate.Position{}, err
	}
	p := filepath.Join(dir, libDir, "grastate.dat")
	b, err := os.ReadFile(p)
	if err != nil {
		return grastate.Position{}, fmt.Errorf("read grastate %s: %w", p, err)
	}
	g, err := grastate.Parse(b)
	if err != nil {
		return g, fmt.Errorf("%s: %w", p, err)
	}
	return g, nil
}
