//go:build inject

package main

// A file's stream of documents for --inject and --uninject: split at the
// "---" lines, each document done alone, the RBAC documents inject writes
// (before their workload) taken out again when it is re-wired or unwired.

import (
	"bytes"
	"fmt"
	"regexp"

	yaml "go.yaml.in/yaml/v3"
)

// streamDoc is one document of a stream: its "---" line (if any), the rest.
type streamDoc struct{ sep, body []byte }

// separatorLine is a line that starts a document, with its line break.
var separatorLine = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?(\r?\n|$)`)

// stream does one file's text; name says where in problems. A KRM
// ResourceList takes its settings from its functionConfig.
func (j *injector) stream(name string, text []byte) ([]byte, []string) {
	docs := splitDocs(text)
	var problems []string
	results := make([]docResult, len(docs))
	redo := map[string]bool{}
	for i, d := range docs {
		where := fmt.Sprintf("%s: document %d", name, i+1)
		if len(docs) == 1 {
			where = name
		}
		res, probs := j.document(d.body, where)
		problems = append(problems, probs...)
		results[i] = res
		for o := range res.redo {
			redo[o] = true
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	// A written RBAC document goes with the "---" line after it (inject
	// put that line there), or, last in the stream, with its own.
	drop, keepSep := make([]bool, len(docs)), make([]bool, len(docs))
	for i := range docs {
		var v any
		drop[i], keepSep[i] = yaml.Unmarshal(docs[i].body, &v) == nil && isRBACFor(v, redo), true
	}
	for i := len(docs) - 1; i >= 0; i-- {
		switch {
		case !drop[i]:
		case i+1 < len(docs) && keepSep[i+1]:
			keepSep[i+1] = false
		default:
			keepSep[i] = false
		}
	}
	var out bytes.Buffer
	for i, d := range docs {
		if keepSep[i] {
			out.Write(d.sep)
		}
		if drop[i] {
			continue
		}
		for _, b := range results[i].before {
			out.Write(b)
			out.WriteString("---" + newlineOf(b))
		}
		out.Write(results[i].text)
	}
	return out.Bytes(), nil
}

// splitDocs splits a stream at its "---" lines: each document's own line
// (none for a first document without one), and its text.
func splitDocs(text []byte) []streamDoc {
	locs := separatorLine.FindAllIndex(text, -1)
	var docs []streamDoc
	if len(locs) == 0 || locs[0][0] > 0 {
		end := len(text)
		if len(locs) > 0 {
			end = locs[0][0]
		}
		docs = append(docs, streamDoc{body: text[:end]})
	}
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		docs = append(docs, streamDoc{sep: text[loc[0]:loc[1]], body: text[loc[1]:end]})
	}
	return docs
}

func newlineOf(b []byte) string {
	if bytes.Contains(b, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}
