package galera

import (
	"github.com/goha-ha/goha/internal/mariadb"

	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/goha-ha/goha/agents/galera/grastate"
)

// Server is the local Galera node's server: the process a resource runs
// and the cluster address it joins.
type Server struct {
	mariadb.Server
	Address string // wsrep_cluster_address
}

// LaunchMode says how a server joins the cluster.
type LaunchMode struct {
	Bootstrap bool     // --wsrep-new-cluster
	Donors    []string // wsrep_sst_donor: take state only from these nodes
	// Recovered is the position --wsrep-recover found after a crash, when
	// grastate.dat has none: passed as --wsrep-start-position, without
	// which the server starts a new history (a bootstrap gets a new
	// cluster UUID and every joiner a full state transfer instead of IST).
	Recovered *Position
}

// args is the server's argv for mode: the defaults file first (mariadbd
// insists), then what the resource's parameters fix, then the extras.
func (s *Server) args(mode LaunchMode) []string {
	a := append(s.Args(), "--wsrep-cluster-address="+s.Address)
	if len(mode.Donors) > 0 {
		a = append(a, "--wsrep-sst-donor="+strings.Join(mode.Donors, ","))
	}
	if p := mode.Recovered; p != nil && p.HasState() && p.Seqno >= 0 {
		a = append(a, fmt.Sprintf("--wsrep-start-position=%s:%d", p.UUID, p.Seqno))
	}
	a = append(a, s.Extra...)
	if mode.Bootstrap {
		a = append(a, "--wsrep-new-cluster")
	}
	return a
}

// Launch starts the server in mode, detached, and returns its pid.
func (s *Server) Launch(mode LaunchMode) (int, error) {
	return s.Server.Launch(s.args(mode))
}

// Recover runs the server with --wsrep-recover to read the last committed
// position from InnoDB after a crash. A server that holds prepared XA
// transactions is run once more with --tc-heuristic-recover=rollback, as
// Galera's documentation says.
func (s *Server) Recover(ctx context.Context) (Position, error) {
	out, err := s.recoverOnce(ctx)
	if err != nil {
		return Position{}, err
	}
	if !out.Found && out.PreparedTransactions {
		out, err = s.recoverOnce(ctx, "--tc-heuristic-recover=rollback")
		if err != nil {
			return Position{}, err
		}
	}
	if !out.Found {
		return Position{}, fmt.Errorf("%s --wsrep-recover logged no recovered position", s.Binary)
	}
	return out.Position, nil
}

func (s *Server) recoverOnce(ctx context.Context, extra ...string) (grastate.RecoverOutcome, error) {
	tmp, err := os.MkdirTemp("", "goha-galera-recover-")
	if err != nil {
		return grastate.RecoverOutcome{}, err
	}
	defer os.RemoveAll(tmp)
	logPath := filepath.Join(tmp, "recover.log")
	if uid, gid, ok := mariadb.LookupUser(s.User, s.Group); ok {
		_ = os.Chown(tmp, uid, gid)
	}
	argv := []string{}
	if s.Config != "" {
		argv = append(argv, "--defaults-file="+s.Config)
	}
	argv = append(argv,
		"--datadir="+s.Datadir,
		"--user="+s.User,
		"--pid-file="+filepath.Join(tmp, "recover.pid"),
		"--socket="+filepath.Join(tmp, "recover.sock"),
		"--skip-networking",
		"--log-error="+logPath,
		"--wsrep-recover",
	)
	argv = append(argv, extra...)
	cmd := exec.CommandContext(ctx, s.Binary, argv...)
	cmd.Dir = "/"
	combined, runErr := cmd.CombinedOutput()
	logged, _ := os.ReadFile(logPath)
	out := grastate.ParseRecoverLog(append(logged, combined...))
	if runErr != nil && !out.Found && !out.PreparedTransactions {
		return out, fmt.Errorf("%s --wsrep-recover: %w: %s", s.Binary, runErr, mariadb.LastLines(append(logged, combined...), 3))
	}
	return out, nil
}
