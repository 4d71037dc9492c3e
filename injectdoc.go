//go:build inject

package main

// --inject and --uninject over a stream of documents: each pod template
// found (a Pod's, a workload's, a CronJob's, those of a List's items) is
// wired as its settings say, re-wired when they or the version changed,
// or unwired; every other document is written back byte for byte. With
// --rbac, a Role and RoleBinding for the birth deps' reads of the pod go
// before the workload (in a List, first among its items).

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// injector is one run: uninject or inject, and the settings of its flags.
type injector struct {
	uninject bool
	settings []setting
	named    map[string]bool // containers the flags name that a template has
}

// action is what a run does to one template.
type action struct {
	t        template
	settings []setting     // inject: what to wire
	record   *injectRecord // what is wired now, if anything
	// index is the template's place among the document's: the same
	// before and after inject's edits, which add no template (where paths,
	// in a List, may shift).
	index int
}

// docResult is a document done: its text, and new documents to go
// before it.
type docResult struct {
	text   []byte
	before [][]byte
	redo   map[string]bool // owners whose RBAC objects elsewhere are stale
}

// document wires (or unwires) the templates of one document. where names
// it in problems.
func (j *injector) document(text []byte, where string) (docResult, []string) {
	res := docResult{text: text, redo: map[string]bool{}}
	d, err := parseDoc(text)
	if err != nil {
		return res, []string{fmt.Sprintf("%s: not YAML: %v", where, cutError{err})}
	}
	v, _ := d.data()
	var acts []action
	var problems []string
	for i, t := range findTemplates(v) {
		a, probs := j.decide(d, v, t)
		problems = append(problems, prefixAll(t.in(where), probs)...)
		if a != nil {
			a.index = i
			acts = append(acts, *a)
		}
	}
	if len(acts) == 0 || len(problems) > 0 {
		return res, problems
	}
	// First out with the old wiring, then in with the new.
	var edits []edit
	for _, a := range acts {
		if a.record != nil {
			rs, err := recordSettings(a.record)
			if err != nil {
				return res, []string{fmt.Sprintf("%s: %v: take it out with the kubexit that wrote it (version %s)", a.t.in(where), err, a.record.Version)}
			}
			ps, _ := resolveSettings(rs, templateContainers(d, a.t.path))
			edits = append(edits, uninjectEdits(d, a.t.path, planWiring(d, a.t.path, ps), a.record)...)
			res.redo[a.t.owner] = true
		}
	}
	edits = append(edits, rbacItemEdits(d, v, res.redo)...)
	if res.text, _, err = d.applyEdits(edits); err != nil {
		return res, []string{fmt.Sprintf("%s: %v", where, err)}
	}
	if j.uninject {
		return res, nil
	}
	return j.wire(res, acts, where)
}

// decide is what to do with template t of the document d (its data v):
// nil for nothing.
func (j *injector) decide(d *yamlDoc, v any, t template) (*action, []string) {
	a := &action{t: t}
	annotations := map[string]string{}
	if m, ok := dataAt(v, append(slices.Clone(t.path), "metadata", "annotations")...).(map[string]any); ok {
		for k, val := range m {
			annotations[k], _ = val.(string)
		}
	}
	if text, ok := annotations[injectRecordKey]; ok {
		a.record = &injectRecord{}
		if err := json.Unmarshal([]byte(text), a.record); err != nil {
			return nil, []string{fmt.Sprintf("annotation %s is not what kubexit writes (%v); remove it and what it wired by hand", injectRecordKey, err)}
		}
	}
	if j.uninject {
		if a.record == nil {
			return nil, nil
		}
		return a, nil
	}
	own, err := parseKeyedSettings(annotations, "kubexit.io/")
	if err != nil {
		return nil, []string{err.Error()}
	}
	cs := templateContainers(d, t.path)
	for _, s := range j.settings {
		if s.container == "" || slices.ContainsFunc(cs, func(c podContainer) bool { return c.name == s.container }) {
			own = append(own, s)
			j.named[s.container] = true
		}
	}
	if !slices.ContainsFunc(own, func(s setting) bool { return s.container != "" }) {
		if a.record == nil {
			return nil, nil
		}
		rs, err := recordSettings(a.record)
		if err != nil {
			return nil, []string{err.Error()}
		}
		own = append(rs, own...) // the recorded wiring, under this run's image and rbac
	}
	if a.record != nil && a.record.sameWiring(own) {
		return nil, nil
	}
	a.settings = own
	return a, nil
}

// wire injects the acts' settings into the document res holds (their old
// wiring taken out), and checks the pods so wired as --lint does.
func (j *injector) wire(res docResult, acts []action, where string) (docResult, []string) {
	d, err := parseDoc(res.text)
	if err != nil {
		return res, []string{fmt.Sprintf("%s: %v", where, err)}
	}
	v, _ := d.data()
	var edits, rbacItems []edit
	var problems []string
	var wired []template
	for k, t := range findTemplates(v) {
		i := slices.IndexFunc(acts, func(a action) bool { return a.index == k })
		if i < 0 {
			continue
		}
		what := t.in(where)
		ps, probs := resolveSettings(acts[i].settings, templateContainers(d, t.path))
		if len(probs) > 0 {
			problems = append(problems, prefixAll(what, probs)...)
			continue
		}
		rec := &injectRecord{Version: versionString(), Flags: ps.flags}
		es, err := injectEdits(d, t.path, planWiring(d, t.path, ps), rec)
		if err != nil {
			problems = append(problems, what+": "+err.Error())
			continue
		}
		edits, wired = append(edits, es...), append(wired, t)
		if docs, err := rbacObjects(v, t, ps); err != nil {
			problems = append(problems, what+": "+err.Error())
		} else if len(t.path) > 0 && t.path[0] == "items" {
			rbacItems = append(rbacItems, edit{kind: prependItems, path: []any{"items"}, values: docs})
		} else {
			for _, doc := range docs {
				res.before = append(res.before, renderDocument(d, doc.(omap)))
			}
		}
	}
	if len(problems) > 0 {
		return res, problems
	}
	text, v, err := d.applyEdits(append(edits, rbacItems...))
	if err != nil {
		return res, []string{fmt.Sprintf("%s: %v", where, err)}
	}
	res.text = text
	return res, lintWired(v, wired, where)
}

// lintWired checks the wired templates as --lint would: what inject
// cannot know alone (a grace period too short, a hold cycle, a value the
// runtime refuses) is refused here.
func lintWired(v any, wired []template, where string) []string {
	var problems []string
	for _, t := range wired {
		raw, _ := json.Marshal(dataAt(v, append(slices.Clone(t.path), "spec")...))
		var spec lintPodSpec
		if err := json.Unmarshal(raw, &spec); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", t.in(where), err))
			continue
		}
		problems = append(problems, prefixAll(t.in(where), lintPod(spec))...)
	}
	return problems
}

func prefixAll(prefix string, problems []string) []string {
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = prefix + ": " + p
	}
	return out
}

// renderDocument is a new document's text, in d's line breaks and list
// indentation.
func renderDocument(d *yamlDoc, doc omap) []byte {
	var b strings.Builder
	for _, e := range doc {
		d.renderKey(&b, e.k, e.v, 0)
	}
	return []byte(b.String())
}
