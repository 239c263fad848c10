package fencing

import (
	"reflect"
	"testing"

	"github.com/goha-ha/goha/cib/spec"
)

func TestParamsRoundTrip(t *testing.T) {
	d := spec.FenceDevice{
		ID: "f", Agent: "fence_virsh",
		Hosts:     []string{"a", "b"},
		HostMap:   spec.NVList{{Name: "a", Value: "vm-a"}, {Name: "b", Value: "vm-b"}},
		DelayBase: "2s", DelayMax: "10s",
		Params: spec.NVList{{Name: "ip", Value: "h"}},
	}
	got := Params(d)
	want := spec.NVList{{Name: HostList, Value: "a b"}, {Name: HostMap, Value: "a:vm-a;b:vm-b"}, {Name: DelayBase, Value: "2s"}, {Name: DelayMax, Value: "10s"}, {Name: "ip", Value: "h"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Params = %v, want %v", got, want)
	}
	back := spec.FenceDevice{ID: "f", Agent: "fence_virsh"}
	FromParams(&back, got)
	if !reflect.DeepEqual(back, d) {
		t.Errorf("FromParams(Params(d)) = %+v, want %+v", back, d)
	}
}

func TestHostMapForms(t *testing.T) {
	for _, in := range []string{"a:1;b:2", "a:1 b:2", "a=1,b=2", " a:1 ; b:2 "} {
		got := parseHostMap(in)
		want := spec.NVList{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseHostMap(%q) = %v", in, got)
		}
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		d        spec.FenceDevice
		want     []string
		declared bool
	}{
		{spec.FenceDevice{Hosts: []string{"b", "a"}}, []string{"a", "b"}, true},
		{spec.FenceDevice{HostMap: spec.NVList{{Name: "c", Value: "x"}}, Hosts: []string{"c"}}, []string{"c"}, true},
		{spec.FenceDevice{Params: spec.NVList{{Name: HostList, Value: "x,y"}}}, []string{"x", "y"}, true},
		{spec.FenceDevice{}, nil, false},
	}
	for _, tt := range tests {
		got, declared := Targets(tt.d)
		if !reflect.DeepEqual(got, tt.want) || declared != tt.declared {
			t.Errorf("Targets(%+v) = %v, %v", tt.d, got, declared)
		}
	}
}

func TestDurations(t *testing.T) {
	for v, want := range map[string]bool{"15": true, "15s": true, "1min": true, "500ms": true, "2h": true, "": false, "15 s": false, "x": false, "-1s": false} {
		if ValidDuration(v) != want {
			t.Errorf("ValidDuration(%q) = %v", v, !want)
		}
	}
	for v, want := range map[string]bool{"0": true, "0s": true, "00ms": true, "5s": false, "10": false} {
		if DurationIsZero(v) != want {
			t.Errorf("DurationIsZero(%q) = %v", v, !want)
		}
	}
}

func TestSharedStorage(t *testing.T) {
	for agent, want := range map[string]bool{"ocf:linbit:drbd": true, "ocf:heartbeat:Filesystem": true, "ocf:goha:vdo": true, "ocf:heartbeat:LVM-activate": true, "ocf:heartbeat:IPaddr2": false, "systemd:nginx": false} {
		if SharedStorage(agent) != want {
			t.Errorf("SharedStorage(%s) = %v", agent, !want)
		}
	}
}

func TestPropertyAliases(t *testing.T) {
	s := &spec.Spec{Properties: spec.NVList{{Name: "fencing-enabled", Value: "false"}}}
	if v, path, ok := Property(s, "stonith-enabled"); !ok || v != "false" || path != "properties.fencing-enabled" {
		t.Errorf("Property = %q %q %v", v, path, ok)
	}
	s.Properties = append(s.Properties, spec.NV{Name: "stonith-enabled", Value: "true"})
	var both bool
	for _, f := range Lint(s) {
		if f.Path == "properties.fencing-enabled" && f.Severity == spec.Error && !f.Safety {
			both = true
		}
	}
	if !both {
		t.Error("setting a property and its fencing-* alias is not reported")
	}
}
