package drbdsim

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/beevik/etree"
)

// exitNoSuch is cibadmin's status for an object that does not exist
// (CRM_EX_NOSUCH).
const exitNoSuch = 105

func cibFile(dir string) string { return filepath.Join(dir, "cib.xml") }

// SetCIB replaces the fake cibadmin's CIB.
func SetCIB(dir, xml string) error {
	return withLock(dir, func() error { return os.WriteFile(cibFile(dir), []byte(xml), 0o644) })
}

// CIB returns the fake cibadmin's CIB.
func CIB(dir string) (*etree.Document, error) {
	doc := etree.NewDocument()
	err := withLock(dir, func() error { return doc.ReadFromFile(cibFile(dir)) })
	return doc, err
}

// cibadmin answers --query, --modify [--allow-create] and --delete with -o
// SECTION -X XML, like Pacemaker's cibadmin does for those calls.
func cibadmin(dir string, args []string, stdout, stderr io.Writer) int {
	var op, section, xml string
	create := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--query", "-Q", "--modify", "-M", "--delete", "-D":
			op = a
		case "--allow-create", "-c":
			create = true
		case "-o", "--scope", "-X", "--xml-text":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "cibadmin: %s needs a value\n", a)
				return 64
			}
			if a == "-o" || a == "--scope" {
				section = args[i+1]
			} else {
				xml = args[i+1]
			}
			i++
		default:
			fmt.Fprintf(stderr, "cibadmin (fake): unsupported argument %q\n", a)
			return 64
		}
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(cibFile(dir)); err != nil {
		fmt.Fprintf(stderr, "Call cib_query failed (-107): Transport endpoint is not connected: %v\n", err)
		return 102
	}
	if op == "--query" || op == "-Q" {
		doc.Indent(2)
		doc.WriteTo(stdout)
		return 0
	}
	if section == "" || xml == "" {
		fmt.Fprintln(stderr, "cibadmin (fake): needs -o SECTION and -X XML")
		return 64
	}
	parent := doc.FindElement("//configuration/" + section)
	if parent == nil {
		fmt.Fprintf(stderr, "Call failed: No such device or address (section %s)\n", section)
		return exitNoSuch
	}
	given := etree.NewDocument()
	if err := given.ReadFromString(xml); err != nil || given.Root() == nil {
		fmt.Fprintf(stderr, "Couldn't parse input string: %s\n", xml)
		return 65
	}
	el := given.Root()
	var old *etree.Element
	for _, c := range parent.ChildElements() {
		if c.Tag == el.Tag && c.SelectAttrValue("id", "") == el.SelectAttrValue("id", "") {
			old = c
		}
	}
	switch op {
	case "--modify", "-M":
		if old == nil && !create {
			fmt.Fprintln(stderr, "Call cib_modify failed (-6): No such device or address")
			return exitNoSuch
		}
		if old != nil {
			parent.RemoveChild(old)
		}
		parent.AddChild(el.Copy())
	case "--delete", "-D":
		if old == nil {
			fmt.Fprintln(stderr, "Call cib_delete failed (-6): No such device or address")
			return exitNoSuch
		}
		parent.RemoveChild(old)
	default:
		fmt.Fprintln(stderr, "cibadmin (fake): needs --query, --modify or --delete")
		return 64
	}
	doc.Indent(2)
	if err := doc.WriteToFile(cibFile(dir) + ".tmp"); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := os.Rename(cibFile(dir)+".tmp", cibFile(dir)); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
