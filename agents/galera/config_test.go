package galera

import (
	"reflect"
	"testing"

	"github.com/goha-ha/goha/internal/mariadb"
)

func TestClusterHosts(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{"gcomm://n1,n2,n3", []string{"n1", "n2", "n3"}, false},
		{"gcomm://db1:4567,db2:4567?gmcast.segment=1", []string{"db1", "db2"}, false},
		{"gcomm://[fd00::1]:4567,fd00::2", []string{"fd00::1", "fd00::2"}, false},
		{"gcomm://a, b ,a", []string{"a", "b"}, false},
		{"gcomm://", nil, true},
		{"n1,n2", nil, true},
		{"gcomm://[fd00::1", nil, true},
		{"gcomm://:4567", nil, true},
	}
	for _, tt := range tests {
		got, err := ClusterHosts(tt.in)
		if (err != nil) != tt.bad || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ClusterHosts(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestHostMap(t *testing.T) {
	m, err := mariadb.ParseHostMap("pcmk1:db1; pcmk2:db2;")
	if err != nil {
		t.Fatal(err)
	}
	// db10 must not be taken for db1: whole names only.
	got, err := Members("gcomm://db1,db2:4568,db10,[fd00::9]:5000", m)
	want := []Member{{"db10", "db10", 4567}, {"fd00::9", "fd00::9", 5000}, {"pcmk1", "db1", 4567}, {"pcmk2", "db2", 4568}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Members = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"pcmk1", "pcmk1:", ":db1", "a:b;a:c"} {
		if _, err := mariadb.ParseHostMap(bad); err == nil {
			t.Errorf("mariadb.ParseHostMap(%q) accepted", bad)
		}
	}
}
