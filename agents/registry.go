// Package agents lists goha's resource agents. The multi-call binary, the
// packaging (one symlink per agent) and the man pages all read this list.
package agents

import (
	"sort"

	"github.com/goha-ha/goha/agents/apache"
	"github.com/goha-ha/goha/agents/drbd"
	"github.com/goha-ha/goha/agents/filesystem"
	"github.com/goha-ha/goha/agents/galera"
	"github.com/goha-ha/goha/agents/garbd"
	"github.com/goha-ha/goha/agents/haproxy"
	"github.com/goha-ha/goha/agents/mysql"
	"github.com/goha-ha/goha/agents/osm"
	"github.com/goha-ha/goha/agents/service"
	syncagent "github.com/goha-ha/goha/agents/sync"
	"github.com/goha-ha/goha/agents/vdo"
	"github.com/goha-ha/goha/agents/vip"
	"github.com/goha-ha/goha/ocf"
)

// All returns every agent, sorted by name.
func All() []*ocf.Agent {
	list := []*ocf.Agent{
		apache.Agent(),
		drbd.Agent(),
		filesystem.Agent(),
		galera.Agent(),
		garbd.Agent(),
		haproxy.Agent(),
		mysql.Agent(),
		osm.Agent(),
		service.Agent(),
		syncagent.Agent(),
		vdo.Agent(),
		vip.Agent(),
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// Lookup returns the agent called name, or nil.
func Lookup(name string) *ocf.Agent {
	for _, a := range All() {
		if a.Name == name {
			return a
		}
	}
	return nil
}
