package galera

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// HealthCheck answers a load balancer's HTTP check for the local node: 200
// only when it is Synced (or, with DonorOK, a Donor) in a Primary
// component, 503 with the reason otherwise. HAProxy's `option httpchk`
// then stops sending traffic to a Donor or non-Primary node, which a plain
// TCP check on port 3306 cannot tell from a healthy one.
type HealthCheck struct {
	Status  func(ctx context.Context) (Wsrep, error) // usually Client.Wsrep
	DonorOK bool
	Timeout time.Duration // per check; default 2 s
}

func (h HealthCheck) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	status, err := h.Status(ctx)
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not serving: %v\n", err)
		return
	}
	verdict := Judge(status, h.DonorOK)
	if !verdict.Serving {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not serving: %s\n", verdict.Reason)
		return
	}
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "serving: %s, %s, seqno %d, cluster size %d\n", status.ClusterStatus, status.LocalComment, status.LastCommitted, status.ClusterSize)
}
