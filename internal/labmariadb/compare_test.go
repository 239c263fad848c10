package labmariadb

import (
	"reflect"
	"strings"
	"testing"
)

func TestMissing(t *testing.T) {
	tests := []struct {
		name    string
		acked   []int64
		present []int64
		want    []int64
	}{
		{"all there", []int64{1, 2, 3}, []int64{1, 2, 3, 4}, nil},
		{"uncertain extra rows are fine", []int64{2}, []int64{1, 2, 3}, nil},
		{"one lost", []int64{1, 2, 3}, []int64{1, 3}, []int64{2}},
		{"sorted out of order input", []int64{9, 4, 7}, []int64{7}, []int64{4, 9}},
		{"nothing present", []int64{5, 6}, nil, []int64{5, 6}},
		{"nothing acked", nil, []int64{1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			present := map[int64]bool{}
			for _, id := range tt.present {
				present[id] = true
			}
			if got := Missing(tt.acked, present); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Missing = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNotEverywhere(t *testing.T) {
	got := NotEverywhere(map[string][]int64{
		"n1": {1, 2, 3, 5},
		"n2": {1, 2, 3},
		"n3": {1, 3, 4},
	})
	want := []IDHolders{
		{ID: 2, Nodes: []string{"n1", "n2"}},
		{ID: 4, Nodes: []string{"n3"}},
		{ID: 5, Nodes: []string{"n1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NotEverywhere = %+v, want %+v", got, want)
	}
	if got := NotEverywhere(map[string][]int64{"n1": {1, 2}, "n2": {2, 1}}); len(got) != 0 {
		t.Errorf("identical sets: %+v, want none", got)
	}
}

func TestDigestsDiffer(t *testing.T) {
	same := map[string]Digest{"n1": {10, 0xabc}, "n2": {10, 0xabc}, "n3": {10, 0xabc}}
	if d := DigestsDiffer(same); d != "" {
		t.Errorf("equal digests reported as %q", d)
	}
	tests := []struct {
		name string
		d    map[string]Digest
		want []string
	}{
		{"count differs", map[string]Digest{"n1": {10, 0xabc}, "n2": {10, 0xabc}, "n3": {9, 0xab0}},
			[]string{"n1,n2: 10 rows, checksum 00000abc", "n3: 9 rows, checksum 00000ab0"}},
		{"same count, different rows", map[string]Digest{"n1": {10, 1}, "n2": {10, 2}},
			[]string{"n1: 10 rows, checksum 00000001", "n2: 10 rows, checksum 00000002"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DigestsDiffer(tt.d)
			if got != strings.Join(tt.want, "; ") {
				t.Errorf("DigestsDiffer = %q, want %q", got, strings.Join(tt.want, "; "))
			}
		})
	}
}

func TestFormatIDs(t *testing.T) {
	tests := []struct {
		ids   []int64
		limit int
		want  string
	}{
		{nil, 5, "none"},
		{[]int64{7}, 5, "7 (1 ids)"},
		{[]int64{4, 1, 2, 3, 7, 9, 10}, 5, "1-4, 7, 9-10 (7 ids)"},
		{[]int64{1, 3, 5, 7}, 2, "1, 3, … (4 ids)"},
	}
	for _, tt := range tests {
		if got := FormatIDs(tt.ids, tt.limit); got != tt.want {
			t.Errorf("FormatIDs(%v, %d) = %q, want %q", tt.ids, tt.limit, got, tt.want)
		}
	}
}
