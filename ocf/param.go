package ocf

import (
	"fmt"
	"strconv"
	"strings"
)

// Type is the content type of a parameter.
type Type int

const (
	String  Type = iota // free text
	Integer             // a decimal integer, optionally bounded by Min/Max
	Boolean             // true/false, yes/no, on/off, 1/0
	Enum                // one of Values
)

// dtdType is the content type written to meta-data. Debian's ra-api-1.dtd,
// which ocf-tester validates against, knows only string, integer, boolean and
// time, so an Enum is declared as a string and its values are listed in the
// long description.
func (t Type) dtdType() string {
	switch t {
	case Integer:
		return "integer"
	case Boolean:
		return "boolean"
	}
	return "string"
}

// Param declares one instance parameter. The declaration is the single source
// of meta-data, defaults, parsing and validation.
type Param struct {
	Name       string
	Type       Type
	Default    string   // "" means no default
	Required   bool     // start and validate-all fail without it
	Unique     bool     // no two resources may share the value
	Reloadable bool     // a change is applied by the reload action, without restart
	Secret     bool     // its value is never logged (the logger redacts it)
	Values     []string // allowed values of an Enum
	Min, Max   *int64   // bounds of an Integer
	Short      string   // one line
	Long       string   // what it does and why one would change it
	// Check validates a non-empty value beyond its type; the error text
	// completes "parameter NAME ...", e.g. "is not an IP address".
	Check func(value string) error
}

// Bound returns a pointer to v, for Param.Min and Param.Max.
func Bound(v int64) *int64 { return &v }

// parseBool reads an OCF boolean the way ocf_is_true does, case-insensitively.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on", "y", "ja":
		return true, true
	case "0", "no", "false", "off", "n", "nein":
		return false, true
	}
	return false, false
}

// check validates one non-empty value against the declaration.
func (p *Param) check(v string) error {
	switch p.Type {
	case Integer:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("parameter %s must be an integer, not %q", p.Name, v)
		}
		if p.Min != nil && n < *p.Min {
			return fmt.Errorf("parameter %s=%d is below the minimum %d", p.Name, n, *p.Min)
		}
		if p.Max != nil && n > *p.Max {
			return fmt.Errorf("parameter %s=%d is above the maximum %d", p.Name, n, *p.Max)
		}
	case Boolean:
		if _, ok := parseBool(v); !ok {
			return fmt.Errorf("parameter %s must be a boolean (true/false), not %q", p.Name, v)
		}
	case Enum:
		found := false
		for _, a := range p.Values {
			if v == a {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("parameter %s must be one of %s, not %q", p.Name, strings.Join(p.Values, ", "), v)
		}
	}
	if p.Check != nil {
		if err := p.Check(v); err != nil {
			return fmt.Errorf("parameter %s %v", p.Name, err)
		}
	}
	return nil
}

// Values holds the parameters of one invocation, defaults applied.
type Values struct {
	decl map[string]*Param
	set  map[string]string // as given by Pacemaker
}

// NewValues resolves raw OCF_RESKEY_ values against the declaration. It does
// not validate; Validate does.
func NewValues(params []Param, raw map[string]string) *Values {
	v := &Values{decl: make(map[string]*Param, len(params)), set: map[string]string{}}
	for i := range params {
		v.decl[params[i].Name] = &params[i]
	}
	for k, s := range raw {
		if _, ok := v.decl[k]; ok {
			v.set[k] = s
		}
	}
	return v
}

func (v *Values) param(name string) *Param {
	p, ok := v.decl[name]
	if !ok {
		panic("ocf: parameter " + name + " is not declared")
	}
	return p
}

// IsSet reports whether Pacemaker passed the parameter (even empty).
func (v *Values) IsSet(name string) bool {
	v.param(name)
	_, ok := v.set[name]
	return ok
}

// String returns the value or its default.
func (v *Values) String(name string) string {
	p := v.param(name)
	if s, ok := v.set[name]; ok && s != "" {
		return s
	}
	return p.Default
}

// Int returns an Integer parameter; an unparsable value yields the default
// (Validate has already rejected it in every action that matters).
func (v *Values) Int(name string) int64 {
	p := v.param(name)
	n, err := strconv.ParseInt(strings.TrimSpace(v.String(name)), 10, 64)
	if err != nil {
		n, _ = strconv.ParseInt(p.Default, 10, 64)
	}
	return n
}

// Bool returns a Boolean parameter, false when unparsable and without default.
func (v *Values) Bool(name string) bool {
	b, ok := parseBool(v.String(name))
	if !ok {
		b, _ = parseBool(v.param(name).Default)
	}
	return b
}

// Validate checks every parameter against its declaration and returns an
// ErrConfigured error naming the first parameter that is wrong.
func (v *Values) Validate(params []Param) error {
	for i := range params {
		p := &params[i]
		s := v.String(p.Name)
		if s == "" {
			if p.Required {
				return Fail(ErrConfigured, "parameter %s is required", p.Name)
			}
			continue
		}
		if err := p.check(s); err != nil {
			return Fail(ErrConfigured, "%v", err)
		}
	}
	return nil
}

// Secrets returns the non-empty values of Secret parameters, for redaction.
func (v *Values) Secrets() []string {
	var out []string
	for name, p := range v.decl {
		if s := v.set[name]; p.Secret && s != "" {
			out = append(out, s)
		}
	}
	return out
}
