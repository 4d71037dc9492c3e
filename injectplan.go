//go:build inject

package main

// What --inject wires into one pod template, as the edits of yamledit.go:
// the two volumes (the binary, the graveyard), the init container that
// installs kubexit, and in each wrapped container kubexit in front of its
// command, its KUBEXIT_* variables and the two mounts; and the record of it
// all in the template's annotation, from which --uninject takes exactly
// that back out.

import (
	"fmt"
	"path"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The names and places of the wiring inject adds.
const (
	injectBinVolume       = "kubexit-bin"
	injectGraveyardVolume = "kubexit-graveyard"
	injectInstaller       = "kubexit-install"
	injectBinDir          = "/kubexit-bin"
	injectBinary          = injectBinDir + "/kubexit"
	injectRecordKey       = "kubexit.io/injected"
)

// contribution is a list (or, for the annotation, a mapping) inject puts
// entries into: the mapping that holds it, its key, and the entries, each
// known again by its name.
type contribution struct {
	under []any  // the holding mapping, from the document's top
	rel   string // the list's path from the template, as the record says it
	key   string
	items []any // omap items, or strings for the command
	names []string
	isMap bool // the annotations: items are kv entries
}

// wiring is everything inject adds to a template.
type wiring []contribution

// templateContainers lists the containers of the template at tpl.
func templateContainers(d *yamlDoc, tpl []any) []podContainer {
	var out []podContainer
	for _, list := range []string{"initContainers", "containers"} {
		lp := append(slices.Clone(tpl), "spec", list)
		n := d.lookup(lp)
		if n == nil || n.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range n.Content {
			_, name := mappingEntry(c, "name")
			_, cmd := mappingEntry(c, "command")
			pc := podContainer{list: list, path: append(slices.Clone(lp), i)}
			if name != nil {
				pc.name = name.Value
			}
			pc.command = cmd != nil && cmd.Kind == yaml.SequenceNode && len(cmd.Content) > 0
			out = append(out, pc)
		}
	}
	return out
}

// planWiring is the wiring of settings s into the template at tpl.
func planWiring(d *yamlDoc, tpl []any, s *podSettings) wiring {
	var w wiring
	spec := append(slices.Clone(tpl), "spec")
	w = append(w,
		contribution{under: spec, rel: "spec", key: "volumes", names: []string{injectBinVolume, injectGraveyardVolume}, items: []any{
			omap{{"name", injectBinVolume}, {"emptyDir", omap{}}},
			omap{{"name", injectGraveyardVolume}, {"emptyDir", omap{{"medium", "Memory"}}}},
		}},
		contribution{under: spec, rel: "spec", key: "initContainers", names: []string{injectInstaller}, items: []any{installContainer(d, tpl, s.image)}})
	for _, c := range templateContainers(d, tpl) {
		env, ok := s.env[c.name]
		if !ok {
			continue
		}
		rel := "spec." + c.list + "." + c.name
		cmd := contribution{under: c.path, rel: rel, key: "command", items: []any{injectBinary}, names: []string{injectBinary}}
		if !c.command {
			cmd.items = append(cmd.items, anySlice(s.entrypoints[c.name])...)
		}
		var envItems []any
		var envNames []string
		for _, e := range env {
			item := omap{{"name", e.k}, {"value", e.v}}
			if field, ok := downwardFields[e.k]; ok {
				item = omap{{"name", e.k}, {"valueFrom", omap{{"fieldRef", omap{{"fieldPath", field}}}}}}
			}
			envItems, envNames = append(envItems, item), append(envNames, e.k)
		}
		graveyard := defaultGraveyard
		if v, ok := lookupKV(env, "KUBEXIT_GRAVEYARD"); ok {
			graveyard = v.(string)
		}
		w = append(w, cmd,
			contribution{under: c.path, rel: rel, key: "env", items: envItems, names: envNames},
			contribution{under: c.path, rel: rel, key: "volumeMounts", names: []string{injectBinVolume, injectGraveyardVolume}, items: []any{
				omap{{"name", injectBinVolume}, {"mountPath", injectBinDir}, {"readOnly", true}},
				omap{{"name", injectGraveyardVolume}, {"mountPath", graveyard}},
			}})
	}
	return w
}

// installContainer is the init container that installs kubexit from image.
func installContainer(d *yamlDoc, tpl []any, image string) omap {
	c := omap{
		{"name", injectInstaller},
		{"image", image},
		{"command", []any{"/kubexit", "--install", injectBinDir}},
		// What the "restricted" Pod Security Standard asks of a container:
		// kubexit's copy needs nothing more.
		{"securityContext", omap{
			{"allowPrivilegeEscalation", false},
			{"capabilities", omap{{"drop", []any{"ALL"}}}},
			{"readOnlyRootFilesystem", true},
			{"runAsNonRoot", true},
			{"seccompProfile", omap{{"type", "RuntimeDefault"}}},
		}},
		{"volumeMounts", []any{
			omap{{"name", injectBinVolume}, {"mountPath", injectBinDir}},
			omap{{"name", injectGraveyardVolume}, {"mountPath", defaultGraveyard}},
		}},
	}
	if guaranteed(d, tpl) {
		// A pod is Guaranteed only if every container, init ones too, has
		// limits equal to its requests: so must this one, or inject would
		// make the pod Burstable. An init container's requests do not add
		// to the pod's (the larger of the two counts), and these are small.
		amounts := omap{{"cpu", "100m"}, {"memory", "64Mi"}}
		c = slices.Insert(c, 4, kv{"resources", omap{{"requests", amounts}, {"limits", amounts}}})
	}
	return c
}

// guaranteed tells whether the template's pod is of the Guaranteed QoS
// class: every container with cpu and memory limits, and requests (if
// any) the same.
func guaranteed(d *yamlDoc, tpl []any) bool {
	cs := templateContainers(d, tpl)
	for _, c := range cs {
		for _, r := range []string{"cpu", "memory"} {
			limit := d.lookup(append(slices.Clone(c.path), "resources", "limits", r))
			request := d.lookup(append(slices.Clone(c.path), "resources", "requests", r))
			if limit == nil || limit.Kind != yaml.ScalarNode || (request != nil && request.Value != limit.Value) {
				return false
			}
		}
	}
	return len(cs) > 0
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func lookupKV(m omap, k string) (any, bool) {
	for _, e := range m {
		if e.k == k {
			return e.v, true
		}
	}
	return nil, false
}

// injectEdits are the edits that put the wiring w, and the record rec, into
// the template at tpl; and the record's list of what they add whole.
func injectEdits(d *yamlDoc, tpl []any, w wiring, rec *injectRecord) ([]edit, error) {
	var edits []edit
	for _, c := range w {
		n := d.lookup(append(slices.Clone(c.under), c.key))
		switch {
		case n == nil:
			edits = append(edits, edit{kind: addKey, path: c.under, key: c.key, values: []any{c.items}})
			rec.Added = append(rec.Added, c.rel+"."+c.key)
		case n.Kind != yaml.SequenceNode:
			return nil, fmt.Errorf("%s is not a list", pathString(append(slices.Clone(c.under), c.key)))
		default:
			if err := checkNoClash(n, c); err != nil {
				return nil, err
			}
			edits = append(edits, edit{kind: prependItems, path: append(slices.Clone(c.under), c.key), values: c.items})
		}
	}
	return append(edits, recordEdit(d, tpl, rec)), nil
}

// recordEdit puts the record into the template's annotations, adding the
// annotations, or the metadata, where there are none.
func recordEdit(d *yamlDoc, tpl []any, rec *injectRecord) edit {
	meta := append(slices.Clone(tpl), "metadata")
	switch {
	case d.lookup(meta) == nil:
		rec.Added = append(rec.Added, "metadata")
		return edit{kind: addKey, path: tpl, key: "metadata", values: []any{omap{{"annotations", omap{{injectRecordKey, rec.text()}}}}}}
	case d.lookup(append(slices.Clone(meta), "annotations")) == nil:
		rec.Added = append(rec.Added, "metadata.annotations")
		return edit{kind: addKey, path: meta, key: "annotations", values: []any{omap{{injectRecordKey, rec.text()}}}}
	}
	annotations := append(meta, "annotations")
	if !slices.ContainsFunc(entries(d.lookup(annotations)), func(e entry) bool { return !krmAnnotation(e.first.Value) }) {
		// Only a KRM runner's own (kustomize takes them off again): as if
		// there were none, so that the record says what inject alone says.
		rec.Added = append(rec.Added, "metadata.annotations")
	}
	return edit{kind: addKey, path: annotations, key: injectRecordKey, values: []any{rec.text()}}
}

// checkNoClash refuses to add an entry whose name the list has already:
// a hand-wired kubexit, or a name taken.
func checkNoClash(list *yaml.Node, c contribution) error {
	for i, it := range list.Content {
		name := entryName(it)
		if slices.Contains(c.names, name) || (c.key == "command" && i == 0 && path.Base(name) == "kubexit") {
			return fmt.Errorf("%s has %s already: kubexit is wired by hand here, or the name is taken; take it out (or run --uninject if an older inject wrote it) and inject again", c.rel+"."+c.key, name)
		}
	}
	return nil
}

// entryName is what inject knows an entry by: a list item's name field, a
// scalar item itself, a mapping's key.
func entryName(n *yaml.Node) string {
	if _, v := mappingEntry(n, "name"); v != nil {
		return v.Value
	}
	return n.Value
}

// uninjectEdits are the edits that take the wiring w and the record (which
// says which lists and mappings inject added whole) out of the template.
func uninjectEdits(d *yamlDoc, tpl []any, w wiring, rec *injectRecord) []edit {
	var edits []edit
	meta := append(slices.Clone(tpl), "metadata")
	w = append(w, contribution{under: meta, rel: "metadata", key: "annotations", names: []string{injectRecordKey}, isMap: true})
	for _, c := range w {
		path := append(slices.Clone(c.under), c.key)
		n := d.lookup(path)
		if n == nil {
			continue
		}
		var ours []int
		for i, e := range entries(n) {
			if slices.Contains(c.names, entryName(e.first)) && (c.key != "command" || i == 0) {
				ours = append(ours, i)
			}
		}
		added := slices.Contains(rec.Added, c.rel+"."+c.key) || (c.isMap && slices.Contains(rec.Added, "metadata"))
		all := len(ours) > 0 && len(ours) == len(entries(n))
		// A block collection cannot be left empty: with nothing else in
		// it, its key goes too.
		whole := (added && (all || c.key == "command")) || (all && n.Style&yaml.FlowStyle == 0 && c.key != "command")
		switch {
		case whole && c.isMap && slices.Contains(rec.Added, "metadata") && len(entries(d.lookup(meta))) == 1:
			edits = append(edits, edit{kind: removeKey, path: tpl, key: "metadata"})
		case whole:
			edits = append(edits, edit{kind: removeKey, path: c.under, key: c.key})
		case c.isMap && len(ours) == 1:
			edits = append(edits, edit{kind: removeKey, path: path, key: injectRecordKey})
		case len(ours) > 0 && !c.isMap:
			edits = append(edits, edit{kind: removeItems, path: path, indexes: ours})
		}
	}
	return edits
}

// in names the template in a problem: "FILE: document N (Job report)".
func (t template) in(where string) string { return where + " (" + t.kind + " " + t.name + ")" }

// krmAnnotation tells whether an annotation is one a KRM function runner
// (kustomize, kpt) puts on the items it passes, and takes off again.
func krmAnnotation(key string) bool {
	return strings.HasPrefix(key, "config.kubernetes.io/") || strings.HasPrefix(key, "internal.config.kubernetes.io/") ||
		key == "config.k8s.io/id" || key == "kustomize.config.k8s.io/id"
}
