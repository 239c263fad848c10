package sync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// watcher watches a directory tree with inotify: one watch per directory,
// added for new directories as they appear.
type watcher struct {
	*fsnotify.Watcher
	root    string
	ignored []string // exclude patterns that name a file or directory by itself
}

// newWatcher watches every directory under root but the ignored ones.
func newWatcher(root string, excludes []string) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("start inotify: %w", err)
	}
	w := &watcher{Watcher: fw, root: root, ignored: nameOnlyPatterns(excludes)}
	if err := w.addTree(root); err != nil {
		fw.Close()
		return nil, err
	}
	return w, nil
}

// nameOnlyPatterns keeps the exclude patterns without a slash inside,
// which rsync matches against the last element of a path; a trailing
// slash (directories only) is dropped, so such patterns ignore a file of
// that name too, which only costs a sync.
func nameOnlyPatterns(excludes []string) []string {
	var names []string
	for _, x := range excludes {
		x = strings.TrimSuffix(x, "/")
		if x != "" && !strings.Contains(x, "/") && !strings.Contains(x, "**") {
			names = append(names, x)
		}
	}
	return names
}

// isIgnored reports whether a change to path never needs a sync.
func (w *watcher) isIgnored(path string) bool {
	name := filepath.Base(path)
	for _, p := range w.ignored {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// addTree watches dir and every directory below it. Directories that
// vanish meanwhile are skipped: their removal is itself a change.
func (w *watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("walk %s: %w", path, err)
		}
		if !d.IsDir() {
			return nil
		}
		if path != w.root && w.isIgnored(path) {
			return filepath.SkipDir
		}
		if err := w.Add(path); err != nil {
			if path != w.root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return fmt.Errorf("watch %s: %w", path, err)
		}
		return nil
	})
}

// errRootGone says the watched directory itself was removed or renamed.
var errRootGone = errors.New("the directory was removed or renamed")

// handle follows one event: it watches a new directory, and reports
// whether the event is a change to ship.
func (w *watcher) handle(ev fsnotify.Event) (changed bool, err error) {
	if ev.Name == w.root && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		return false, errRootGone
	}
	if w.isIgnored(ev.Name) && ev.Name != w.root {
		return false, nil
	}
	if ev.Has(fsnotify.Create) {
		if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
			if err := w.addTree(ev.Name); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}
