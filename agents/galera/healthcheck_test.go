package galera

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthCheck(t *testing.T) {
	donor := with("wsrep_local_state", "2", "wsrep_local_state_comment", "Donor/Desynced")
	tests := []struct {
		name    string
		vars    map[string]string
		err     error
		donorOK bool
		code    int
		body    string
	}{
		{"synced primary", synced(), nil, false, http.StatusOK, "serving: Primary, Synced, seqno 42, cluster size 3"},
		{"donor refused by default", donor, nil, false, http.StatusServiceUnavailable, "Donor/Desynced"},
		{"donor accepted when told", donor, nil, true, http.StatusOK, "Donor/Desynced"},
		{"non-primary", with("wsrep_cluster_status", "non-Primary"), nil, true, http.StatusServiceUnavailable, "not in a Primary component"},
		{"server down", nil, errors.New("dial unix /run/mysqld/mysqld.sock: connect: no such file or directory"), true, http.StatusServiceUnavailable, "no such file"},
	}
	for _, tt := range tests {
		h := HealthCheck{DonorOK: tt.donorOK, Status: func(context.Context) (Wsrep, error) {
			if tt.err != nil {
				return Wsrep{}, tt.err
			}
			return ParseWsrep(tt.vars)
		}}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s: %d %q; want %d containing %q", tt.name, rec.Code, rec.Body.String(), tt.code, tt.body)
		}
	}
}
