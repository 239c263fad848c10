package lab

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestPartitionPlan(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	members := []Member{
		{Name: "n1", Addr: a("10.0.0.1")},
		{Name: "n2", Addr: a("10.0.0.2")},
		{Name: "n3", Addr: a("10.0.0.3")},
		{Name: "c1", Addr: a("10.0.0.101")},
	}
	tests := []struct {
		name    string
		groups  [][]string
		want    map[string][]netip.Addr
		wantErr bool
	}{
		{
			name:   "isolate one node",
			groups: [][]string{{"n1"}},
			want: map[string][]netip.Addr{
				"n1": {a("10.0.0.2"), a("10.0.0.3"), a("10.0.0.101")},
				"n2": {a("10.0.0.1")},
				"n3": {a("10.0.0.1")},
				"c1": {a("10.0.0.1")},
			},
		},
		{
			name:   "two named groups, client with the rest",
			groups: [][]string{{"n1", "n2"}, {"n3"}},
			want: map[string][]netip.Addr{
				"n1": {a("10.0.0.3"), a("10.0.0.101")},
				"n2": {a("10.0.0.3"), a("10.0.0.101")},
				"n3": {a("10.0.0.1"), a("10.0.0.2"), a("10.0.0.101")},
				"c1": {a("10.0.0.1"), a("10.0.0.2"), a("10.0.0.3")},
			},
		},
		{
			name:   "everyone in one group blocks nothing",
			groups: [][]string{{"n1", "n2", "n3", "c1"}},
			want:   map[string][]netip.Addr{},
		},
		{name: "unknown member", groups: [][]string{{"n9"}}, wantErr: true},
		{name: "member in two groups", groups: [][]string{{"n1"}, {"n1", "n2"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PartitionPlan(members, tt.groups)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestNftRules(t *testing.T) {
	heal := NftRules(nil)
	if strings.Contains(heal, "drop") || !strings.Contains(heal, "delete table inet goha_lab") {
		t.Errorf("heal rules:\n%s", heal)
	}
	r := NftRules([]netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")})
	for _, w := range []string{
		"delete table inet goha_lab\n",
		"hook input", "ip saddr { 10.0.0.2, 10.0.0.3 } drop",
		"hook output", "ip daddr { 10.0.0.2, 10.0.0.3 } drop",
	} {
		if !strings.Contains(r, w) {
			t.Errorf("missing %q in:\n%s", w, r)
		}
	}
	if strings.Count(r, "{") != strings.Count(r, "}") {
		t.Errorf("unbalanced braces:\n%s", r)
	}
}
