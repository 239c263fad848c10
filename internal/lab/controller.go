package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// Power operations understood by the controller.
const (
	OpOn     = "on"
	OpOff    = "off"
	OpReboot = "reboot"
	OpStatus = "status"
	OpList   = "list"
	OpPing   = "ping"
)

// PowerRequest is one line of JSON sent to a lab's control socket.
type PowerRequest struct {
	Op   string `json:"op"`
	Node string `json:"node,omitempty"`
	// Immediate boots without the lab's boot delay (see State.BootDelay);
	// the lab API sets it, the fence agent does not.
	Immediate bool `json:"immediate,omitempty"`
}

// PowerReply answers a PowerRequest.
type PowerReply struct {
	OK    bool     `json:"ok"`
	Error string   `json:"error,omitempty"`
	On    bool     `json:"on,omitempty"`    // status: the node's init is running
	Nodes []string `json:"nodes,omitempty"` // list
}

// SocketPath is the control socket of a lab under a run root.
func SocketPath(runRoot, name string) string {
	return filepath.Join(runRoot, name, controlSocket)
}

// Power sends one request to the controller listening on socket and waits
// for its reply. An error reply is returned as an error.
func Power(ctx context.Context, socket string, req PowerRequest) (PowerReply, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return PowerReply{}, fmt.Errorf("reach lab controller: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return PowerReply{}, fmt.Errorf("send %s to lab controller: %w", req.Op, err)
	}
	var rep PowerReply
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&rep); err != nil {
		return PowerReply{}, fmt.Errorf("read reply to %s: %w", req.Op, err)
	}
	if !rep.OK {
		return rep, errors.New(rep.Error)
	}
	return rep, nil
}

// controller carries out power operations for one lab. It is the parent of
// every node init it boots and reaps them.
type controller struct {
	runDir string
	mu     sync.Mutex
}

// ServeController runs the controller of the lab in runDir (`goha lab
// _controller`) until ctx ends or the lab's state file disappears.
func ServeController(ctx context.Context, runDir string) error {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("controller: ")
	sock := filepath.Join(runDir, controlSocket)
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	defer os.Remove(sock)
	if err := os.Chmod(sock, 0o600); err != nil {
		return err
	}
	c := &controller{runDir: runDir}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// A lab removed behind our back ends the controller too.
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := os.Stat(filepath.Join(runDir, stateFile)); err != nil {
					cancel()
					return
				}
			}
		}
	}()
	go func() { <-ctx.Done(); ln.Close() }()
	log.Printf("serving %s", sock)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		go c.serve(ctx, conn)
	}
}

func (c *controller) serve(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req PowerRequest
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	rep := c.do(ctx, req)
	if rep.Error != "" {
		log.Printf("%s %s: %s", req.Op, req.Node, rep.Error)
	} else {
		log.Printf("%s %s: ok", req.Op, req.Node)
	}
	_ = json.NewEncoder(conn).Encode(rep)
}

func (c *controller) do(ctx context.Context, req PowerRequest) PowerReply {
	c.mu.Lock()
	defer c.mu.Unlock()
	fail := func(err error) PowerReply { return PowerReply{Error: err.Error()} }
	switch req.Op {
	case OpPing:
		return PowerReply{OK: true}
	case OpList:
		s, err := readState(c.runDir)
		if err != nil {
			return fail(err)
		}
		rep := PowerReply{OK: true}
		for _, n := range s.Nodes {
			rep.Nodes = append(rep.Nodes, n.Name)
		}
		return rep
	case OpStatus:
		s, err := readState(c.runDir)
		if err != nil {
			return fail(err)
		}
		n, err := s.node(req.Node)
		if err != nil {
			return fail(err)
		}
		return PowerReply{OK: true, On: n.Init.alive()}
	case OpOff:
		if err := c.off(ctx, req.Node); err != nil {
			return fail(err)
		}
		return PowerReply{OK: true}
	case OpOn:
		if err := c.on(req.Node, req.Immediate); err != nil {
			return fail(err)
		}
		return PowerReply{OK: true, On: true}
	case OpReboot:
		if err := c.off(ctx, req.Node); err != nil {
			return fail(err)
		}
		if err := c.on(req.Node, req.Immediate); err != nil {
			return fail(err)
		}
		return PowerReply{OK: true, On: true}
	default:
		return fail(fmt.Errorf("unknown operation %q", req.Op))
	}
}

func (c *controller) off(ctx context.Context, node string) error {
	return updateState(c.runDir, func(s *State) error {
		n, err := s.node(node)
		if err != nil {
			return err
		}
		return crash(ctx, s, n)
	})
}

func (c *controller) on(node string, immediate bool) error {
	return updateState(c.runDir, func(s *State) error {
		n, err := s.node(node)
		if err != nil {
			return err
		}
		if n.Init.alive() {
			return nil
		}
		delay := s.BootDelay
		if immediate {
			delay = 0
		}
		cmd, p, err := boot(s, n, delay)
		if err != nil {
			return err
		}
		n.Init = p
		go reap(cmd, node)
		return nil
	})
}

func reap(cmd *exec.Cmd, node string) {
	err := cmd.Wait()
	log.Printf("init of %s exited: %v", node, err)
}
