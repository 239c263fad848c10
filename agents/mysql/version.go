package mysql

import (
	"regexp"
	"strconv"
)

// ServerVersion is what `mariadbd --version` or `mysqld --version` says.
type ServerVersion struct {
	MariaDB             bool
	Major, Minor, Patch int
}

var versionRE = regexp.MustCompile(`Ver (\d+)\.(\d+)\.(\d+)(\S*)`)

// ParseServerVersion reads the first "Ver X.Y.Z" of a --version line; ok is
// false when there is none.
func ParseServerVersion(out string) (v ServerVersion, ok bool) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return v, false
	}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	v.MariaDB = regexp.MustCompile(`(?i)mariadb`).MatchString(out)
	return v, true
}

// DropsUnacknowledged reports whether the server takes --init-rpl-role,
// with which crash recovery drops the commits no replica acknowledged
// (MariaDB 10.6.19, 10.11.9, 11.1.6, 11.2.5, 11.4.3 and later releases).
func (v ServerVersion) DropsUnacknowledged() bool {
	if !v.MariaDB {
		return false
	}
	first := map[[2]int]int{{10, 6}: 19, {10, 11}: 9, {11, 1}: 6, {11, 2}: 5, {11, 4}: 3}
	if p, ok := first[[2]int{v.Major, v.Minor}]; ok {
		return v.Patch >= p
	}
	return v.Major > 11 || (v.Major == 11 && v.Minor > 4)
}
