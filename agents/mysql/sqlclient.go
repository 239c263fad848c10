package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/goha-ha/goha/internal/mariadb"
)

// server is the local server as the actions talk to it, over its unix
// socket with the MySQL protocol: no forked client, no password on a
// command line.
type server struct {
	db      *sql.DB
	mariaDB bool // MariaDB rather than MySQL: which statements and variables
	// positioning is how this server's replication is positioned, chosen
	// by the agent once connected.
	positioning Positioning
}

// connect opens the local server and learns its flavour.
func connect(ctx context.Context, socket string, c mariadb.Credentials) (*server, error) {
	db, err := mariadb.Connect(socket, c)
	if err != nil {
		return nil, err
	}
	var version string
	if err := db.QueryRowContext(ctx, "SELECT @@version").Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", socket, err)
	}
	return &server{db: db, mariaDB: strings.Contains(strings.ToLower(version), "mariadb")}, nil
}

func (s *server) Close() error { return s.db.Close() }

// binlogQuery reads every transaction a server holds.
func binlogQuery(mariaDB bool) string {
	if mariaDB {
		return "SELECT @@gtid_binlog_pos"
	}
	return "SELECT @@gtid_executed"
}

// observe reads read_only, the server's GTID set and its replica status.
func (s *server) observe(ctx context.Context) (Observed, error) {
	var o Observed
	var readOnly int
	if err := s.db.QueryRowContext(ctx, "SELECT @@read_only").Scan(&readOnly); err != nil {
		return o, fmt.Errorf("read read_only: %w", err)
	}
	o.ReadOnly = readOnly != 0
	var pos string
	if err := s.db.QueryRowContext(ctx, binlogQuery(s.mariaDB)).Scan(&pos); err != nil {
		return o, fmt.Errorf("read GTID position: %w", err)
	}
	var err error
	if o.Binlog, err = ParseGTIDSet(pos); err != nil {
		return o, err
	}
	row, err := s.replicaStatus(ctx)
	if err != nil {
		return o, err
	}
	o.Replica = ParseReplicaStatus(row)
	return o, nil
}

// replicaStatus is SHOW REPLICA STATUS as column name to value; empty
// when no source is configured.
func (s *server) replicaStatus(ctx context.Context) (map[string]string, error) {
	row, err := firstRow(ctx, s.db, "SHOW REPLICA STATUS")
	if err != nil {
		return nil, fmt.Errorf("show replica status: %w", err)
	}
	return row, nil
}

// firstRow runs a SHOW statement and returns its first row as column name
// to value (NULL as "NULL"); empty when there is no row.
func firstRow(ctx context.Context, db *sql.DB, query string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if !rows.Next() {
		return out, rows.Err()
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, c := range cols {
		if vals[i] == nil {
			out[c] = "NULL"
			continue
		}
		out[c] = string(vals[i])
	}
	return out, rows.Err()
}

// binlogEnd is where the server's binary log ends now: where a replica
// that starts following it with file positioning begins.
func binlogEnd(ctx context.Context, db *sql.DB, mariaDB bool) (BinlogCoordinates, error) {
	queries := []string{"SHOW MASTER STATUS"}
	if !mariaDB {
		// MySQL 8.2 renamed the statement; 8.4 dropped the old name.
		queries = []string{"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"}
	}
	var err error
	for _, q := range queries {
		var row map[string]string
		if row, err = firstRow(ctx, db, q); err != nil {
			continue
		}
		if row["File"] == "" {
			return BinlogCoordinates{}, fmt.Errorf("%s: no binary log (log_bin is off)", strings.ToLower(q))
		}
		return ParseCoordinates(row["File"] + ":" + row["Position"])
	}
	return BinlogCoordinates{}, fmt.Errorf("read the binary log's end: %w", err)
}

// gtidMode is MySQL's gtid_mode; MariaDB has GTIDs always and says "ON".
func (s *server) gtidMode(ctx context.Context) (string, error) {
	if s.mariaDB {
		return "ON", nil
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "SELECT @@gtid_mode").Scan(&mode); err != nil {
		return "", fmt.Errorf("read gtid_mode: %w", err)
	}
	return mode, nil
}

// ParseReplicaStatus reads one row of SHOW REPLICA STATUS, in MariaDB's
// column names (Slave_*, Master_*) or MySQL 8's (Replica_*, Source_*).
func ParseReplicaStatus(row map[string]string) Replica {
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := row[n]; ok {
				return v
			}
		}
		return ""
	}
	num := func(names ...string) int64 {
		n, err := strconv.ParseInt(get(names...), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	r := Replica{
		Source:     get("Master_Host", "Source_Host"),
		IORunning:  get("Slave_IO_Running", "Replica_IO_Running"),
		SQLRunning: get("Slave_SQL_Running", "Replica_SQL_Running") == "Yes",
		IOErrno:    int(max(num("Last_IO_Errno"), 0)),
		IOError:    get("Last_IO_Error"),
		SQLErrno:   int(max(num("Last_SQL_Errno"), 0)),
		SQLError:   get("Last_SQL_Error"),
		Lag:        num("Seconds_Behind_Master", "Seconds_Behind_Source"),
	}
	readFile, execFile := get("Master_Log_File", "Source_Log_File"), get("Relay_Master_Log_File", "Relay_Source_Log_File")
	readPos, execPos := num("Read_Master_Log_Pos", "Read_Source_Log_Pos"), num("Exec_Master_Log_Pos", "Exec_Source_Log_Pos")
	r.RelayApplied = readFile == execFile && readPos == execPos && readPos >= 0
	if !r.RelayApplied && r.SQLRunning {
		// MySQL's multi-threaded applier (replica_parallel_workers=4 by
		// default since 8.0.27) moves Exec_Source_Log_Pos only at its
		// checkpoints, every replica_checkpoint_period (300 ms), so the
		// coordinates lag what is committed. With GTIDs the row says
		// exactly: everything received is applied when the retrieved set
		// is within the executed one.
		retrieved, err1 := ParseGTIDSet(get("Retrieved_Gtid_Set"))
		executed, err2 := ParseGTIDSet(get("Executed_Gtid_Set"))
		if err1 == nil && err2 == nil && len(retrieved.ranges) > 0 {
			missing, _ := retrieved.Missing(executed)
			r.RelayApplied = missing == ""
		}
	}
	if execFile != "" && execPos >= 0 {
		r.Executed = BinlogCoordinates{File: execFile, Pos: execPos}
	}
	return r
}

// sourceView is what a replica learns by asking its source.
type sourceView struct {
	Binlog   GTIDSet
	Writable bool
	End      *BinlogCoordinates // asked for with file positioning only
}

// askSource asks the server at addr (host:port), as the replication user,
// for every transaction it holds, whether it is writable and, with
// withEnd, where its binary log ends.
func askSource(ctx context.Context, addr string, c mariadb.Credentials, mariaDB, withEnd bool) (sourceView, error) {
	var v sourceView
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.User = c.User
	cfg.Passwd = c.Password
	cfg.Timeout = time.Second
	cfg.ReadTimeout = 2 * time.Second
	cfg.WriteTimeout = 2 * time.Second
	cfg.AllowNativePasswords = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return v, err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var pos string
	var readOnly int
	if err := db.QueryRowContext(ctx, binlogQuery(mariaDB)+", @@read_only").Scan(&pos, &readOnly); err != nil {
		return v, fmt.Errorf("ask %s for its GTID position: %w", addr, err)
	}
	if v.Binlog, err = ParseGTIDSet(pos); err != nil {
		return v, err
	}
	v.Writable = readOnly == 0
	if withEnd {
		end, err := binlogEnd(ctx, db, mariaDB)
		if err != nil {
			return v, fmt.Errorf("ask %s: %w", addr, err)
		}
		v.End = &end
	}
	return v, nil
}

// setReadOnly switches writes off or on; MySQL's super_read_only too, so
// that no administrative session writes on a replica either.
func (s *server) setReadOnly(ctx context.Context, on bool) error {
	stmts := []string{"SET GLOBAL read_only = OFF"}
	if on {
		stmts = []string{"SET GLOBAL read_only = ON"}
	}
	if !s.mariaDB {
		if on {
			stmts = []string{"SET GLOBAL super_read_only = ON"}
		} else {
			stmts = []string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}
		}
	}
	return s.exec(ctx, stmts...)
}

// Replication is where a server replicates from.
type Replication struct {
	Host  string
	Port  int
	Creds mariadb.Credentials
}

// replicateFrom points the replication threads at r and starts them: with
// GTID positioning when at is zero, else from those coordinates in the
// source's binary log.
func (s *server) replicateFrom(ctx context.Context, r Replication, at BinlogCoordinates) error {
	if s.mariaDB {
		position := "MASTER_USE_GTID = current_pos"
		if !at.IsZero() {
			position = fmt.Sprintf("MASTER_USE_GTID = no, MASTER_LOG_FILE = %s, MASTER_LOG_POS = %d", quote(at.File), at.Pos)
		}
		return s.exec(ctx,
			"STOP SLAVE",
			fmt.Sprintf("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %d, MASTER_USER = %s, MASTER_PASSWORD = %s, "+
				"%s, MASTER_CONNECT_RETRY = 1",
				quote(r.Host), r.Port, quote(r.Creds.User), quote(r.Creds.Password), position),
			"START SLAVE")
	}
	// MySQL 8.4 lowered the default SOURCE_RETRY_COUNT to 10: with one
	// attempt a second, a replica whose source is down for ten seconds
	// would stop its IO thread for good. A day of retries, as MariaDB.
	position := "SOURCE_AUTO_POSITION = 1"
	if !at.IsZero() {
		position = fmt.Sprintf("SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = %s, SOURCE_LOG_POS = %d", quote(at.File), at.Pos)
	}
	return s.exec(ctx,
		"STOP REPLICA",
		fmt.Sprintf("CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s, SOURCE_PORT = %d, SOURCE_USER = %s, SOURCE_PASSWORD = %s, "+
			"%s, SOURCE_CONNECT_RETRY = 1, SOURCE_RETRY_COUNT = 86400, GET_SOURCE_PUBLIC_KEY = 1",
			quote(r.Host), r.Port, quote(r.Creds.User), quote(r.Creds.Password), position),
		"START REPLICA")
}

// startReplica starts the configured replication threads.
func (s *server) startReplica(ctx context.Context) error {
	if s.mariaDB {
		return s.exec(ctx, "START SLAVE")
	}
	return s.exec(ctx, "START REPLICA")
}

// setSemiSync turns the writer's side of semi-synchronous replication on
// (waiting for the replica after the binlog is synced, before the engine
// commits) or off. MariaDB has it built in.
func (s *server) setSemiSync(ctx context.Context, writer bool, timeoutMS int64) error {
	if !s.mariaDB {
		return fmt.Errorf("semi_sync needs MariaDB (MySQL's semi-sync plugins are not loaded by this agent)")
	}
	if !writer {
		return s.exec(ctx, "SET GLOBAL rpl_semi_sync_master_enabled = OFF")
	}
	// wait_no_slave OFF: with no replica connected at all (it crashed,
	// or is being fenced) a commit does not wait for the timeout, since
	// no acknowledgement can come; a replica that is connected but slow
	// or cut off is still waited for.
	return s.exec(ctx,
		"SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC",
		fmt.Sprintf("SET GLOBAL rpl_semi_sync_master_timeout = %d", timeoutMS),
		"SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF",
		"SET GLOBAL rpl_semi_sync_master_enabled = ON")
}

// dropReplicaConnections ends the connections replicas hold to this
// server to read its binary log. A new writer does this before it takes
// writes: a replica that vanished behind a partition leaves its connection
// looking alive until TCP gives up, and semi-sync would wait for that
// replica's acknowledgement on every commit until semi_sync_timeout. A
// live replica reconnects within a second (MASTER_CONNECT_RETRY = 1).
func (s *server) dropReplicaConnections(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
	if err != nil {
		return 0, fmt.Errorf("list replica connections: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		// The connection may end by itself meanwhile: not an error.
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
			n++
		}
	}
	return n, rows.Err()
}

// binlogEnabled reports whether log_bin and log_slave_updates are on, which
// master-master replication with GTIDs needs.
func (s *server) binlogEnabled(ctx context.Context) (bool, error) {
	var logBin, slaveUpdates int
	q := "SELECT @@log_bin, @@log_slave_updates"
	if !s.mariaDB {
		q = "SELECT @@log_bin, @@log_replica_updates"
	}
	if err := s.db.QueryRowContext(ctx, q).Scan(&logBin, &slaveUpdates); err != nil {
		return false, fmt.Errorf("read log_bin: %w", err)
	}
	return logBin != 0 && slaveUpdates != 0, nil
}

// countRows reads table, for OCF_CHECK_LEVEL=10.
func (s *server) countRows(ctx context.Context, table string) error {
	var n int64
	return s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
}

func (s *server) exec(ctx context.Context, stmts ...string) error {
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", redactPassword(q), err)
		}
	}
	return nil
}

// quote makes s a SQL string literal (the server's default escaping).
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}

var passwordClause = regexp.MustCompile(`(PASSWORD = )'(?:[^'\\]|\\.)*'`)

// redactPassword keeps a replication password out of error messages.
func redactPassword(q string) string { return passwordClause.ReplaceAllString(q, "$1'***'") }

var tableName = regexp.MustCompile(`^[A-Za-z0-9_$]+(\.[A-Za-z0-9_$]+)?$`)

// checkTableName accepts db.table or table made of plain identifier
// characters, so the name can go into a query unquoted.
func checkTableName(v string) error {
	if !tableName.MatchString(v) {
		return fmt.Errorf("is not a plain [database.]table name")
	}
	return nil
}

// hostPort joins a host and port, bracketing IPv6 literals.
func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
