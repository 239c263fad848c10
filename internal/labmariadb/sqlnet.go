package labmariadb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/goha-ha/goha/internal/lab"
	"github.com/goha-ha/goha/internal/nsnet"
)

// DefaultClient is the lab client namespace Verify and Status use when the
// lab has none yet.
const DefaultClient = "c1"

// Timeouts of every connection to a node: a node that is down must cost a
// writer about a second, not the kernel's minutes.
const (
	connectTimeout = time.Second
	ioTimeout      = 2 * time.Second
)

var registered sync.Map // network name -> struct{}

// netnsNetwork registers (once) a go-sql-driver network whose sockets are
// created inside the network namespace ns, and returns its name. The
// socket is made by a goroutine locked to a thread that entered the
// namespace; that thread is never handed back to the scheduler (the
// goroutine ends without unlocking it, so the runtime discards it), and no
// other code ever runs in the namespace.
func netnsNetwork(ns string) string {
	name := "netns-" + ns
	if _, loaded := registered.LoadOrStore(name, struct{}{}); loaded {
		return name
	}
	mysql.RegisterDialContext(name, func(ctx context.Context, addr string) (net.Conn, error) {
		return dialInNetNS(ctx, ns, addr)
	})
	return name
}

// dialInNetNS opens a TCP connection to addr from inside the named
// network namespace.
func dialInNetNS(ctx context.Context, ns, addr string) (net.Conn, error) {
	return nsnet.Dial(ctx, ns, "tcp", addr, connectTimeout)
}

// sqlClient opens connections to the lab's nodes from one client namespace.
type sqlClient struct {
	network        string
	user, password string
	addrs          map[string]netip.Addr
}

// newSQLClient prepares connections as the writer user from the client
// namespace client (created if the lab lacks it).
func newSQLClient(ctx context.Context, l *lab.Lab, client string) (*sqlClient, error) {
	s, err := l.State()
	if err != nil {
		return nil, err
	}
	ns := ""
	for _, c := range s.Clients {
		if c.Name == client {
			ns = c.NetNS
		}
	}
	if ns == "" {
		if _, err := l.Client(ctx, client); err != nil {
			return nil, fmt.Errorf("lab client %s: %w", client, err)
		}
		if s, err = l.State(); err != nil {
			return nil, err
		}
		for _, c := range s.Clients {
			if c.Name == client {
				ns = c.NetNS
			}
		}
	}
	if len(s.Nodes) == 0 {
		return nil, fmt.Errorf("lab %s has no nodes", s.Name)
	}
	user, password, err := WriterCredentials(l, s.Nodes[0].Name)
	if err != nil {
		return nil, err
	}
	c := &sqlClient{network: netnsNetwork(ns), user: user, password: password, addrs: map[string]netip.Addr{}}
	for _, n := range s.Nodes {
		c.addrs[n.Name] = n.Addr
	}
	return c, nil
}

// firstClient is the lab's first client namespace, or DefaultClient.
func firstClient(l *lab.Lab) string {
	if s, err := l.State(); err == nil && len(s.Clients) > 0 {
		return s.Clients[0].Name
	}
	return DefaultClient
}

// open returns a pool of at most one connection to node's server, in
// database test, with short timeouts. syncWait makes reads wait until the
// node applied every write set committed in the cluster before the read.
func (c *sqlClient) open(node string, syncWait bool) (*sql.DB, error) {
	addr, ok := c.addrs[node]
	if !ok {
		return nil, fmt.Errorf("no node %q", node)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = c.user, c.password
	cfg.Net = c.network
	cfg.Addr = netip.AddrPortFrom(addr, Port).String()
	cfg.DBName = "test"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = connectTimeout, ioTimeout, ioTimeout
	cfg.InterpolateParams = true
	cfg.Logger = mysql.Logger(log.New(io.Discard, "", 0))
	if syncWait {
		cfg.Params = map[string]string{"wsrep_sync_wait": strconv.Itoa(1)}
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("connector for %s: %w", node, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db, nil
}
