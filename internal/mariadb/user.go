package mariadb

import (
	"os/user"
	"strconv"
)

// LookupUser resolves the server's user and group to ids, for the
// directories an agent creates on its behalf.
func LookupUser(name, group string) (uid, gid int, ok bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, false
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if group != "" {
		if g, err := user.LookupGroup(group); err == nil {
			gid, err2 = strconv.Atoi(g.Gid)
		}
	}
	return uid, gid, err1 == nil && err2 == nil
}
