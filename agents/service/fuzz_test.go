package service

import (
	"strings"
	"testing"
)

// FuzzParsers feeds the parameter parsers arbitrary text: they must not
// panic, and what they accept must be what the agent can use.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{"memcached", "getty@tty1.service", "a@", "200-299,401", "300-200", "",
		"unix:path=/run/dbus/system_bus_socket", "unix:path=/a;tcp:host=h,port=1", "x:=y", "\\x2d.mount"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if name, err := unitName(s); err == nil {
			if !strings.Contains(name, ".") || strings.ContainsAny(name, " /\t\n") || strings.HasSuffix(name[:strings.LastIndex(name, ".")], "@") {
				t.Fatalf("unitName(%q) accepted %q", s, name)
			}
			if again, err := unitName(name); err != nil || again != name {
				t.Fatalf("unitName is not idempotent on %q: %q, %v", name, again, err)
			}
		}
		if set, err := parseStatusSet(s); err == nil {
			if len(set) == 0 {
				t.Fatalf("parseStatusSet(%q) accepted an empty set", s)
			}
			again, err := parseStatusSet(set.String())
			if err != nil || again.String() != set.String() {
				t.Fatalf("parseStatusSet(%q) does not round-trip: %q, %v", s, set.String(), err)
			}
		}
		if checkBusAddress(s) == nil && !strings.Contains(s, ":") {
			t.Fatalf("checkBusAddress accepted %q", s)
		}
	})
}
