package meta

import (
	"context"
	"errors"
	"testing"
)

const fenceLike = `<?xml version="1.0" ?>
<resource-agent name="fence_x" shortdesc="x">
<parameters>
	<parameter name="ip" unique="0" required="1" obsoletes="ipaddr"><content type="string"/></parameter>
	<parameter name="ipaddr" unique="0" required="1" deprecated="1"><content type="string"/></parameter>
	<parameter name="new" unique="0" required="0"><content type="string"/></parameter>
	<parameter name="old" unique="0" required="0"><deprecated><replaced-with name="new"/></deprecated><content type="string"/></parameter>
</parameters>
<actions><action name="on"/><action name="off"/><action name="metadata"/></actions>
</resource-agent>`

func TestParse(t *testing.T) {
	a, err := Parse([]byte(fenceLike))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                 string
		required, deprecated bool
		obsoletes, replaced  string
	}{
		{"ip", true, false, "ipaddr", ""},
		{"ipaddr", true, true, "", "ip"},
		{"new", false, false, "", ""},
		{"old", false, true, "", "new"},
	}
	for _, tt := range tests {
		p := a.Param(tt.name)
		if p == nil {
			t.Fatalf("no parameter %s", tt.name)
		}
		if p.Required != tt.required || p.Deprecated != tt.deprecated || p.Obsoletes != tt.obsoletes || p.ReplacedBy != tt.replaced {
			t.Errorf("%s = %+v", tt.name, *p)
		}
	}
	if !a.HasAction("off") || a.HasAction("promote") {
		t.Errorf("actions = %v", a.Actions)
	}
	for _, bad := range []string{"", "<nope/>", "<resource-agent"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

type counting struct {
	Static
	n int
}

func (c *counting) Metadata(ctx context.Context, agent string) (*Agent, error) {
	c.n++
	return c.Static.Metadata(ctx, agent)
}

func TestChainAndCache(t *testing.T) {
	first := &counting{Static: Static{"ocf:a:b": {Name: "b"}}}
	second := Static{"ocf:a:c": {Name: "c"}}
	c := &Cached{Source: Chain{first, second}}
	ctx := context.Background()
	for range 3 {
		if a, err := c.Metadata(ctx, "ocf:a:c"); err != nil || a.Name != "c" {
			t.Fatalf("Metadata(ocf:a:c) = %v, %v", a, err)
		}
	}
	if _, err := c.Metadata(ctx, "ocf:a:z"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("unknown agent: %v", err)
	}
	if first.n != 2 {
		t.Errorf("the first source was asked %d times, want 2 (once per agent)", first.n)
	}
}

func TestLocalFindsFiles(t *testing.T) {
	dir := t.TempDir()
	l := &Local{OCFRoot: dir + "/ocf", FenceDir: dir, UnitDirs: []string{dir}, InitDir: dir}
	for _, agent := range []string{"ocf:heartbeat:Nope", "stonith:fence_nope", "systemd:nope", "lsb:nope", "weird"} {
		if _, err := l.Metadata(context.Background(), agent); !errors.Is(err, ErrNotInstalled) {
			t.Errorf("%s: %v, want ErrNotInstalled", agent, err)
		}
	}
}
