package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Scenario is one timing measured by an end-to-end test on the lab cluster,
// e.g. how long clients lose the VIP after a power cut of its node. An e2e
// test writes one JSON file per scenario into the results directory (make
// bench reads e2e/results by default; -results changes it), for example
//
//	{
//	  "scenario": "vip: power cut of the active node",
//	  "metric": "client reaches the VIP again",
//	  "goha": {"agent": "ocf:goha:vip", "seconds": [3.1, 3.4, 3.2]},
//	  "reference": {"agent": "ocf:heartbeat:IPaddr2", "seconds": [9.7]},
//	  "notes": "3 nodes, token 3000 ms, fencing off"
//	}
//
// reference and notes may be left out. WriteScenario writes such a file.
type Scenario struct {
	Name      string        `json:"scenario"`
	Metric    string        `json:"metric"`
	Goha      ScenarioSide  `json:"goha"`
	Reference *ScenarioSide `json:"reference,omitempty"`
	Notes     string        `json:"notes,omitempty"`
}

// ScenarioSide is one agent's timings in a scenario, in seconds. Failed
// counts the runs that never reached the metric within the scenario's
// bound (a cluster still down, say); they have no timing.
type ScenarioSide struct {
	Agent   string    `json:"agent"`
	Seconds []float64 `json:"seconds"`
	Failed  int       `json:"failed,omitempty"`
}

// Validate reports what is missing or wrong in s.
func (s Scenario) Validate() error {
	if strings.TrimSpace(s.Name) == "" {
		return errors.New("scenario: name is empty")
	}
	if strings.TrimSpace(s.Metric) == "" {
		return fmt.Errorf("scenario %q: metric is empty", s.Name)
	}
	sides := []*ScenarioSide{&s.Goha}
	if s.Reference != nil {
		sides = append(sides, s.Reference)
	}
	for _, side := range sides {
		if side.Agent == "" {
			return fmt.Errorf("scenario %q: agent is empty", s.Name)
		}
		if len(side.Seconds) == 0 && side.Failed == 0 {
			return fmt.Errorf("scenario %q: %s has no timings", s.Name, side.Agent)
		}
		if side.Failed < 0 {
			return fmt.Errorf("scenario %q: %s has a negative failure count", s.Name, side.Agent)
		}
		for _, v := range side.Seconds {
			if v < 0 {
				return fmt.Errorf("scenario %q: %s has a negative timing %v", s.Name, side.Agent, v)
			}
		}
	}
	return nil
}

// ReadScenarios reads every *.json file in dir, sorted by file name. A
// missing dir holds no scenarios; a malformed file is an error naming it.
func ReadScenarios(dir string) ([]Scenario, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list scenario results in %s: %w", dir, err)
	}
	sort.Strings(names)
	var out []Scenario
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("read scenario result: %w", err)
		}
		var s Scenario
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("parse scenario result %s: %w", name, err)
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// WriteScenario writes s into dir as <slug of the name>.json, replacing an
// earlier result of the same scenario; dir is created if needed.
func WriteScenario(dir string, s Scenario) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create results dir: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode scenario %q: %w", s.Name, err)
	}
	path := filepath.Join(dir, slug(s.Name)+".json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write scenario result: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write scenario result: %w", err)
	}
	return nil
}

// slug keeps letters and digits of name and joins the rest with dashes.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "scenario"
	}
	return b.String()
}
