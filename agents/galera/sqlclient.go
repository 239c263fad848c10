package galera

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/goha-ha/goha/internal/mariadb"
)

// Client talks to the local server over its unix socket with the MySQL
// protocol, in-process: a monitor forks no mysql client, and credentials
// never appear on a command line.
type Client struct {
	Socket string
	Creds  mariadb.Credentials
}

func (c Client) open() (*sql.DB, error) { return mariadb.Connect(c.Socket, c.Creds) }

// wsrepQueried lists the status variables ParseWsrep reads; asking for
// these alone keeps a monitor's reply small.
const wsrepQueried = "('wsrep_ready', 'wsrep_cluster_status', 'wsrep_local_state', 'wsrep_local_state_comment', " +
	"'wsrep_local_state_uuid', 'wsrep_cluster_state_uuid', 'wsrep_last_committed', 'wsrep_cluster_size')"

// Wsrep reads the wsrep status variables.
func (c Client) Wsrep(ctx context.Context) (Wsrep, error) {
	db, err := c.open()
	if err != nil {
		return Wsrep{}, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN "+wsrepQueried)
	if err != nil {
		return Wsrep{}, fmt.Errorf("query wsrep status on %s: %w", c.Socket, err)
	}
	defer rows.Close()
	vars := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return Wsrep{}, fmt.Errorf("read wsrep status: %w", err)
		}
		vars[strings.ToLower(k)] = v
	}
	if err := rows.Err(); err != nil {
		return Wsrep{}, fmt.Errorf("read wsrep status: %w", err)
	}
	return ParseWsrep(vars)
}

// WriteCheck writes a row for node into database.galera_check and reads it
// back with wsrep_sync_wait on, proving that the node takes and replicates
// writes (OCF_CHECK_LEVEL 10). The table is the agent's own.
func (c Client) WriteCheck(ctx context.Context, database, node string) error {
	if !identifier(database) {
		return fmt.Errorf("check database %q is not a plain identifier", database)
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.Socket, err)
	}
	defer conn.Close()
	token := time.Now().UnixNano()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS `" + database + "`",
		"CREATE TABLE IF NOT EXISTS `" + database + "`.galera_check (node VARCHAR(255) PRIMARY KEY, token BIGINT NOT NULL, at TIMESTAMP(6) NOT NULL) ENGINE=InnoDB",
		"SET SESSION wsrep_sync_wait = 1",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("write check: %s: %w", strings.Fields(q)[0], err)
		}
	}
	if _, err := conn.ExecContext(ctx, "REPLACE INTO `"+database+"`.galera_check (node, token, at) VALUES (?, ?, NOW(6))", node, token); err != nil {
		return fmt.Errorf("write check row: %w", err)
	}
	var got int64
	if err := conn.QueryRowContext(ctx, "SELECT token FROM `"+database+"`.galera_check WHERE node = ?", node).Scan(&got); err != nil {
		return fmt.Errorf("read check row back: %w", err)
	}
	if got != token {
		return fmt.Errorf("read back token %d, wrote %d", got, token)
	}
	return nil
}

// identifier reports whether s can be quoted as a database name as is.
func identifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
