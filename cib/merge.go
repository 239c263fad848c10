package cib

import (
	"fmt"

	"github.com/beevik/etree"
)

// Merge returns the live CIB with the spec's configuration laid over it:
// every element the spec generates replaces the live element with its id
// (properties, defaults and node attributes name by name), new ones are
// added, and what the spec does not mention is kept unless prune is set.
// The status section and the version attributes (epoch, admin_epoch,
// num_updates, validate-with) stay as they are live, so a patch computed
// between the two touches the configuration only.
func Merge(live, desired *etree.Document, prune bool) (*etree.Document, error) {
	out := live.Copy()
	lconf := out.Root().SelectElement("configuration")
	dconf := desired.Root().SelectElement("configuration")
	if lconf == nil || dconf == nil {
		return nil, fmt.Errorf("merge: a CIB has no <configuration>")
	}
	m := merger{prune: prune}
	m.crmConfig(section(lconf, "crm_config"), dconf.SelectElement("crm_config"))
	m.nodes(section(lconf, "nodes"), dconf.SelectElement("nodes"))
	m.resources(section(lconf, "resources"), dconf.SelectElement("resources"))
	m.byID(section(lconf, "constraints"), dconf.SelectElement("constraints"))
	m.topology(lconf, dconf.SelectElement("fencing-topology"))
	for _, tag := range []string{"rsc_defaults", "op_defaults"} {
		if d := dconf.SelectElement(tag); d != nil || prune {
			m.defaults(lconf, tag, d)
		}
	}
	if d := dconf.SelectElement("alerts"); d != nil {
		m.byID(section(lconf, "alerts"), d)
	} else if prune {
		if a := lconf.SelectElement("alerts"); a != nil {
			lconf.RemoveChild(a)
		}
	}
	out.Indent(2)
	return out, nil
}

type merger struct{ prune bool }

// section returns conf's child called tag, creating it when missing.
func section(conf *etree.Element, tag string) *etree.Element {
	if e := conf.SelectElement(tag); e != nil {
		return e
	}
	return conf.CreateElement(tag)
}

func id(e *etree.Element) string { return e.SelectAttrValue("id", "") }

// nvMerge lays desired's nvpairs over live's, name by name, keeping live
// ids; prune drops live pairs desired does not have, except those keep
// says to keep.
func (m merger) nvMerge(live, desired *etree.Element, keep func(name string) bool) {
	want := map[string]bool{}
	if desired != nil {
		for _, dp := range desired.SelectElements("nvpair") {
			name := dp.SelectAttrValue("name", "")
			want[name] = true
			var lp *etree.Element
			for _, p := range live.SelectElements("nvpair") {
				if p.SelectAttrValue("name", "") == name {
					lp = p
					break
				}
			}
			if lp == nil {
				live.AddChild(dp.Copy())
				continue
			}
			lp.CreateAttr("value", dp.SelectAttrValue("value", ""))
		}
	}
	if m.prune {
		for _, p := range live.SelectElements("nvpair") {
			name := p.SelectAttrValue("name", "")
			if !want[name] && (keep == nil || !keep(name)) {
				live.RemoveChild(p)
			}
		}
	}
}

// pickSet finds the live set matching desired: same id, else the only set
// of that tag.
func pickSet(parent *etree.Element, tag, setID string) *etree.Element {
	sets := parent.SelectElements(tag)
	for _, s := range sets {
		if id(s) == setID {
			return s
		}
	}
	if len(sets) == 1 {
		return sets[0]
	}
	return nil
}

func (m merger) crmConfig(live, desired *etree.Element) {
	var d *etree.Element
	if desired != nil {
		d = desired.SelectElement("cluster_property_set")
	}
	if d == nil && !m.prune {
		return
	}
	l := pickSet(live, "cluster_property_set", "cib-bootstrap-options")
	if l == nil {
		if d == nil {
			return
		}
		live.AddChild(d.Copy())
		return
	}
	m.nvMerge(l, d, isManagedProperty)
}

func (m merger) nodes(live, desired *etree.Element) {
	if desired == nil {
		return
	}
	for _, dn := range desired.SelectElements("node") {
		uname := dn.SelectAttrValue("uname", "")
		var ln *etree.Element
		for _, n := range live.SelectElements("node") {
			if n.SelectAttrValue("uname", "") == uname {
				ln = n
				break
			}
		}
		if ln == nil {
			live.AddChild(dn.Copy())
			continue
		}
		// The live node keeps its id: it is corosync's.
		for _, tag := range []string{"instance_attributes", "utilization"} {
			var dset *etree.Element
			if s := dn.SelectElement(tag); s != nil {
				dset = s
			}
			lset := ln.SelectElement(tag)
			switch {
			case lset == nil && dset != nil:
				c := dset.Copy()
				ln.AddChild(c)
			case lset != nil:
				m.nvMerge(lset, dset, nil)
				if len(lset.ChildElements()) == 0 && m.prune {
					ln.RemoveChild(lset)
				}
			}
		}
	}
}

// allIDs is every id in e's subtree.
func allIDs(e *etree.Element, into map[string]bool) {
	if v := id(e); v != "" {
		into[v] = true
	}
	for _, c := range e.ChildElements() {
		allIDs(c, into)
	}
}

func (m merger) resources(live, desired *etree.Element) {
	if desired == nil {
		return
	}
	wanted := map[string]bool{}
	for _, d := range desired.ChildElements() {
		ids := map[string]bool{}
		allIDs(d, ids)
		var at *etree.Element
		for _, l := range live.ChildElements() {
			lids := map[string]bool{}
			allIDs(l, lids)
			overlap := false
			for k := range lids {
				if ids[k] && k != "" {
					overlap = true
					break
				}
			}
			if !overlap {
				continue
			}
			if at == nil {
				at = l
				continue
			}
			live.RemoveChild(l)
		}
		c := d.Copy()
		if at != nil {
			live.InsertChildAt(at.Index(), c)
			live.RemoveChild(at)
		} else {
			live.AddChild(c)
		}
		wanted[id(d)] = true
	}
	if m.prune {
		for _, l := range live.ChildElements() {
			if !wanted[id(l)] {
				live.RemoveChild(l)
			}
		}
	}
}

// byID replaces or adds desired's children by id.
func (m merger) byID(live, desired *etree.Element) {
	wanted := map[string]bool{}
	if desired != nil {
		for _, d := range desired.ChildElements() {
			wanted[id(d)] = true
			replaced := false
			for _, l := range live.ChildElements() {
				if id(l) == id(d) {
					live.InsertChildAt(l.Index(), d.Copy())
					live.RemoveChild(l)
					replaced = true
					break
				}
			}
			if !replaced {
				live.AddChild(d.Copy())
			}
		}
	}
	if m.prune {
		for _, l := range live.ChildElements() {
			if !wanted[id(l)] {
				live.RemoveChild(l)
			}
		}
	}
}

func (m merger) topology(lconf, desired *etree.Element) {
	live := lconf.SelectElement("fencing-topology")
	if desired == nil {
		if m.prune && live != nil {
			lconf.RemoveChild(live)
		}
		return
	}
	if live == nil {
		lconf.AddChild(desired.Copy())
		return
	}
	// A level is its target and index: a live level with another id in
	// the same place is replaced.
	for _, d := range desired.SelectElements("fencing-level") {
		for _, l := range live.SelectElements("fencing-level") {
			if id(l) != id(d) && l.SelectAttrValue("target", "") == d.SelectAttrValue("target", "") &&
				l.SelectAttrValue("index", "") == d.SelectAttrValue("index", "") {
				live.RemoveChild(l)
			}
		}
	}
	m.byID(live, desired)
}

func (m merger) defaults(lconf *etree.Element, tag string, desired *etree.Element) {
	live := lconf.SelectElement(tag)
	if desired == nil {
		if live != nil {
			if set := live.SelectElement("meta_attributes"); set != nil {
				m.nvMerge(set, nil, nil)
			}
		}
		return
	}
	d := desired.SelectElement("meta_attributes")
	if live == nil {
		lconf.AddChild(desired.Copy())
		return
	}
	l := pickSet(live, "meta_attributes", id(d))
	if l == nil {
		live.AddChild(d.Copy())
		return
	}
	m.nvMerge(l, d, nil)
}
