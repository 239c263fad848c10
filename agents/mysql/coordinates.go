package mysql

import (
	"fmt"
	"strconv"
	"strings"
)

// Positioning is how a replica tells its source where to start sending.
type Positioning int

const (
	// PositionGTID: the replica sends the transactions it holds (MariaDB
	// MASTER_USE_GTID=current_pos, MySQL SOURCE_AUTO_POSITION=1), so any
	// server can follow any other and errant transactions show.
	PositionGTID Positioning = iota
	// PositionFile: the replica names a file and offset in the source's
	// binary log, for MySQL servers run without gtid_mode. Coordinates
	// are kept across restarts and published by the writer when it is
	// promoted; errant transactions cannot be seen this way.
	PositionFile
)

func (p Positioning) String() string {
	if p == PositionFile {
		return "file"
	}
	return "gtid"
}

// Values of the replication_positioning parameter.
const (
	positioningAuto = "auto"
	positioningGTID = "gtid"
	positioningFile = "file"
)

// ChoosePositioning picks the positioning for a server from the
// replication_positioning parameter: auto takes GTIDs where the server
// has them (always on MariaDB, with gtid_mode=ON on MySQL) and file
// coordinates elsewhere; gtid on a MySQL server without gtid_mode is a
// configuration error.
func ChoosePositioning(param string, mariaDB bool, gtidMode string) (Positioning, error) {
	hasGTID := mariaDB || strings.EqualFold(gtidMode, "ON")
	switch param {
	case positioningAuto, "":
		if hasGTID {
			return PositionGTID, nil
		}
		return PositionFile, nil
	case positioningGTID:
		if !hasGTID {
			return PositionGTID, fmt.Errorf("is gtid but the server runs with gtid_mode=%s: set gtid_mode=ON (and enforce_gtid_consistency) or use file", gtidMode)
		}
		return PositionGTID, nil
	case positioningFile:
		return PositionFile, nil
	}
	return PositionGTID, fmt.Errorf("is %q: want auto, gtid or file", param)
}

// BinlogCoordinates is a place in one server's binary log: a file and the
// offset of the next event in it, as SHOW MASTER STATUS gives them and
// CHANGE MASTER TO MASTER_LOG_FILE, MASTER_LOG_POS takes them.
type BinlogCoordinates struct {
	File string
	Pos  int64
}

// IsZero reports whether no place is named.
func (c BinlogCoordinates) IsZero() bool { return c.File == "" }

// String is file:offset, the form the agent publishes in a node attribute.
func (c BinlogCoordinates) String() string { return c.File + ":" + strconv.FormatInt(c.Pos, 10) }

// ParseCoordinates reads file:offset.
func ParseCoordinates(s string) (BinlogCoordinates, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return BinlogCoordinates{}, fmt.Errorf("binary log coordinates %q: want file:offset", s)
	}
	pos, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || pos < 4 {
		return BinlogCoordinates{}, fmt.Errorf("binary log coordinates %q: offset is not a number of 4 or more", s)
	}
	file := s[:i]
	if strings.ContainsAny(file, "/\\'\"\x00\n") {
		return BinlogCoordinates{}, fmt.Errorf("binary log coordinates %q: not a binary log file name", s)
	}
	return BinlogCoordinates{File: file, Pos: pos}, nil
}

// Before reports whether c lies before d in the same server's binary log.
// Files of one log share a base name and differ in a numbered extension
// (mysql-bin.000009, then mysql-bin.000010), compared as numbers.
func (c BinlogCoordinates) Before(d BinlogCoordinates) bool {
	if c.File == d.File {
		return c.Pos < d.Pos
	}
	cb, cn := splitLogName(c.File)
	db, dn := splitLogName(d.File)
	if cb == db && cn >= 0 && dn >= 0 {
		return cn < dn
	}
	return c.File < d.File
}

// splitLogName splits a binary log file name into its base and number; -1
// when the extension is not a number.
func splitLogName(name string) (string, int64) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, -1
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 64)
	if err != nil {
		return name, -1
	}
	return name[:i], n
}
