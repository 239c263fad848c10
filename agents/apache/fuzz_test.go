package apache

import (
	"strings"
	"testing"
	"testing/fstest"
)

// The envfiles and the configuration are read by root from files an
// administrator edits: no content may crash the agent.

func FuzzShellEnvRead(f *testing.F) {
	for _, seed := range []string{
		"export A=1\nB=\"$A x\"\nunset HOME\n",
		"if [ \"${X##y}\" ]; then\n A=1\nelse\n A=2\nfi\n",
		"export A='unterminated\n",
		"A=${B:-${C}}\\\n; export ; unset -v\n`x` $(y) ${",
		"export \"A\"=1 'B'=2 C\\=3\n# c\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		e := newShellEnv([]string{"HOME=/root", "PATH=/bin"})
		e.Read("f", data)
		for _, kv := range e.Environ() {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || !validName(k) {
				t.Fatalf("environment entry %q", kv)
			}
		}
	})
}

func FuzzReadServerConfig(f *testing.F) {
	for _, seed := range []string{
		"Listen 80\n<Location /server-status>\nSetHandler server-status\n</Location>\n",
		"<IfModule !x>\n<VirtualHost [::1]:80 *>\n<Location>\nSetHandler server-status\n</Location>\n</VirtualHost>\n</IfModule>\n",
		"Include /srv/*.conf\nIncludeOptional /srv/[\nServerRoot\nDefine ${A\n",
		"</x>\n<\n<>\nListen [::1\nListen 1 2 3\nPidFile \"a\\\" b\"\n\\\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		fsys := fstest.MapFS{"srv/httpd.conf": {Data: []byte(data)}, "srv/a.conf": {Data: []byte(data)}}
		sc, err := readServerConfig(fsys, configInput{File: "/srv/httpd.conf", ServerRoot: "/srv", Defines: []string{"STATUS"}})
		if err == nil {
			statusURL(sc, 0, true)
			testURL(sc, "x", 0, false)
		}
	})
}
