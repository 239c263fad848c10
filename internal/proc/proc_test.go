package proc

import "testing"

func TestStatState(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want byte
		ok   bool
	}{
		{"1234 (garbd) S 1 1234 1234 0 -1", 'S', true},
		{"1234 (odd) name)) Z 1 1234", 'Z', true},
		{"1234 (a b) R 1", 'R', true},
		{"1234 garbd S", 0, false},
		{"1234 (garbd)", 0, false},
	} {
		got, err := StatState([]byte(tc.stat))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("StatState(%q) = %q, %v; want %q ok=%v", tc.stat, got, err, tc.want, tc.ok)
		}
	}
}
