package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-traced", "0"}, {"-warmup", "-1"}, {"-bogus"}} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

func TestAgentLinksAndVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "goha")
	// A stand-in for bin/goha answering the two subcommands bench uses.
	script := "#!/bin/sh\ncase \"$1\" in\nagents) printf 'vip          Virtual IP address\\nother        x\\n';;\nversion) echo 'goha 1.2.3';;\n*) exit 1;;\nesac\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir, err := agentLinks(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || target != bin {
			t.Errorf("%s -> %q (%v), want %s", e.Name(), target, err, bin)
		}
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "other vip" {
		t.Errorf("links %v", names)
	}
	if v, err := gohaVersion(ctx, bin); err != nil || v != "1.2.3" {
		t.Errorf("version %q %v", v, err)
	}
	if _, err := agentLinks(ctx, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("agentLinks with a missing binary: no error")
	}
}
