package bench

import (
	"os"
	"strings"
	"testing"
)

func TestParseTrace(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want Count
	}{
		{
			name: "one process, no children",
			log:  `42 execve("/bin/agent", ["agent", "monitor"], 0x7ffe /* 9 vars */) = 0` + "\n" + `42 exit_group(0)                     = ?`,
			want: Count{},
		},
		{
			name: "pid prefix absent",
			log:  `execve("/bin/agent", ["agent"], 0x7ffe /* 9 vars */) = 0` + "\n" + `clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 43`,
			want: Count{Forks: 1},
		},
		{
			name: "failed calls are not counted",
			log: strings.Join([]string{
				`42 execve("/bin/agent", ["agent"], 0x1 /* 9 vars */) = 0`,
				`42 clone(child_stack=NULL, flags=SIGCHLD) = -1 EAGAIN (Resource temporarily unavailable)`,
				`42 vfork()                           = 43`,
				`43 execve("/usr/local/sbin/ip", ["ip"], 0x2 /* 9 vars */) = -1 ENOENT (No such file or directory)`,
				`43 execve("/usr/sbin/ip", ["ip"], 0x2 /* 9 vars */) = 0`,
			}, "\n"),
			want: Count{Forks: 1, Execs: 1},
		},
		{
			name: "threads and split clone3",
			log: strings.Join([]string{
				`7 execve("/bin/agent", ["agent"], 0x1 /* 9 vars */) = 0`,
				`7 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x1, parent_tid=0x1, exit_signal=0, stack=0x1, stack_size=0x7fff00, tls=0x1} <unfinished ...>`,
				`8 execve("/x", ["x"], 0x1 /* 1 var */ <unfinished ...>`,
				`7 <... clone3 resumed> => {parent_tid=[9]}, 88) = 9`,
				`8 <... execve resumed>)             = 0`,
				`7 fork()                            = 10`,
			}, "\n"),
			want: Count{Forks: 1, Threads: 1, Execs: 1},
		},
	}
	for _, tt := range tests {
		got, err := ParseTrace(strings.NewReader(tt.log))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseTraceFiles(t *testing.T) {
	tests := []struct {
		file string
		want Count
	}{
		// ocf:heartbeat:Dummy monitor: basename, a subshell, tty, a subshell running date.
		{"testdata/dummy-monitor.strace", Count{Forks: 5, Execs: 3}},
		// A Go program running /bin/true: three runtime threads, the pidfd
		// probe (a vfork that exits at once) and the real vfork+exec.
		{"testdata/go-exec.strace", Count{Forks: 2, Execs: 1, Threads: 3}},
	}
	for _, tt := range tests {
		f, err := os.Open(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseTrace(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.file, got, tt.want)
		}
	}
}

func TestParseTraceErrors(t *testing.T) {
	for _, log := range []string{
		"",
		`42 execve("/bin/agent", ["agent"], 0x1 /* 9 vars */) = -1 ENOENT (No such file or directory)`,
		`42 execve("/bin/agent", ["agent"], 0x1 /* 9 vars */) = 0` + "\n" + `43 <... clone resumed>) = 44`,
	} {
		if _, err := ParseTrace(strings.NewReader(log)); err == nil {
			t.Errorf("ParseTrace(%q): no error", log)
		}
	}
}

func TestSummarizeCounts(t *testing.T) {
	got := SummarizeCounts([]Count{{Forks: 3, Execs: 2}, {Forks: 5, Execs: 2, Threads: 1}, {Forks: 4, Execs: 1}})
	want := Procs{Traced: 3, ForksMin: 3, ForksMax: 5, ExecsMin: 1, ExecsMax: 2, ThreadsMin: 0, ThreadsMax: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := SummarizeCounts(nil); got != (Procs{}) {
		t.Errorf("no counts: %+v", got)
	}
}
