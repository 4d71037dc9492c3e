//go:build inject

package main

// Edits made: their splices applied to the text, and the result checked
// against the same edits made to the document's data.

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"

	yaml "go.yaml.in/yaml/v3"
)

// applyData makes edit e to the plain data v at path.
func applyData(v any, path []any, e edit) (any, error) {
	if len(path) > 0 {
		switch c := v.(type) {
		case map[string]any:
			k, _ := path[0].(string)
			nv, err := applyData(c[k], path[1:], e)
			c[k] = nv
			return c, err
		case []any:
			i, _ := path[0].(int)
			if i < 0 || i >= len(c) {
				return v, fmt.Errorf("no item %d", i)
			}
			nv, err := applyData(c[i], path[1:], e)
			c[i] = nv
			return c, err
		}
		return v, fmt.Errorf("nothing at %v", path)
	}
	switch e.kind {
	case prependItems:
		l, _ := v.([]any)
		return append(plainCopy(e.values).([]any), l...), nil
	case addKey:
		m, _ := v.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		m[e.key] = plainCopy(e.values[0])
		return m, nil
	case removeItems:
		l, _ := v.([]any)
		var out []any
		for i, it := range l {
			if !slices.Contains(e.indexes, i) {
				out = append(out, it)
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	default:
		m, _ := v.(map[string]any)
		delete(m, e.key)
		return m, nil
	}
}

// plainCopy is v (of rendered values) as yaml decodes it: the types the
// edited text will parse to.
func plainCopy(v any) any {
	var out any
	if err := yaml.Unmarshal([]byte(flowText(v)), &out); err != nil {
		panic("kubexit renders a value it cannot read back: " + err.Error())
	}
	return out
}

// applyEdits makes the edits to the document's text, and checks that the
// result parses to the data they say; it returns the text and that data.
func (d *yamlDoc) applyEdits(edits []edit) ([]byte, any, error) {
	if len(edits) == 0 {
		v, err := d.data()
		return d.text, v, err
	}
	edits = mergePrepends(edits)
	var splices []splice
	for _, e := range edits {
		s, err := d.spliceFor(e)
		if err != nil {
			return nil, nil, err
		}
		splices = append(splices, s...)
	}
	slices.SortStableFunc(splices, func(a, b splice) int { return a.at - b.at })
	var out bytes.Buffer
	pos := 0
	for _, s := range splices {
		if s.at < pos {
			return nil, nil, fmt.Errorf("two changes overlap at byte %d", s.at)
		}
		out.Write(d.text[pos:s.at])
		out.WriteString(s.text)
		pos = s.end
	}
	out.Write(d.text[pos:])
	v, err := d.check(out.Bytes(), edits)
	return out.Bytes(), v, err
}

// check parses the edited text and compares it with the original data
// changed by the edits (a layout the edits misread shows here); it returns
// the edited text's data.
func (d *yamlDoc) check(edited []byte, edits []edit) (any, error) {
	want, err := d.data()
	if err != nil {
		return nil, err
	}
	// Deeper edits first: a list's prepended items would shift the indexes
	// of the paths that go through it.
	edits = slices.Clone(edits)
	slices.SortStableFunc(edits, func(a, b edit) int { return len(b.path) - len(a.path) })
	for _, e := range edits {
		if want, err = applyData(want, e.path, e); err != nil {
			return nil, err
		}
	}
	var got any
	if err := yaml.Unmarshal(edited, &got); err != nil {
		return nil, fmt.Errorf("the edited document does not parse (%v); this layout is not one kubexit can edit", cutError{err})
	}
	if !reflect.DeepEqual(got, want) {
		return nil, fmt.Errorf("the edited document does not hold what was meant; this layout is not one kubexit can edit")
	}
	return got, nil
}

// mergePrepends makes the prepends to one list one edit, their items in
// the edits' order: apart, the text would put the first edit's items
// first and the data the last's.
func mergePrepends(edits []edit) []edit {
	var out []edit
	for _, e := range edits {
		i := slices.IndexFunc(out, func(o edit) bool {
			return o.kind == prependItems && e.kind == prependItems && reflect.DeepEqual(o.path, e.path)
		})
		if i < 0 {
			out = append(out, e)
			continue
		}
		out[i].values = append(slices.Clone(out[i].values), e.values...)
	}
	return out
}
