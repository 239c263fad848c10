package osm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/goha-ha/goha/ocf"
)

// fakeFirewall holds tables by family, as the kernel would after the
// batches the agent sends.
type fakeFirewall struct {
	tables   map[nftables.TableFamily]Observed
	noINet   bool // the kernel has no nat in inet tables
	loseRule bool // the kernel accepts the batch but keeps no rule
	replaces int
	deletes  int
}

func newFakeFirewall() *fakeFirewall {
	return &fakeFirewall{tables: map[nftables.TableFamily]Observed{}}
}

func (f *fakeFirewall) Observe(name string, families []nftables.TableFamily) ([]Observed, error) {
	var out []Observed
	for _, fam := range families {
		if t, ok := f.tables[fam]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *fakeFirewall) Replace(rs Ruleset, family nftables.TableFamily, drop []nftables.TableFamily) error {
	f.replaces++
	if f.noINet && family == nftables.TableFamilyINet {
		return fmt.Errorf("write table inet %s: %w", rs.Table, unix.EOPNOTSUPP)
	}
	for _, d := range drop {
		if _, ok := f.tables[d]; !ok {
			return fmt.Errorf("delete table: %w", unix.ENOENT)
		}
		delete(f.tables, d)
	}
	f.tables[family] = Observed{Family: family, Chains: []ObservedChain{observedChain(rs, family)}}
	if f.loseRule {
		f.tables[family].Chains[0].Rules = nil
	}
	return nil
}

func (f *fakeFirewall) Delete(name string, families []nftables.TableFamily) error {
	f.deletes++
	for _, fam := range families {
		if _, ok := f.tables[fam]; !ok {
			return fmt.Errorf("delete table: %w", unix.ENOENT)
		}
	}
	for _, fam := range families {
		delete(f.tables, fam)
	}
	return nil
}

// fakeService is an LSB service behind the three commands of the test's
// parameters.
type fakeService struct {
	running     bool
	startFails  bool // the start command exits 1
	neverStarts bool // the start command exits 0, but the service dies
	neverStops  bool // the stop command exits 0, but the service lives on
	calls       []string
}

func (s *fakeService) LookPath(program string) (string, error) {
	if program == "/missing" {
		return "", os.ErrNotExist
	}
	return program, nil
}

func (s *fakeService) Run(ctx context.Context, argv []string) (int, string, error) {
	s.calls = append(s.calls, argv[1])
	switch argv[1] {
	case "start":
		if s.startFails {
			return 1, "cannot bind port 1111\n", nil
		}
		s.running = !s.neverStarts
	case "stop":
		s.running = s.running && s.neverStops
	case "status":
		if s.running {
			return 0, "", nil
		}
		return 3, "", nil
	}
	return 0, "", nil
}

func (s *fakeService) count(call string) int {
	n := 0
	for _, c := range s.calls {
		if c == call {
			n++
		}
	}
	return n
}

type fixture struct {
	fw     *fakeFirewall
	svc    *fakeService
	agent  *ocf.Agent
	params []string
}

func newFixture(withService bool) *fixture {
	f := &fixture{fw: newFakeFirewall(), svc: &fakeService{}}
	f.agent = newAgent(&actions{fw: f.fw, svc: f.svc})
	f.params = []string{"farm_network=10.20.0.0/16", "snat_address=192.0.2.10"}
	if withService {
		f.params = append(f.params, "start_command=/usr/sbin/ovd start", "stop_command=/usr/sbin/ovd stop",
			"status_command=/usr/sbin/ovd status")
	}
	return f
}

// run performs action as Pacemaker would, with the fixture's parameters
// and extra ones (NAME=VALUE; CRM_meta_* too).
func (f *fixture) run(t *testing.T, action string, extra ...string) (ocf.Status, string) {
	t.Helper()
	env := []string{"OCF_RESOURCE_INSTANCE=sm", "OCF_RESKEY_CRM_meta_timeout=3000"}
	for _, p := range append(slices.Clone(f.params), extra...) {
		env = append(env, "OCF_RESKEY_"+p)
	}
	var stderr bytes.Buffer
	getenv := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	st := f.agent.Run(context.Background(), action, ocf.System{
		Environ: env, Getenv: getenv, Stdout: &bytes.Buffer{}, Stderr: &stderr, NoLock: true,
	})
	return st, stderr.String()
}

func (f *fixture) expect(t *testing.T, action string, want ocf.Status, reason string, extra ...string) {
	t.Helper()
	st, stderr := f.run(t, action, extra...)
	if st != want || !strings.Contains(stderr, reason) {
		t.Fatalf("%s: status %v, stderr:\n%s\nwant %v with %q", action, st, stderr, want, reason)
	}
}

const recurring = "CRM_meta_interval=10000"

func TestRuleOnlyLifecycle(t *testing.T) {
	f := newFixture(false)
	f.expect(t, "monitor", ocf.NotRunning, "")
	f.expect(t, "start", ocf.Success, "")
	if _, ok := f.fw.tables[inet]; !ok || len(f.fw.tables) != 1 {
		t.Fatalf("tables after start: %v", f.fw.tables)
	}
	f.expect(t, "monitor", ocf.Success, "", recurring)
	f.expect(t, "start", ocf.Success, "")
	if f.fw.replaces != 1 {
		t.Errorf("a second start rewrote the table in place (%d writes)", f.fw.replaces)
	}
	f.expect(t, "stop", ocf.Success, "")
	if len(f.fw.tables) != 0 {
		t.Fatalf("tables after stop: %v", f.fw.tables)
	}
	f.expect(t, "monitor", ocf.NotRunning, "", recurring)
	f.expect(t, "stop", ocf.Success, "")
	if f.fw.deletes != 1 {
		t.Errorf("stop of an absent table sent %d deletions, want the first stop's only", f.fw.deletes)
	}
}

func TestStartRepairsAnEditedTable(t *testing.T) {
	f := newFixture(false)
	f.expect(t, "start", ocf.Success, "")
	edited := ruleset("10.20.0.0/16", "192.0.2.99", "")
	f.fw.tables[inet].Chains[0].Rules[0].Exprs = edited.Exprs(inet)
	f.expect(t, "monitor", ocf.ErrGeneric, `has ["snat ip to 192.0.2.99"] instead`, recurring)
	f.expect(t, "start", ocf.Success, "")
	f.expect(t, "monitor", ocf.Success, "", recurring)
}

func TestStartVerifiesWhatItWrote(t *testing.T) {
	f := newFixture(false)
	f.fw.loseRule = true
	f.expect(t, "start", ocf.ErrGeneric, "after writing it: table inet goha_osm_sm was changed: chain goha_osm_snat has no rule")
}

func TestFallbackFamily(t *testing.T) {
	f := newFixture(false)
	f.fw.noINet = true
	f.expect(t, "start", ocf.Success, "trying another table family")
	if _, ok := f.fw.tables[ip4]; !ok || len(f.fw.tables) != 1 {
		t.Fatalf("tables after start without inet nat: %v", f.fw.tables)
	}
	f.expect(t, "monitor", ocf.Success, "", recurring)
	f.expect(t, "stop", ocf.Success, "")
	if len(f.fw.tables) != 0 {
		t.Fatalf("tables after stop: %v", f.fw.tables)
	}
	// A kernel that gained inet nat: start moves the table to inet and
	// drops the ip one in the same batch.
	f.fw.noINet = true
	f.expect(t, "start", ocf.Success, "")
	f.fw.noINet = false
	f.fw.tables[ip4].Chains[0].Rules = nil // make it differ, so start rewrites
	f.expect(t, "start", ocf.Success, "")
	if _, ok := f.fw.tables[inet]; !ok || len(f.fw.tables) != 1 {
		t.Fatalf("tables after start with inet nat: %v", f.fw.tables)
	}
}

func TestForeignTableOfTheName(t *testing.T) {
	f := newFixture(false)
	foreign := Observed{Family: inet, Chains: []ObservedChain{{Name: "postrouting"}}}
	f.fw.tables[inet] = foreign
	f.expect(t, "monitor", ocf.NotRunning, "")
	f.expect(t, "start", ocf.ErrConfigured, "parameter table: table inet goha_osm_sm exists and was not made by this agent")
	f.expect(t, "stop", ocf.Success, "left alone")
	if got := f.fw.tables[inet]; len(got.Chains) != 1 || got.Chains[0].Name != "postrouting" || f.fw.deletes != 0 {
		t.Fatalf("the foreign table was touched: %v, %d deletions", f.fw.tables, f.fw.deletes)
	}
}

func TestServiceLifecycle(t *testing.T) {
	f := newFixture(true)
	f.expect(t, "monitor", ocf.NotRunning, "")
	f.expect(t, "start", ocf.Success, "")
	if !f.svc.running || f.svc.count("start") != 1 || len(f.fw.tables) != 1 {
		t.Fatalf("after start: service running %v, %d starts, tables %v", f.svc.running, f.svc.count("start"), f.fw.tables)
	}
	f.expect(t, "monitor", ocf.Success, "", recurring)
	f.expect(t, "start", ocf.Success, "")
	if f.svc.count("start") != 1 {
		t.Errorf("a second start ran start_command again")
	}
	f.svc.running = false
	f.expect(t, "monitor", ocf.ErrGeneric, "the service is stopped while its SNAT rule is in place", recurring)
	f.svc.running = true
	delete(f.fw.tables, inet)
	f.expect(t, "monitor", ocf.ErrGeneric, "the service runs but the SNAT table goha_osm_sm is missing", recurring)
	f.expect(t, "stop", ocf.Success, "")
	if f.svc.running || f.svc.count("stop") != 1 {
		t.Fatalf("after stop: service running %v, %d stops", f.svc.running, f.svc.count("stop"))
	}
	f.expect(t, "stop", ocf.Success, "")
	if f.svc.count("stop") != 1 {
		t.Errorf("stop of a stopped service ran stop_command again")
	}
	f.expect(t, "monitor", ocf.NotRunning, "", recurring)
}

func TestServiceFailures(t *testing.T) {
	f := newFixture(true)
	f.svc.startFails = true
	f.expect(t, "start", ocf.ErrGeneric, "start_command exited with 1: cannot bind port 1111")
	f.svc.startFails = false
	f.svc.neverStarts = true
	f.expect(t, "start", ocf.ErrGeneric, "the service did not report running within the start timeout", "CRM_meta_timeout=1500")
	f.svc.neverStarts = false
	f.expect(t, "stop", ocf.Success, "")
	if len(f.fw.tables) != 0 {
		t.Fatalf("stop after a failed start left %v", f.fw.tables)
	}

	f.expect(t, "start", ocf.Success, "")
	f.svc.neverStops = true
	f.expect(t, "stop", ocf.ErrGeneric, "the service is not stopped after stop_command", "CRM_meta_timeout=1500")
	if len(f.fw.tables) != 0 {
		t.Errorf("a stop that failed on the service left the table: %v", f.fw.tables)
	}

	f.expect(t, "validate-all", ocf.ErrInstalled, "parameter stop_command: program /missing not found",
		"stop_command=/missing stop")
	f.expect(t, "start", ocf.ErrConfigured, "parameter status_command is required with start_command",
		"status_command=")
}
