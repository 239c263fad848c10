// Package fakecrm stands in for Pacemaker's crm_attribute in component
// tests that run an agent outside a cluster: a small program put first on
// the agent's PATH that keeps node attributes as files and logs every call,
// so a test can read what the agent published.
package fakecrm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Store is one fake crm_attribute and the attributes it keeps.
type Store struct {
	BinDir  string // put first on the agent's PATH
	attrDir string
}

// Install writes crm_attribute into dir/bin and keeps attributes in
// dir/attrs.
func Install(dir string) (*Store, error) {
	s := &Store{BinDir: filepath.Join(dir, "bin"), attrDir: filepath.Join(dir, "attrs")}
	for _, d := range []string{s.BinDir, s.attrDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(s.BinDir, "crm_attribute"), []byte(script(s.attrDir)), 0o755); err != nil {
		return nil, fmt.Errorf("write fake crm_attribute: %w", err)
	}
	return s, nil
}

// script handles --name, --node, --update, --delete and --query, the
// options ocf.CRMAttributes uses; a missing attribute exits 105 (ENXIO)
// as the real one does.
func script(dir string) string {
	return `#!/bin/sh
store='` + dir + `'
name= node= op= value=
while [ $# -gt 0 ]; do
	case "$1" in
	--name) name=$2; shift ;;
	--node) node=$2; shift ;;
	--update) op=update; value=$2; shift ;;
	--delete) op=delete ;;
	--query) op=query ;;
	esac
	shift
done
echo "$op node=$node name=$name value=$value" >> "$store/calls.log"
f="$store/$node.$name"
case "$op" in
update) printf '%s' "$value" > "$f" ;;
delete) rm -f "$f" ;;
query) [ -f "$f" ] || exit 105; cat "$f"; echo ;;
*) exit 1 ;;
esac
`
}

// Get returns the attribute name of node, and whether it is set.
func (s *Store) Get(node, name string) (string, bool, error) {
	b, err := os.ReadFile(filepath.Join(s.attrDir, node+"."+name))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

// Set sets an attribute as an administrator would.
func (s *Store) Set(node, name, value string) error {
	return os.WriteFile(filepath.Join(s.attrDir, node+"."+name), []byte(value), 0o644)
}

// Calls is the log of every call, for failure messages.
func (s *Store) Calls() string {
	b, _ := os.ReadFile(filepath.Join(s.attrDir, "calls.log"))
	return string(b)
}
