package gen

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a 1-based line and column in a spec file. The zero Pos means the
// element was absent from the file.
type Pos struct {
	Line, Col int
}

// IsZero reports whether p marks an absent element.
func (p Pos) IsZero() bool { return p.Line == 0 }

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

// Str is a scalar from the spec together with where it was written.
type Str struct {
	V   string
	Pos Pos
}

// Set reports whether the scalar was present in the file.
func (s Str) Set() bool { return !s.Pos.IsZero() }

// Bool is a boolean scalar from the spec together with where it was written.
type Bool struct {
	V   bool
	Pos Pos
}

// Names is one name or a list of names (`on: x` or `on: [x, y]`).
type Names []Str

// Entry is one key of a mapping whose key order matters.
type Entry[T any] struct {
	Key Str
	Val T
}

// Entries is a YAML mapping decoded in file order, so that generated
// identifiers follow the order a maintainer wrote.
type Entries[T any] []Entry[T]

// nodeDecoder is implemented by spec types that decode themselves.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node)
}

// decoder turns a yaml.Node tree into spec structs. Unlike yaml.v3's own
// decoder it keeps going after an error, so that a maintainer sees every
// problem in one run, and it reports each with its line and column.
type decoder struct {
	errs *ErrorList
}

func (d *decoder) errorf(p Pos, format string, args ...any) {
	d.errs.add(p, fmt.Sprintf(format, args...))
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return resolve(n.Content[0])
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "an empty node"
}

var (
	strType      = reflect.TypeOf(Str{})
	boolType     = reflect.TypeOf(Bool{})
	posType      = reflect.TypeOf(Pos{})
	nodeDecIface = reflect.TypeOf((*nodeDecoder)(nil)).Elem()
)

// decode fills v (addressable) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value) {
	n = resolve(n)
	if n == nil {
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecIface) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n)
		return
	}
	switch v.Type() {
	case strType:
		if n.Kind != yaml.ScalarNode {
			d.errorf(posOf(n), "expected a string, found %s", kindName(n))
			return
		}
		v.Set(reflect.ValueOf(Str{V: n.Value, Pos: posOf(n)}))
		return
	case boolType:
		if n.Kind != yaml.ScalarNode || (n.Value != "true" && n.Value != "false") {
			d.errorf(posOf(n), "expected true or false, found %s", kindName(n))
			return
		}
		v.Set(reflect.ValueOf(Bool{V: n.Value == "true", Pos: posOf(n)}))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem())
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(posOf(n), "expected a list, found %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		d.decodeStruct(n, v)
	default:
		panic(fmt.Sprintf("gen: cannot decode into %s", v.Type()))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(posOf(n), "expected a mapping, found %s", kindName(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == posType && f.Name == "Pos" {
			v.Field(i).Set(reflect.ValueOf(posOf(n)))
			continue
		}
		name := f.Tag.Get("yaml")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		known = append(known, name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(posOf(k), "unknown key %q (known keys: %s)", k.Value, strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			d.errorf(posOf(k), "key %q given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		d.decode(val, v.Field(idx))
	}
}

func (ns *Names) decodeNode(d *decoder, n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		*ns = Names{{V: n.Value, Pos: posOf(n)}}
	case yaml.SequenceNode:
		out := make(Names, 0, len(n.Content))
		for _, c := range n.Content {
			c = resolve(c)
			if c.Kind != yaml.ScalarNode {
				d.errorf(posOf(c), "expected a name, found %s", kindName(c))
				continue
			}
			out = append(out, Str{V: c.Value, Pos: posOf(c)})
		}
		*ns = out
	default:
		d.errorf(posOf(n), "expected a name or a list of names, found %s", kindName(n))
	}
}

func (es *Entries[T]) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(posOf(n), "expected a mapping, found %s", kindName(n))
		return
	}
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(posOf(k), "expected a name as key, found %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(posOf(k), "%q is declared twice (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = posOf(k)
		var e Entry[T]
		e.Key = Str{V: k.Value, Pos: posOf(k)}
		d.decode(n.Content[i+1], reflect.ValueOf(&e.Val).Elem())
		*es = append(*es, e)
	}
}

func (rn *rawNext) decodeNode(d *decoder, n *yaml.Node) {
	rn.Pos = posOf(n)
	switch n.Kind {
	case yaml.ScalarNode:
		rn.State = Str{V: n.Value, Pos: posOf(n)}
	case yaml.MappingNode:
		rn.Map.decodeNode(d, n)
	default:
		d.errorf(posOf(n), "next: expected a state or a mapping of outcome to state, found %s", kindName(n))
	}
}

// decodeNode decodes a state: its fixed keys into the struct fields, any
// other key into Attrs, which the checker compares with the attributes the
// protocol declares.
func (rs *rawState) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(posOf(n), "expected a mapping, found %s", kindName(n))
		return
	}
	fixed := map[string]bool{}
	t := reflect.TypeOf(*rs)
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("yaml"); name != "" && name != "-" {
			fixed[name] = true
		}
	}
	known := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if fixed[k.Value] {
			known.Content = append(known.Content, k, n.Content[i+1])
			continue
		}
		rs.Attrs = append(rs.Attrs, rawAttrValue{Key: Str{V: k.Value, Pos: posOf(k)}, Node: n.Content[i+1]})
	}
	d.decodeStruct(known, reflect.ValueOf(rs).Elem())
}

func (w *rawWhen) decodeNode(d *decoder, n *yaml.Node) {
	w.Pos = posOf(n)
	switch n.Kind {
	case yaml.MappingNode:
		var t Entries[Bool]
		t.decodeNode(d, n)
		w.Terms = append(w.Terms, t)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			c = resolve(c)
			if c.Kind != yaml.MappingNode {
				d.errorf(posOf(c), "when: expected a mapping of fact to true or false, found %s", kindName(c))
				continue
			}
			var t Entries[Bool]
			t.decodeNode(d, c)
			w.Terms = append(w.Terms, t)
		}
		if len(n.Content) == 0 {
			d.errorf(posOf(n), "when: an empty list never holds")
		}
	default:
		d.errorf(posOf(n), "when: expected a mapping of fact to true or false, or a list of them, found %s", kindName(n))
	}
}

// decodeNode decodes an effect: fact: bool pairs, or outcome: {fact: bool}
// pairs; the kind of the first value decides which.
func (e *rawEffect) decodeNode(d *decoder, n *yaml.Node) {
	e.Pos = posOf(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(posOf(n), "effect: expected a mapping of fact to true or false (or of outcome to such a mapping), found %s", kindName(n))
		return
	}
	if len(n.Content) >= 2 && resolve(n.Content[1]).Kind == yaml.MappingNode {
		e.ByOutcome.decodeNode(d, n)
		return
	}
	e.All.decodeNode(d, n)
}
