package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/goha-ha/goha/internal/atomicfile"
)

// writeJSON replaces path by v encoded as JSON, atomically: a reader sees
// the old file or the new one, never half of one.
func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.Write(path, append(raw, '\n'), 0o644)
}

// readJSON decodes path into v.
func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// readReport reads the daemon's report; fs.ErrNotExist when there is none.
func readReport(c Config) (Report, error) {
	var r Report
	err := readJSON(c.stateFile(), &r)
	return r, err
}

// removeRunFiles deletes what a stopped daemon leaves but its log.
func removeRunFiles(c Config) error {
	for _, p := range []string{c.pidFile(), c.stateFile(), c.confFile()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}
