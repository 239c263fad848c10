package mariadb

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/goha-ha/goha/ocf"
)

// Names of the parameters that describe the server process; the database
// agents declare them alike (names and defaults of ocf:heartbeat:mysql and
// ocf:heartbeat:galera).
const (
	ParamBinary       = "binary"
	ParamClientBinary = "client_binary"
	ParamConfig       = "config"
	ParamDatadir      = "datadir"
	ParamUser         = "user"
	ParamGroup        = "group"
	ParamLog          = "log"
	ParamPid          = "pid"
	ParamSocket       = "socket"
	ParamExtra        = "additional_parameters"
)

// ServerParams declares the server-process parameters.
func ServerParams() []ocf.Param {
	return []ocf.Param{
		{
			Name: ParamBinary, Default: "/usr/sbin/mariadbd",
			Short: "Server binary",
			Long: "The MariaDB or MySQL server binary (mariadbd or mysqld). mysqld_safe is refused: it " +
				"restarts a killed server by itself, which hides a crash from the cluster.",
			Check: func(v string) error {
				if b := filepath.Base(v); b == "mysqld_safe" || b == "mariadbd-safe" {
					return fmt.Errorf("%s restarts the server behind Pacemaker's back; use mariadbd or mysqld", v)
				}
				return nil
			},
		},
		{
			Name: ParamClientBinary, Default: "mariadb",
			Short: "Client binary (unused)",
			Long: "Accepted so that configurations written for the ClusterLabs agents validate. The agent " +
				"speaks the MySQL protocol itself and runs no client.",
		},
		{
			Name: ParamConfig, Default: "/etc/mysql/my.cnf",
			Short: "Server configuration file",
			Long:  "Passed to the server as --defaults-file; empty uses the server's default search path.",
		},
		{Name: ParamDatadir, Default: "/var/lib/mysql", Short: "Data directory", Long: "The server's data directory."},
		{Name: ParamUser, Default: "mysql", Short: "User the server runs as", Long: "Passed to the server as --user."},
		{Name: ParamGroup, Default: "mysql", Short: "Group of the server's directories", Long: "The group given to the socket and pid directories the agent creates."},
		{Name: ParamLog, Default: "/var/log/mysql/error.log", Short: "Server error log", Long: "Passed as --log-error; exit reasons quote its last lines when the server fails to start."},
		{Name: ParamPid, Default: "/run/mysqld/mysqld.pid", Short: "Server pid file", Long: "Passed as --pid-file."},
		{Name: ParamSocket, Default: "/run/mysqld/mysqld.sock", Short: "Server unix socket", Long: "Passed as --socket; monitor connects to it."},
		{
			Name:  ParamExtra,
			Short: "Additional server parameters",
			Long: "Extra arguments for the server, separated by spaces (no shell quoting: each word is " +
				"one argument), e.g. \"--innodb-buffer-pool-size=1G\".",
		},
	}
}

// ServerOf is the Server the parameters describe; port is the TCP port
// only this server listens on (0 for none).
func ServerOf(v *ocf.Values, port int) Server {
	return Server{
		Binary:  v.String(ParamBinary),
		Config:  v.String(ParamConfig),
		Datadir: v.String(ParamDatadir),
		User:    v.String(ParamUser),
		Group:   v.String(ParamGroup),
		Log:     v.String(ParamLog),
		PidFile: v.String(ParamPid),
		Socket:  v.String(ParamSocket),
		Extra:   strings.Fields(v.String(ParamExtra)),
		Port:    port,
	}
}
