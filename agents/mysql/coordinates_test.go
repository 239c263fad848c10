package mysql

import (
	"strings"
	"testing"
)

func TestChoosePositioning(t *testing.T) {
	for _, tc := range []struct {
		param    string
		mariaDB  bool
		gtidMode string
		want     Positioning
		errHas   string
	}{
		{"auto", true, "ON", PositionGTID, ""},
		{"", true, "ON", PositionGTID, ""},
		{"auto", false, "ON", PositionGTID, ""},
		{"auto", false, "OFF", PositionFile, ""},
		{"auto", false, "OFF_PERMISSIVE", PositionFile, ""},
		{"gtid", false, "ON", PositionGTID, ""},
		{"gtid", false, "ON_PERMISSIVE", PositionGTID, "gtid_mode=ON_PERMISSIVE"},
		{"gtid", true, "ON", PositionGTID, ""},
		{"file", true, "ON", PositionFile, ""},
		{"file", false, "ON", PositionFile, ""},
		{"binlog", true, "ON", PositionGTID, "want auto, gtid or file"},
	} {
		got, err := ChoosePositioning(tc.param, tc.mariaDB, tc.gtidMode)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ChoosePositioning(%q, %v, %q) error %v, want one containing %q", tc.param, tc.mariaDB, tc.gtidMode, err, tc.errHas)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ChoosePositioning(%q, %v, %q) = %v, %v; want %v", tc.param, tc.mariaDB, tc.gtidMode, got, err, tc.want)
		}
	}
}

func TestParseCoordinates(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   BinlogCoordinates
		errHas string
	}{
		{"mysql-bin.000003:1234", BinlogCoordinates{"mysql-bin.000003", 1234}, ""},
		{"host:name-bin.000001:4", BinlogCoordinates{"host:name-bin.000001", 4}, ""},
		{"mysql-bin.000003", BinlogCoordinates{}, "want file:offset"},
		{":1234", BinlogCoordinates{}, "want file:offset"},
		{"mysql-bin.000003:3", BinlogCoordinates{}, "4 or more"},
		{"mysql-bin.000003:x", BinlogCoordinates{}, "4 or more"},
		{"mysql-bin.000003':1234", BinlogCoordinates{}, "not a binary log file name"},
		{"../x.000001:1234", BinlogCoordinates{}, "not a binary log file name"},
	} {
		got, err := ParseCoordinates(tc.in)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ParseCoordinates(%q) error %v, want one containing %q", tc.in, err, tc.errHas)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCoordinates(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := ParseCoordinates(got.String()); err != nil || back != got {
			t.Errorf("round trip of %v: %v, %v", got, back, err)
		}
	}
}

func TestCoordinatesBefore(t *testing.T) {
	c := func(f string, p int64) BinlogCoordinates { return BinlogCoordinates{f, p} }
	for _, tc := range []struct {
		a, b BinlogCoordinates
		want bool
	}{
		{c("bin.000001", 100), c("bin.000001", 200), true},
		{c("bin.000001", 200), c("bin.000001", 200), false},
		{c("bin.000001", 300), c("bin.000001", 200), false},
		{c("bin.000001", 9000), c("bin.000002", 4), true},
		{c("bin.000009", 4), c("bin.000010", 4), true},
		{c("bin.999999", 4), c("bin.1000000", 4), true}, // the extension grows a digit
		{c("bin.000010", 4), c("bin.000009", 9000), false},
		{c("", 0), c("bin.000001", 4), true}, // nothing executed yet
	} {
		if got := tc.a.Before(tc.b); got != tc.want {
			t.Errorf("%v before %v = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
