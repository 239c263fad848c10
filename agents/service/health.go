package service

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// maxBody is how much of an HTTP body http_regex is matched against.
const maxBody = 1 << 20

// checker runs a resource's health checks.
type checker interface {
	// Check returns nil when every configured check passes, otherwise an
	// error whose text says which check failed and why.
	Check(ctx context.Context, c Checks) error
}

// hostChecks runs the checks from this node: HTTP and TCP in-process, the
// exec check as a child process.
type hostChecks struct{}

func (hostChecks) Check(ctx context.Context, c Checks) error {
	if c.HTTP != nil {
		if err := bounded(ctx, c.Timeout, func(ctx context.Context) error { return checkHTTP(ctx, c.HTTP) }); err != nil {
			return fmt.Errorf("%s %s: %w", pHTTPURL, c.HTTP.URL, err)
		}
	}
	if c.TCP != "" {
		if err := bounded(ctx, c.Timeout, func(ctx context.Context) error { return checkTCP(ctx, c.TCP) }); err != nil {
			return fmt.Errorf("%s %s: %w", pTCPPort, c.TCP, err)
		}
	}
	if len(c.Exec) > 0 {
		if err := bounded(ctx, c.Timeout, func(ctx context.Context) error { return checkExec(ctx, c.Exec) }); err != nil {
			return fmt.Errorf("%s %s: %w", pExec, c.Exec[0], err)
		}
	}
	return nil
}

// bounded runs f with at most timeout of ctx's time.
func bounded(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := f(ctx)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s", timeout)
	}
	return err
}

func checkHTTP(ctx context.Context, h *HTTPCheck) error {
	tlsConfig := &tls.Config{InsecureSkipVerify: !h.Verify}
	if h.CAFile != "" && h.Verify {
		pem, err := os.ReadFile(h.CAFile)
		if err != nil {
			return fmt.Errorf("read %s: %w", pHTTPCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s %s holds no PEM certificate", pHTTPCA, h.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "goha-service-check")
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err
		}
		return err
	}
	defer resp.Body.Close()
	if !h.Status.Contains(resp.StatusCode) {
		return fmt.Errorf("status %d, want %s", resp.StatusCode, h.Status)
	}
	if h.Regex == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if !h.Regex.Match(body) {
		return fmt.Errorf("body does not match %s %q", pHTTPRegex, h.Regex.String())
	}
	return nil
}

func checkTCP(ctx context.Context, address string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		var oerr *net.OpError
		if errors.As(err, &oerr) && oerr.Err != nil {
			return oerr.Err
		}
		return err
	}
	return conn.Close()
}

func checkExec(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second // a child left holding the output does not stall the check
	err := cmd.Run()
	if err == nil {
		return nil
	}
	first, _ := bufio.NewReader(&out).ReadString('\n')
	if first = strings.TrimSpace(first); first != "" {
		return fmt.Errorf("%v: %s", err, first)
	}
	return err
}
