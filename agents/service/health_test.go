package service

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHTTPCheck runs the HTTP check against in-process servers on
// loopback: plain and TLS, status sets, body patterns, redirects, timeouts.
func TestHTTPCheck(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "status: healthy\n") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "starting", http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/down", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	plain := httptest.NewServer(mux)
	defer plain.Close()
	tlsSrv := httptest.NewUnstartedServer(mux)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o644)

	ok200, _ := parseStatusSet("200")
	any, _ := parseStatusSet("200-399")
	for _, tc := range []struct {
		name string
		h    HTTPCheck
		err  string
	}{
		{"plain", HTTPCheck{URL: plain.URL + "/ok", Status: ok200}, ""},
		{"body matches", HTTPCheck{URL: plain.URL + "/ok", Status: ok200, Regex: regexp.MustCompile(`status: \w+`)}, ""},
		{"body does not match", HTTPCheck{URL: plain.URL + "/ok", Status: ok200, Regex: regexp.MustCompile(`^ready`)}, `body does not match http_regex "^ready"`},
		{"status outside the set", HTTPCheck{URL: plain.URL + "/down", Status: any}, "status 503, want 200-399"},
		{"redirect not followed", HTTPCheck{URL: plain.URL + "/moved", Status: any}, ""},
		{"redirect status checked", HTTPCheck{URL: plain.URL + "/moved", Status: ok200}, "status 302, want 200"},
		{"TLS without verification", HTTPCheck{URL: tlsSrv.URL + "/ok", Status: ok200}, ""},
		{"TLS verified against the system", HTTPCheck{URL: tlsSrv.URL + "/ok", Status: ok200, Verify: true}, "certificate signed by unknown authority"},
		{"TLS verified against its CA", HTTPCheck{URL: tlsSrv.URL + "/ok", Status: ok200, Verify: true, CAFile: ca}, ""},
		{"CA file without PEM", HTTPCheck{URL: tlsSrv.URL + "/ok", Status: ok200, Verify: true, CAFile: notPEM}, "holds no PEM certificate"},
		{"CA file missing", HTTPCheck{URL: tlsSrv.URL + "/ok", Status: ok200, Verify: true, CAFile: notPEM + ".none"}, "read http_ca_file"},
		{"nobody listens", HTTPCheck{URL: "http://" + closedPort(t) + "/", Status: ok200}, "connection refused"},
		{"too slow", HTTPCheck{URL: plain.URL + "/slow", Status: ok200}, "no answer within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			err := hostChecks{}.Check(context.Background(), Checks{HTTP: &h, Timeout: 300 * time.Millisecond})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("check failed: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("check = %v; want an error with %q", err, tc.err)
			case err != nil && !strings.HasPrefix(err.Error(), "http_url "+h.URL+": "):
				t.Fatalf("the reason does not name the URL: %v", err)
			}
		})
	}
}

func TestTCPAndExecChecks(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dead := closedPort(t)
	for _, tc := range []struct {
		name string
		c    Checks
		err  string
	}{
		{"port open", Checks{TCP: l.Addr().String()}, ""},
		{"port closed", Checks{TCP: dead}, "tcp_port " + dead + ": connect: connection refused"},
		{"command succeeds", Checks{Exec: []string{"/bin/true"}}, ""},
		{"command fails", Checks{Exec: []string{"/bin/false"}}, "exec /bin/false: exit status 1"},
		{"command says why", Checks{Exec: []string{"/bin/ls", "/nonexistent-goha"}}, "exec /bin/ls: exit status 2: /bin/ls: cannot access"},
		{"command missing", Checks{Exec: []string{"/nonexistent/check"}}, "exec /nonexistent/check: fork/exec"},
		{"command too slow", Checks{Exec: []string{"/bin/sleep", "5"}, Timeout: 200 * time.Millisecond}, "exec /bin/sleep: no answer within 200ms"},
		{"all pass", Checks{TCP: l.Addr().String(), Exec: []string{"/bin/true"}}, ""},
		{"first failure wins", Checks{TCP: dead, Exec: []string{"/bin/false"}}, "tcp_port"},
		{"none configured", Checks{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c.Timeout == 0 {
				tc.c.Timeout = 2 * time.Second
			}
			start := time.Now()
			err := hostChecks{}.Check(context.Background(), tc.c)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("check failed: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("check = %v; want an error with %q", err, tc.err)
			}
			if time.Since(start) > tc.c.Timeout+time.Second {
				t.Fatalf("check took %s, past its timeout", time.Since(start))
			}
		})
	}
}

// closedPort returns a loopback address nobody listens on right now.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
