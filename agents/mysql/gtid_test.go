package mysql

import "testing"

func TestGTIDMissing(t *testing.T) {
	const a = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	const b = "4e11fa47-71ca-11e1-9e33-c80aa9429562"
	for _, tc := range []struct {
		name, have, other string
		missing           string
		diverged          bool
	}{
		{"both empty", "", "", "", false},
		{"mariadb equal", "0-1-100", "0-1-100", "", false},
		{"mariadb behind", "0-1-90", "0-1-100", "", false},
		{"mariadb ahead", "0-1-105", "0-1-100", "0:101-105", false},
		{"mariadb ahead by one", "0-1-101", "0-1-100", "0:101", false},
		{"mariadb new writer continued the sequence", "0-1-100", "0-2-150", "", false},
		{"mariadb same seq other server", "0-1-100", "0-2-100", "", true},
		{"mariadb domain the other lacks", "0-1-10,1-2-3", "0-1-10", "1:1-3", false},
		{"mariadb other empty", "0-1-3", "", "0:1-3", false},
		{"mysql equal", a + ":1-10", a + ":1-10", "", false},
		{"mysql hole", a + ":1-10", a + ":1-4:6-10", a + ":5", false},
		{"mysql errant uuid", a + ":1-10," + b + ":1-2", a + ":1-10", b + ":1-2", false},
		{"mysql merged intervals", a + ":1-3:4-6", a + ":1-6", "", false},
		{"mysql newline separated", a + ":1-3,\n" + b + ":1", a + ":1-3," + b + ":1", "", false},
		{"mysql tagged equal", a + ":1-3:Job:1-2", a + ":1-3:job:1-2", "", false},
		{"mysql tagged lacking", a + ":1-3:job:1-2", a + ":1-3", a + ":job:1-2", false},
		{"mysql tag is its own source", a + ":1-3", a + ":job:1-3", a + ":1-3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			have, err := ParseGTIDSet(tc.have)
			if err != nil {
				t.Fatal(err)
			}
			other, err := ParseGTIDSet(tc.other)
			if err != nil {
				t.Fatal(err)
			}
			missing, diverged := have.Missing(other)
			if missing != tc.missing || diverged != tc.diverged {
				t.Errorf("Missing = %q, %v; want %q, %v", missing, diverged, tc.missing, tc.diverged)
			}
			if holds := other.Holds(have); holds != (tc.missing == "" && !tc.diverged) {
				t.Errorf("Holds = %v", holds)
			}
		})
	}
}

func TestParseGTIDSetRejects(t *testing.T) {
	for _, bad := range []string{"0-1", "a-b-c", "0-1-2,0-1-3", "short:1-2", "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3", "3e11fa47-71ca-11e1-9e33-c80aa9429562:0", "3e11fa47-71ca-11e1-9e33-c80aa9429562:job", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1:job:x-y"} {
		if _, err := ParseGTIDSet(bad); err == nil {
			t.Errorf("ParseGTIDSet(%q) accepted", bad)
		}
	}
}

func TestGTIDCount(t *testing.T) {
	g, err := ParseGTIDSet("0-1-100,1-1-5")
	if err != nil || g.Count() != 105 || g.Empty() {
		t.Errorf("Count = %d, %v", g.Count(), err)
	}
}

func FuzzParseGTIDSet(f *testing.F) {
	for _, s := range []string{"", "0-1-100", "0-1-1,1-2-3", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGTIDSet(s)
		if err != nil {
			return
		}
		// A set holds itself and lacks nothing of itself.
		if m, d := g.Missing(g); m != "" || d {
			t.Errorf("%q misses %q of itself (diverged %v)", s, m, d)
		}
	})
}
