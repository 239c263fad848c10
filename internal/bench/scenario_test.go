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
