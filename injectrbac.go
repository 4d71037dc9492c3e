//go:build inject

package main

// --rbac: the Role and RoleBinding that let a wired pod read itself (the
// birth deps' GET), written before the workload (in a List, first among
// its items) and known again by their annotation when it is re-wired or
// unwired.

import (
	"fmt"
	"slices"
)

// rbacOwnerKey annotates the Role and RoleBinding inject writes with the
// workload they are for (Kind/name).
const rbacOwnerKey = "kubexit.io/injected-for"

// rbacObjects are the Role and RoleBinding that let the template's pods
// read themselves (get, on pods: the birth deps' readiness), when asked
// for (--rbac) and needed (a birth dep).
func rbacObjects(v any, t template, ps *podSettings) ([]any, error) {
	if !ps.rbac || !slices.ContainsFunc(mapValues(ps.env), func(env omap) bool { _, ok := lookupKV(env, "KUBEXIT_POD_NAME"); return ok }) {
		return nil, nil
	}
	obj := dataAt(v, t.path[:len(t.path)-len(podTemplatePaths[t.kind])]...) // the workload
	if t.name == "" {
		return nil, fmt.Errorf("--rbac: the %s has no metadata.name to name its Role after", t.kind)
	}
	meta := omap{{"name", t.name + "-kubexit"}}
	if ns, _ := dataAt(obj, "metadata", "namespace").(string); ns != "" {
		meta = append(meta, kv{"namespace", ns})
	}
	meta = append(meta, kv{"annotations", omap{{rbacOwnerKey, t.owner}}})
	rule := omap{{"apiGroups", []any{""}}, {"resources", []any{"pods"}}, {"verbs", []any{"get"}}}
	if t.kind == "Pod" {
		rule = append(rule, kv{"resourceNames", []any{t.name}})
	}
	account, _ := dataAt(v, append(slices.Clone(t.path), "spec", "serviceAccountName")...).(string)
	if account == "" {
		account = "default"
	}
	return []any{
		omap{{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "Role"}, {"metadata", meta}, {"rules", []any{rule}}},
		omap{{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "RoleBinding"}, {"metadata", meta},
			{"roleRef", omap{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", t.name + "-kubexit"}}},
			{"subjects", []any{omap{{"kind", "ServiceAccount"}, {"name", account}}}}},
	}, nil
}

func mapValues[K comparable, V any](m map[K]V) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// isRBACFor tells whether an object is one inject wrote for an owner in
// owners.
func isRBACFor(v any, owners map[string]bool) bool {
	owner, _ := dataAt(v, "metadata", "annotations", rbacOwnerKey).(string)
	return owner != "" && owners[owner]
}

// rbacItemEdits removes a List's items that inject wrote for owners.
func rbacItemEdits(d *yamlDoc, v any, owners map[string]bool) []edit {
	items, _ := dataAt(v, "items").([]any)
	var ours []int
	for i, it := range items {
		if isRBACFor(it, owners) {
			ours = append(ours, i)
		}
	}
	if len(ours) == 0 || d.lookup([]any{"items"}) == nil {
		return nil
	}
	return []edit{{kind: removeItems, path: []any{"items"}, indexes: ours}}
}
