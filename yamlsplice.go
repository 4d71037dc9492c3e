//go:build inject

package main

// Where each edit of yamledit.go goes in the text, and what text it adds:
// in block style, whole lines in the document's own indentation; in flow
// style (and JSON), entries right after the opening bracket, on lines of
// their own when the collection has one entry a line.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// entry is a list item (first == last) or a mapping's key and value.
type entry struct{ first, last *yaml.Node }

func entries(n *yaml.Node) []entry {
	var es []entry
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			es = append(es, entry{n.Content[i], n.Content[i+1]})
		}
		return es
	}
	for _, c := range n.Content {
		es = append(es, entry{c, c})
	}
	return es
}

// spliceFor is where and what edit e changes in the text.
func (d *yamlDoc) spliceFor(e edit) ([]splice, error) {
	n := d.lookup(e.path)
	if a := d.anchorOn(e.path); a != nil {
		name := "&" + a.Anchor
		if a.Kind == yaml.AliasNode {
			name = "*" + a.Value
		}
		return nil, fmt.Errorf("line %d: %s goes through a YAML anchor or alias (%s), which an edit would change in every place it is used; write it out in full", a.Line, pathString(e.path), name)
	}
	want := yaml.SequenceNode
	if e.kind == addKey || e.kind == removeKey {
		want = yaml.MappingNode
	}
	if n == nil || n.Kind != want {
		return nil, fmt.Errorf("%s is not a %s", pathString(e.path), map[yaml.Kind]string{yaml.SequenceNode: "list", yaml.MappingNode: "mapping"}[want])
	}
	flow := n.Style&yaml.FlowStyle != 0
	switch e.kind {
	case prependItems:
		if flow {
			return d.flowPrepend(n, mapSlice(e.values, d.flowText))
		}
		return d.blockPrepend(n, e.values)
	case addKey:
		if flow {
			return d.flowPrepend(n, []string{d.flowText(e.key) + ": " + d.flowText(e.values[0])})
		}
		return d.blockAddKey(n, e.key, e.values[0])
	case removeItems:
		var out []splice
		for i := 0; i < len(e.indexes); {
			j := i
			for j+1 < len(e.indexes) && e.indexes[j+1] == e.indexes[j]+1 {
				j++
			}
			s, err := d.cut(n, entries(n), e.indexes[i], e.indexes[j])
			if err != nil {
				return nil, err
			}
			out, i = append(out, s), j+1
		}
		return out, nil
	default:
		i := slices.IndexFunc(entries(n), func(en entry) bool { return en.first.Value == e.key })
		if i < 0 {
			return nil, fmt.Errorf("%s has no %s", pathString(e.path), e.key)
		}
		s, err := d.cut(n, entries(n), i, i)
		return []splice{s}, err
	}
}

// anchorOn is the first node on the way to path that has an anchor or is
// an alias, or nil.
func (d *yamlDoc) anchorOn(path []any) *yaml.Node {
	for i := range len(path) + 1 {
		if n := d.lookup(path[:i]); n != nil && (n.Anchor != "" || n.Kind == yaml.AliasNode) {
			return n
		}
	}
	return nil
}

// flowPrepend puts entries (rendered) first in the flow collection n.
func (d *yamlDoc) flowPrepend(n *yaml.Node, texts []string) ([]splice, error) {
	open := d.offset(n)
	if open >= len(d.text) || (d.text[open] != '[' && d.text[open] != '{') {
		return nil, fmt.Errorf("line %d: a flow collection that does not start with a bracket", n.Line)
	}
	es := entries(n)
	if len(es) == 0 {
		return []splice{{open + 1, open + 1, strings.Join(texts, ", ")}}, nil
	}
	first := d.offset(es[0].first)
	// One entry a line: each new one on a line of its own, in the same
	// indentation, where the gap before the first entry is just that (so
	// that cutting a new one out leaves the gap as it was).
	if indent := leadingSpaces(d.line(es[0].first.Line)); string(d.text[open+1:first]) == d.newline+indent {
		var b strings.Builder
		for _, t := range texts {
			b.WriteString(d.newline + indent + t + ",")
		}
		return []splice{{open + 1, open + 1, b.String()}}, nil
	}
	return []splice{{first, first, strings.Join(texts, ", ") + ", "}}, nil
}

// blockPrepend puts items first in the block list n, on the lines right
// after its key's.
func (d *yamlDoc) blockPrepend(n *yaml.Node, items []any) ([]splice, error) {
	i := d.index[n]
	if i == 0 || d.order[i-1].Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("line %d: a list that is not a mapping's value", n.Line)
	}
	at, pre := d.afterLine(d.order[i-1].Line)
	var b strings.Builder
	for _, it := range items {
		d.renderItem(&b, it, n.Column-1)
	}
	return []splice{{at, at, pre + b.String()}}, nil
}

// blockAddKey puts key: value in the block mapping n: first, on the lines
// before its first key; in a list item, whose first line is "- name: x",
// after that first entry.
func (d *yamlDoc) blockAddKey(n *yaml.Node, key string, value any) ([]splice, error) {
	first := n.Content[0]
	var b strings.Builder
	d.renderKey(&b, key, value, first.Column-1)
	if len(leadingSpaces(d.line(first.Line))) == first.Column-1 {
		at := d.lineOffset(first.Line)
		return []splice{{at, at, b.String()}}, nil
	}
	at, pre := d.afterLine(d.endLine(n.Content[1]))
	text := b.String()
	if pre != "" {
		text = pre + strings.TrimSuffix(text, d.newline)
	}
	return []splice{{at, at, text}}, nil
}

// cut removes the entries i..j of the collection n: their lines in block
// style, in flow style their text and one comma.
func (d *yamlDoc) cut(n *yaml.Node, es []entry, i, j int) (splice, error) {
	if n.Style&yaml.FlowStyle != 0 {
		start, end := d.offset(es[i].first), 0
		switch {
		case j+1 < len(es):
			end = d.offset(es[j+1].first)
		case i > 0:
			start, end = d.flowEnd(d.offset(es[i-1].last)), d.flowEnd(d.offset(es[j].last))
		default:
			end = d.flowEnd(d.offset(es[j].last))
		}
		return splice{start, end, ""}, nil
	}
	first := es[i].first
	line, column := first.Line, first.Column-1 // where the line must start: the key, or the list's dash
	if n.Kind == yaml.SequenceNode {
		line, column = d.startLine(first), n.Column-1
	}
	lead := leadingSpaces(d.line(line))
	if len(lead) != column || (n.Kind == yaml.SequenceNode && !strings.HasPrefix(d.line(line)[len(lead):], "-")) {
		return splice{}, fmt.Errorf("line %d: an entry that does not start its line; this layout is not one kubexit can edit", first.Line)
	}
	end, pre := d.afterLine(d.endLine(es[j].last))
	start := d.lineOffset(line)
	if pre != "" && start >= len(d.newline) {
		start -= len(d.newline) // the last line has no line break: take the one before
	}
	return splice{start, end, ""}, nil
}

func leadingSpaces(s string) string { return s[:len(s)-len(strings.TrimLeft(s, " "))] }

// pathString is a path as a reader would write it: spec.containers[1].env.
func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	if b.Len() == 0 {
		return "the document"
	}
	return b.String()
}

// omap is a mapping kubexit writes, in the order it is written.
type omap []kv

type kv struct {
	k string
	v any
}

// flowText renders a value in flow style: as JSON in a JSON document, and
// with plain strings where YAML allows them in a YAML one.
func (d *yamlDoc) flowText(v any) string {
	if s, ok := v.(string); ok && !d.json() && scalarText(s) == s && !strings.ContainsAny(s, ",[]{}#") {
		return s
	}
	switch v := v.(type) {
	case omap:
		return "{" + strings.Join(mapSlice(v, func(e kv) string { return d.flowText(e.k) + ": " + d.flowText(e.v) }), ", ") + "}"
	case []any:
		return "[" + strings.Join(mapSlice(v, d.flowText), ", ") + "]"
	}
	return flowText(v)
}

// json tells whether the document is JSON: a flow mapping at the top.
func (d *yamlDoc) json() bool {
	return d.root != nil && d.root.Style&yaml.FlowStyle != 0 && bytes.HasPrefix(bytes.TrimSpace(d.text), []byte("{"))
}

// flowText renders a value of strings, bools, ints, omaps and lists as JSON,
// which is flow-style YAML too.
func flowText(v any) string {
	switch v := v.(type) {
	case omap:
		return "{" + strings.Join(mapSlice(v, func(e kv) string { return flowText(e.k) + ": " + flowText(e.v) }), ", ") + "}"
	case []any:
		return "[" + strings.Join(mapSlice(v, flowText), ", ") + "]"
	case string:
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return strings.TrimSuffix(b.String(), "\n")
	}
	return fmt.Sprint(v)
}

func mapSlice[T any](s []T, f func(T) string) []string {
	out := make([]string, len(s))
	for i, e := range s {
		out[i] = f(e)
	}
	return out
}

// scalarText is a string as a block value: plain where YAML reads it back
// as the same string, else single-quoted, else (a line break) JSON-quoted.
func scalarText(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprint(v)
	}
	if out, err := yaml.Marshal(s); err == nil && string(out) == s+"\n" {
		return s
	}
	if !strings.ContainsAny(s, "\r\n\t") {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return flowText(s)
}

// renderKey writes "key: value" in block style at indent.
func (d *yamlDoc) renderKey(b *strings.Builder, key string, v any, indent int) {
	b.WriteString(strings.Repeat(" ", indent) + scalarText(key) + ":")
	d.renderValue(b, v, indent)
}

// renderValue writes what follows "key:" (or "- key:") at indent.
func (d *yamlDoc) renderValue(b *strings.Builder, v any, indent int) {
	switch v := v.(type) {
	case omap:
		if len(v) == 0 {
			b.WriteString(" {}" + d.newline)
			return
		}
		b.WriteString(d.newline)
		for _, e := range v {
			d.renderKey(b, e.k, e.v, indent+2)
		}
	case []any:
		if len(v) == 0 {
			b.WriteString(" []" + d.newline)
			return
		}
		b.WriteString(d.newline)
		for _, it := range v {
			d.renderItem(b, it, indent+d.seqIndent())
		}
	default:
		b.WriteString(" " + scalarText(v) + d.newline)
	}
}

// renderItem writes "- item" in block style, its dash at column dash.
func (d *yamlDoc) renderItem(b *strings.Builder, v any, dash int) {
	b.WriteString(strings.Repeat(" ", dash) + "- ")
	m, ok := v.(omap)
	if !ok || len(m) == 0 {
		if ok {
			b.WriteString("{}" + d.newline)
		} else {
			b.WriteString(scalarText(v) + d.newline)
		}
		return
	}
	b.WriteString(scalarText(m[0].k) + ":")
	d.renderValue(b, m[0].v, dash+2)
	for _, e := range m[1:] {
		d.renderKey(b, e.k, e.v, dash+2)
	}
}

// seqIndent is how much deeper than its key the document indents a block
// list: 0 ("key:\n- a") or more ("key:\n  - a"), from its first one.
func (d *yamlDoc) seqIndent() int {
	for i, n := range d.order {
		if n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle == 0 && i > 0 && d.order[i-1].Kind == yaml.ScalarNode {
			return max(0, n.Column-d.order[i-1].Column)
		}
	}
	return 0
}

// splice replaces text[at:end] with text.
type splice struct {
	at, end int
	text    string
}
