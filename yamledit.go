//go:build inject

package main

// Surgical edits of one YAML (or JSON) document's text, for --inject and
// --uninject: an edit adds text at a place found from the parsed nodes'
// positions, or cuts a range out, and leaves every other byte as it was,
// comments and key order included. Inject only prepends items to a list
// and adds keys first in a mapping (after a list item's first entry), so
// that uninject can find and cut exactly what inject wrote. Every edit is
// checked: the edited text, parsed again, must hold the data the edits say
// it does.

import (
	"bytes"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// yamlDoc is one document's text and its nodes, with their positions.
type yamlDoc struct {
	text      []byte
	root      *yaml.Node   // the top node; nil in an empty document
	lineStart []int        // the offset of each line's first byte (line 1 at index 0)
	order     []*yaml.Node // every node in text order, keys before their values
	index     map[*yaml.Node]int
	newline   string
}

func parseDoc(text []byte) (*yamlDoc, error) {
	var top yaml.Node
	if err := yaml.Unmarshal(text, &top); err != nil {
		return nil, err
	}
	d := &yamlDoc{text: text, newline: "\n", index: map[*yaml.Node]int{}, lineStart: []int{0}}
	if bytes.Contains(text, []byte("\r\n")) {
		d.newline = "\r\n"
	}
	for i, b := range text {
		if b == '\n' {
			d.lineStart = append(d.lineStart, i+1)
		}
	}
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		d.root = top.Content[0]
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		d.index[n] = len(d.order)
		d.order = append(d.order, n)
		for _, c := range n.Content {
			walk(c)
		}
	}
	if d.root != nil {
		walk(d.root)
	}
	return d, nil
}

// data is the document's content as plain Go values.
func (d *yamlDoc) data() (any, error) {
	var v any
	err := yaml.Unmarshal(d.text, &v)
	return v, err
}

// line is the text of line n (1-based), without its line break.
func (d *yamlDoc) line(n int) string {
	if n < 1 || n > len(d.lineStart) {
		return ""
	}
	end := len(d.text)
	if n < len(d.lineStart) {
		end = d.lineStart[n]
	}
	return strings.TrimRight(string(d.text[d.lineStart[n-1]:end]), "\r\n")
}

// lineOffset is the offset of line n's first byte; past the last line, the
// end of the text.
func (d *yamlDoc) lineOffset(n int) int {
	if n > len(d.lineStart) {
		return len(d.text)
	}
	return d.lineStart[n-1]
}

// offset is the byte offset of a node (its column counts characters).
func (d *yamlDoc) offset(n *yaml.Node) int {
	off := d.lineOffset(n.Line)
	for range n.Column - 1 {
		_, size := utf8.DecodeRune(d.text[off:])
		off += size
	}
	return off
}

func blankOrComment(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || strings.HasPrefix(s, "#")
}

// startLine is the first line of a block node: a list item's dash may
// stand alone on the line above it.
func (d *yamlDoc) startLine(n *yaml.Node) int {
	l := n.Line
	for l > 1 && strings.TrimSpace(d.line(l-1)) == "-" {
		l--
	}
	return l
}

// endLine is the last line of a block node's subtree: the line before the
// next node's, less the blank and comment lines that lead up to it.
func (d *yamlDoc) endLine(n *yaml.Node) int {
	last := n
	for len(last.Content) > 0 {
		last = last.Content[len(last.Content)-1]
	}
	end := len(d.lineStart)
	if i := d.index[last] + 1; i < len(d.order) {
		end = d.startLine(d.order[i]) - 1
	}
	for end > n.Line && blankOrComment(d.line(end)) {
		end--
	}
	return end
}

// afterLine is the offset just past line n's line break, and the prefix
// text inserted there needs: a line break when line n is the last and has
// none.
func (d *yamlDoc) afterLine(n int) (int, string) {
	off := d.lineOffset(n + 1)
	if n >= len(d.lineStart) && !bytes.HasSuffix(d.text, []byte("\n")) {
		return off, d.newline
	}
	return off, ""
}

// flowEnd is the offset just past the flow node that starts at off: a
// bracketed collection, a quoted or a plain scalar.
func (d *yamlDoc) flowEnd(off int) int {
	t := d.text
	if off >= len(t) {
		return off
	}
	switch t[off] {
	case '"':
		i := off + 1
		for i < len(t) && t[i] != '"' {
			if t[i] == '\\' {
				i++
			}
			i++
		}
		return min(i+1, len(t))
	case '\'':
		for i := off + 1; i < len(t); i++ {
			if t[i] == '\'' {
				if i+1 < len(t) && t[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
		return len(t)
	case '[', '{':
		depth := 0
		for i := off; i < len(t); i++ {
			switch t[i] {
			case '"', '\'':
				i = d.flowEnd(i) - 1
			case '[', '{':
				depth++
			case ']', '}':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(t)
	}
	i := off // a plain scalar: up to a flow indicator, a comment or the line's end
	for i < len(t) && !strings.ContainsRune(",]}\n", rune(t[i])) && !(t[i] == '#' && i > off && t[i-1] == ' ') {
		i++
	}
	return trimSpaceEnd(t, off, i)
}

func trimSpaceEnd(t []byte, from, to int) int {
	for to > from && (t[to-1] == ' ' || t[to-1] == '\t' || t[to-1] == '\r') {
		to--
	}
	return to
}

// lookup is the node at path: mapping keys (string) and list indexes (int).
func (d *yamlDoc) lookup(path []any) *yaml.Node {
	n := d.root
	for _, step := range path {
		switch {
		case n == nil:
			return nil
		case n.Kind == yaml.MappingNode:
			key, _ := step.(string)
			_, n = mappingEntry(n, key)
		case n.Kind == yaml.SequenceNode:
			i, ok := step.(int)
			if !ok || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
	}
	return n
}

// mappingEntry is the key and value nodes of key in the mapping m.
func mappingEntry(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// editKind is what an edit does.
type editKind int

const (
	prependItems editKind = iota // values go first in the list at path
	addKey                       // key: values[0] goes into the mapping at path
	removeItems                  // the items at indexes go from the list at path
	removeKey                    // key goes from the mapping at path
)

// edit is one change of a document, said of its data: the text and the
// data are both changed by it, and must agree.
type edit struct {
	kind    editKind
	path    []any
	key     string
	values  []any // prependItems, addKey
	indexes []int // removeItems: ascending
}
