package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/goha-ha/goha/internal/mariadb"

	"github.com/urfave/cli/v2"

	"github.com/goha-ha/goha/agents/galera"
)

// galeraHealthCommand serves the Galera-aware check a load balancer asks
// before sending a client to a node.
func galeraHealthCommand() *cli.Command {
	return &cli.Command{
		Name:  "galera-health",
		Usage: "answer HTTP 200 only while the local Galera node is Synced and Primary (503 otherwise)",
		Description: "For HAProxy's `option httpchk`: add `check port 9200` to each Galera server line, so a Donor,\n" +
			"Joining or non-Primary node leaves the pool, which a plain TCP check cannot see. The status is read\n" +
			"over the server's unix socket with the MySQL protocol at every check; nothing is cached.\n" +
			"--once prints the verdict and exits 0 when serving, 1 when not.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: ":9200", Usage: "address to serve HTTP on"},
			&cli.StringFlag{Name: "socket", Value: "/run/mysqld/mysqld.sock", Usage: "the server's unix socket"},
			&cli.StringFlag{Name: "user", Value: "root", Usage: "user to connect as (root uses unix_socket authentication)"},
			&cli.StringFlag{Name: "defaults-file", Usage: "my.cnf-style file whose [client] section gives user and password"},
			&cli.BoolFlag{Name: "donor-ok", Usage: "count a Donor/Desynced node as serving"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Second, Usage: "bound on one status query"},
			&cli.BoolFlag{Name: "once", Usage: "check once, print the verdict, exit 0 (serving) or 1"},
		},
		Action: runGaleraHealth,
	}
}

func runGaleraHealth(c *cli.Context) error {
	creds, err := mariadb.LoadCredentials(c.String("defaults-file"), c.String("user"), c.IsSet("user"))
	if err != nil {
		return err
	}
	client := galera.Client{Socket: c.String("socket"), Creds: creds}
	check := galera.HealthCheck{Status: client.Wsrep, DonorOK: c.Bool("donor-ok"), Timeout: c.Duration("timeout")}
	if c.Bool("once") {
		ctx, cancel := context.WithTimeout(c.Context, check.Timeout)
		defer cancel()
		w, err := client.Wsrep(ctx)
		if err != nil {
			return cli.Exit("not serving: "+err.Error(), 1)
		}
		if v := galera.Judge(w, check.DonorOK); !v.Serving {
			return cli.Exit("not serving: "+v.Reason, 1)
		}
		fmt.Printf("serving: %s, %s\n", w.ClusterStatus, w.LocalComment)
		return nil
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: check, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "galera-health: serving on %s for %s\n", ln.Addr(), client.Socket)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
