package mysql

import "testing"

func TestServerVersion(t *testing.T) {
	for _, tc := range []struct {
		out          string
		ok, mariaDB  bool
		dropsUnacked bool
	}{
		{"/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)", true, true, true},
		{"mariadbd  Ver 10.11.8-MariaDB for Linux on x86_64", true, true, false},
		{"mariadbd  Ver 10.6.19-MariaDB for Linux on x86_64", true, true, true},
		{"mariadbd  Ver 10.6.18-MariaDB for Linux on x86_64", true, true, false},
		{"mariadbd  Ver 10.5.27-MariaDB for Linux on x86_64", true, true, false},
		{"mariadbd  Ver 11.4.3-MariaDB for Linux on x86_64", true, true, true},
		{"mariadbd  Ver 11.3.2-MariaDB for Linux on x86_64", true, true, false},
		{"mariadbd  Ver 11.8.1-MariaDB for Linux on x86_64", true, true, true},
		{"/usr/sbin/mysqld  Ver 8.0.40 for Linux on x86_64 (MySQL Community Server - GPL)", true, false, false},
		{"no version here", false, false, false},
	} {
		v, ok := ParseServerVersion(tc.out)
		if ok != tc.ok || v.MariaDB != tc.mariaDB || v.DropsUnacknowledged() != tc.dropsUnacked {
			t.Errorf("%q: %+v ok=%v drops=%v; want ok=%v mariadb=%v drops=%v", tc.out, v, ok, v.DropsUnacknowledged(), tc.ok, tc.mariaDB, tc.dropsUnacked)
		}
	}
}
