package galera

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/goha-ha/goha/ocf"
)

// fakeAttrs records attribute writes; reads come from vals.
type fakeAttrs struct {
	vals map[string]string // node/name -> value
	ops  []string
}

func (f *fakeAttrs) Get(_ context.Context, node, name string, _ ocf.Lifetime) (string, bool, error) {
	v, ok := f.vals[node+"/"+name]
	return v, ok, nil
}

func (f *fakeAttrs) Set(_ context.Context, node, name, value string, _ ocf.Lifetime) error {
	f.vals[node+"/"+name] = value
	f.ops = append(f.ops, fmt.Sprintf("set %s/%s=%s", node, name, value))
	return nil
}

func (f *fakeAttrs) Delete(_ context.Context, node, name string, _ ocf.Lifetime) error {
	delete(f.vals, node+"/"+name)
	f.ops = append(f.ops, fmt.Sprintf("delete %s/%s", node, name))
	return nil
}

// TestStartPublishes runs start on n2 (its datadir stopped cleanly at seqno
// 50) against a cluster view, and checks what it publishes: its position,
// and scores that it raises for anyone but withdraws only for itself.
func TestStartPublishes(t *testing.T) {
	const pos50 = uuidA + ":50"
	online := func(attrs map[string]string) NodeView { return NodeView{Online: true, Attrs: attrs} }
	promoted := NodeView{Online: true, Promoted: true, Attrs: map[string]string{"master-db": "100"}}
	tests := []struct {
		name      string
		view      map[string]NodeView
		reachable bool
		want      []string
	}{
		{"a peer is joined: n2 may join it",
			map[string]NodeView{"n1": promoted, "n2": online(nil), "n3": promoted}, true,
			[]string{"set n2/db-position=" + pos50, "set n2/master-db=100"}},
		{"the joined peers do not answer: no score, and theirs stay",
			map[string]NodeView{"n1": promoted, "n2": online(map[string]string{"master-db": "100"}), "n3": promoted}, false,
			[]string{"set n2/db-position=" + pos50, "delete n2/master-db"}},
		{"all reported, n3 ahead: n3 gets the bootstrap score, n2 none",
			map[string]NodeView{"n1": online(map[string]string{"db-position": uuidA + ":40"}), "n2": online(nil),
				"n3": online(map[string]string{"db-position": uuidA + ":60"})}, true,
			[]string{"set n2/db-position=" + pos50, "set n3/master-db=1000"}},
		{"n3 unclean: nobody is promotable",
			map[string]NodeView{"n1": online(map[string]string{"db-position": uuidA + ":40"}), "n2": online(nil),
				"n3": {Unclean: true}}, true,
			[]string{"set n2/db-position=" + pos50}},
		{"n3 fenced: n2 is ahead of n1 and bootstraps",
			map[string]NodeView{"n1": online(map[string]string{"db-position": uuidA + ":40"}), "n2": online(nil),
				"n3": {}}, true,
			[]string{"set n2/db-position=" + pos50, "set n2/master-db=1000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			datadir := filepath.Join(dir, "data")
			if err := os.MkdirAll(filepath.Join(datadir, "mysql"), 0o755); err != nil {
				t.Fatal(err)
			}
			grastate := "# GALERA saved state\nversion: 2.1\nuuid: " + uuidA + "\nseqno: 50\nsafe_to_bootstrap: 0\n"
			if err := os.WriteFile(filepath.Join(datadir, "grastate.dat"), []byte(grastate), 0o644); err != nil {
				t.Fatal(err)
			}
			attrs := &fakeAttrs{vals: map[string]string{}}
			a := &actions{
				view: func(context.Context, string) (ClusterView, error) {
					return ClusterView{Nodes: tt.view}, nil
				},
				reachable: func(context.Context, string, int) bool { return tt.reachable },
			}
			t.Setenv("HA_RSCTMP", dir)
			env := []string{
				"OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=db:1", "HA_RSCTMP=" + dir,
				"OCF_RESKEY_CRM_meta_on_node=n2", "OCF_RESKEY_CRM_meta_timeout=20000",
				"OCF_RESKEY_wsrep_cluster_address=gcomm://n1,n2,n3",
				"OCF_RESKEY_datadir=" + datadir, "OCF_RESKEY_binary=/bin/true", "OCF_RESKEY_config=",
				"OCF_RESKEY_socket=" + filepath.Join(dir, "s.sock"), "OCF_RESKEY_pid=" + filepath.Join(dir, "p.pid"),
			}
			var stderr bytes.Buffer
			getenv := func(k string) string {
				for _, kv := range env {
					if len(kv) > len(k) && kv[:len(k)+1] == k+"=" {
						return kv[len(k)+1:]
					}
				}
				return ""
			}
			status := newAgent(a).Run(context.Background(), "start", ocf.System{
				Environ: env, Getenv: getenv, Stdout: &bytes.Buffer{}, Stderr: &stderr, Attrs: attrs,
			})
			if status != ocf.Success {
				t.Fatalf("start: %v\n%s", status, stderr.String())
			}
			got := append([]string(nil), attrs.ops...)
			sort.Strings(got)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("attribute writes %q, want %q\n%s", got, want, stderr.String())
			}
		})
	}
}
