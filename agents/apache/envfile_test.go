package apache

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestShellEnvRead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		file    string
		want    []string // exported result
		notes   []string // substrings, one per note, in order
	}{
		{
			name: "exports and plain assignments",
			file: "export A=1\nB=2\nexport C='x y' D=\"$A-$B\"\n",
			want: []string{"A=1", "C=x y", "D=1-2"},
		},
		{
			name:    "assignment to an inherited variable stays exported",
			environ: []string{"LANG=en_US.UTF-8", "PATH=/bin"},
			file:    "LANG=C\n",
			want:    []string{"LANG=C", "PATH=/bin"},
		},
		{
			name: "export of a set variable",
			file: "LANG=C\nexport LANG\nUNSET_LATER=1\n",
			want: []string{"LANG=C"},
		},
		{
			name:    "unset",
			environ: []string{"HOME=/root", "KEEP=1"},
			file:    "# comment\nunset HOME\n",
			want:    []string{"KEEP=1"},
		},
		{
			name: "Debian-style suffix block is skipped, its variable expands empty",
			file: "if [ \"${APACHE_CONFDIR##/etc/apache2-}\" != \"${APACHE_CONFDIR}\" ] ; then\n" +
				"\tSUFFIX=\"-${APACHE_CONFDIR##/etc/apache2-}\"\nelse\n\tSUFFIX=\nfi\n" +
				"export APACHE_RUN_USER=www-data\nexport APACHE_PID_FILE=/var/run/apache2$SUFFIX/apache2.pid\n",
			want:  []string{"APACHE_PID_FILE=/var/run/apache2/apache2.pid", "APACHE_RUN_USER=www-data"},
			notes: []string{"f:1: skipped the block up to line 5"},
		},
		{
			name: "braces, defaults and escapes",
			file: "X=a\nexport Y=${X}b Q=${Z:-dflt} W=${Z-w} V=\\$X U='$X' T=\"\\\"q\\\"\"\n",
			want: []string{"Q=dflt", "T=\"q\"", "U=$X", "V=$X", "W=w", "Y=ab"},
		},
		{
			name: "line continuation and semicolons",
			file: "export A=1; export B=\\\n2\nexport C=3 # trailing comment\n",
			want: []string{"A=1", "B=2", "C=3"},
		},
		{
			name:  "commands are not run",
			file:  "ulimit -n 65536\n. /etc/default/locale\nexport A=1\n",
			want:  []string{"A=1"},
			notes: []string{"f:1: skipped \"ulimit -n 65536\"", "f:2: skipped \". /etc/default/locale\""},
		},
		{
			name:  "command substitution is not run",
			file:  "export A=$(id -un)\nexport B=`hostname`\nexport C=ok\n",
			want:  []string{"C=ok"},
			notes: []string{"command substitution", "command substitution"},
		},
		{
			name:  "prefix assignment of a command is skipped whole",
			file:  "A=1 run-something\n",
			notes: []string{"no command is run"},
		},
		{
			name:  "redirection and pipes need a shell",
			file:  "export A=1 > /tmp/x\n",
			notes: []string{"needs a shell"},
		},
		{
			name:  "unterminated quote",
			file:  "export A='open\n",
			notes: []string{"unterminated single quote"},
		},
		{
			name:  "unterminated block",
			file:  "if true; then\nexport A=1\n",
			notes: []string{"unterminated block"},
		},
		{
			name:  "unsupported expansion",
			file:  "export A=${B#x}\n",
			notes: []string{"unsupported expansion"},
		},
		{
			name: "quoted value with spaces and a hash",
			file: "export APACHE_ARGUMENTS='-D X # not a comment'\n",
			want: []string{"APACHE_ARGUMENTS=-D X # not a comment"},
		},
		{
			name:  "an assignment whose name comes from an expansion is not one",
			file:  "N=A\n$N=1\n",
			notes: []string{"no command is run"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newShellEnv(tc.environ)
			notes := e.Read("f", tc.file)
			got := e.Environ()
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("environ = %q, want %q", got, tc.want)
			}
			if len(notes) != len(tc.notes) {
				t.Fatalf("notes = %q, want %d like %q", notes, len(tc.notes), tc.notes)
			}
			for i, n := range tc.notes {
				if !strings.Contains(notes[i], n) {
					t.Errorf("note %d = %q, want it to contain %q", i, notes[i], n)
				}
			}
		})
	}
}

// TestDebianEnvvars reads the envvars file of the installed apache2
// package: apache2 does not start without APACHE_RUN_USER and the other
// variables it sets.
func TestDebianEnvvars(t *testing.T) {
	raw, err := os.ReadFile("/etc/apache2/envvars")
	if err != nil {
		t.Skipf("no /etc/apache2/envvars (apache2 is not installed): %v", err)
	}
	e := newShellEnv([]string{"HOME=/root", "PATH=/usr/bin:/bin"})
	notes := e.Read("/etc/apache2/envvars", string(raw))
	for _, name := range []string{"APACHE_RUN_USER", "APACHE_RUN_GROUP", "APACHE_PID_FILE", "APACHE_RUN_DIR", "APACHE_LOCK_DIR", "APACHE_LOG_DIR"} {
		if v, ok := e.Lookup(name); !ok || v == "" || strings.Contains(v, "$") {
			t.Errorf("%s = %q, %v after reading envvars (notes %q)", name, v, ok, notes)
		}
	}
	if v, _ := e.Lookup("APACHE_PID_FILE"); v != "/var/run/apache2/apache2.pid" {
		t.Errorf("APACHE_PID_FILE = %q, want the suffix-less default", v)
	}
	if _, ok := e.Lookup("HOME"); ok {
		t.Errorf("HOME survived envvars' unset")
	}
}
