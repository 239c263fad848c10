package grastate

import (
	"strings"
	"testing"
)

const uuidA = "6f5e3c1a-0b2d-11ef-8a1e-2a6f1c1d3e4f"

func TestParseGrastate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Position
		err  string
	}{
		{"clean stop", "# GALERA saved state\nversion: 2.1\nuuid:    " + uuidA + "\nseqno:   1234\nsafe_to_bootstrap: 1\n",
			Position{UUID: uuidA, Seqno: 1234, SafeToBootstrap: true}, ""},
		{"running or crashed", "# GALERA saved state\nversion: 2.1\nuuid:    " + uuidA + "\nseqno:   -1\nsafe_to_bootstrap: 0\n",
			Position{UUID: uuidA, Seqno: -1}, ""},
		{"upper-case uuid", "uuid: " + strings.ToUpper(uuidA) + "\nseqno: 5\n", Position{UUID: uuidA, Seqno: 5}, ""},
		{"no seqno", "uuid: " + uuidA + "\n", Position{}, "no uuid or seqno"},
		{"bad uuid", "uuid: nope\nseqno: 1\n", Position{}, "bad uuid"},
		{"bad seqno", "uuid: " + uuidA + "\nseqno: -7\n", Position{}, "bad seqno"},
		{"empty", "", Position{}, "no uuid or seqno"},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestSetSafeToBootstrap(t *testing.T) {
	for _, in := range []string{
		"# GALERA saved state\nversion: 2.1\nuuid: " + uuidA + "\nseqno: 9\nsafe_to_bootstrap: 0\n",
		"uuid: " + uuidA + "\nseqno: 9\n",
	} {
		out := SetSafeToBootstrap([]byte(in))
		p, err := Parse(out)
		if err != nil || !p.SafeToBootstrap || p.Seqno != 9 || p.UUID != uuidA {
			t.Errorf("SetSafeToBootstrap(%q) = %q: %+v %v", in, out, p, err)
		}
		if strings.Count(string(out), "safe_to_bootstrap") != 1 {
			t.Errorf("SetSafeToBootstrap(%q) = %q: want one flag line", in, out)
		}
	}
}

func TestPositionRoundTrip(t *testing.T) {
	for _, p := range []Position{{UUID: uuidA, Seqno: 7}, {UUID: uuidA, Seqno: -1}, {UUID: ZeroUUID, Seqno: -1, SafeToBootstrap: true}} {
		got, err := ParsePosition(p.String())
		if err != nil || got != p {
			t.Errorf("round trip %+v: %+v %v", p, got, err)
		}
	}
	for _, bad := range []string{"", "x:1", uuidA, uuidA + ":x", uuidA + ":1:maybe", uuidA + ":-2"} {
		if _, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) accepted", bad)
		}
	}
}

func TestParseRecoverLog(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want RecoverOutcome
	}{
		{"recovered", "2026-11-23 13:01:02 0 [Note] InnoDB: Starting recovery\n2026-11-23 13:01:03 0 [Note] WSREP: Recovered position: " + uuidA + ":4711\n",
			RecoverOutcome{Position: Position{UUID: uuidA, Seqno: 4711}, Found: true}},
		{"no wsrep position yet", "[Note] WSREP: Recovered position: " + ZeroUUID + ":-1\n",
			RecoverOutcome{Position: Position{UUID: ZeroUUID, Seqno: -1}, Found: true}},
		{"prepared transactions", "[ERROR] Found 2 prepared transactions! It means that mariadbd was not shut down properly last time\n",
			RecoverOutcome{PreparedTransactions: true}},
		{"nothing", "[ERROR] Aborting\n", RecoverOutcome{}},
	}
	for _, tt := range tests {
		if got := ParseRecoverLog([]byte(tt.log)); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
