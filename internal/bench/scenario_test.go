package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestScenarioRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	want := testReport().Scenarios
	for _, s := range want {
		if err := WriteScenario(dir, s); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	if strings.Join(names, " ") != "vip-graceful-stop.json vip-power-cut.json" {
		t.Errorf("files %v", names)
	}
	got, err := ReadScenarios(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Read back sorted by file name.
	if !reflect.DeepEqual(got, []Scenario{want[1], want[0]}) {
		t.Errorf("read back %+v", got)
	}
}

func TestReadScenariosMissingDir(t *testing.T) {
	got, err := ReadScenarios(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(got) != 0 {
		t.Errorf("missing dir: %v %v", got, err)
	}
}

func TestReadScenariosRejects(t *testing.T) {
	tests := []struct{ name, json, err string }{
		{"syntax", `{"scenario": `, "parse scenario result"},
		{"unknown field", `{"scenario":"s","metric":"m","goha":{"agent":"a","seconds":[1]},"secs":1}`, "unknown field"},
		{"no name", `{"metric":"m","goha":{"agent":"a","seconds":[1]}}`, "name is empty"},
		{"no metric", `{"scenario":"s","goha":{"agent":"a","seconds":[1]}}`, "metric is empty"},
		{"no timings", `{"scenario":"s","metric":"m","goha":{"agent":"a"}}`, "has no timings"},
		{"no agent", `{"scenario":"s","metric":"m","goha":{"agent":"a","seconds":[1]},"reference":{"seconds":[2]}}`, "agent is empty"},
		{"negative", `{"scenario":"s","metric":"m","goha":{"agent":"a","seconds":[-1]}}`, "negative timing"},
		{"negative failures", `{"scenario":"s","metric":"m","goha":{"agent":"a","seconds":[1],"failed":-1}}`, "negative failure count"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.json"), []byte(tt.json), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadScenarios(dir)
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "x.json") {
			t.Errorf("%s: error %v, want one naming x.json with %q", tt.name, err, tt.err)
		}
	}
}

func TestScenarioSideDescribe(t *testing.T) {
	tests := []struct {
		side ScenarioSide
		want string
	}{
		{ScenarioSide{Agent: "a", Seconds: []float64{9.7}}, "9.70 s (a, n=1)"},
		{ScenarioSide{Agent: "a", Seconds: []float64{18, 20, 23, 19, 21, 22}, Failed: 4}, "20.5 s (a, n=6, 18.0 s–23.0 s); 4 of 10 never did"},
		{ScenarioSide{Agent: "a", Failed: 3}, "— (a); 3 of 3 never did"},
	}
	for _, tt := range tests {
		if got := tt.side.describe(); !strings.Contains(got, tt.want) {
			t.Errorf("describe(%+v) = %q, want it to contain %q", tt.side, got, tt.want)
		}
	}
	// Only failures on a side is a valid result: the reference may never recover.
	if err := (Scenario{Name: "s", Metric: "m", Goha: ScenarioSide{Agent: "a", Failed: 2}}).Validate(); err != nil {
		t.Errorf("all-failed side rejected: %v", err)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"vip: power cut of the active node": "vip-power-cut-of-the-active-node",
		"Galera  (3 nodes)":                 "galera-3-nodes",
		"::":                                "scenario",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
