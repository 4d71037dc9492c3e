//go:build inject

package main

// Integration test of --inject against a real kube-apiserver (the test bed
// of k8s_test.go): every object of every golden output of the inject tests
// (testdata/inject/*.out.yaml and *.out.json) is sent as a server-side
// dry-run create with strict field validation, what `kubectl apply
// --dry-run=server` does. The API server's validation and admission then
// say whether what inject wrote is a workload Kubernetes accepts: no
// unknown or duplicate field, no invalid volume, mount, env or init
// container.
//
//	hack/k8s-test -tags inject -race -run K8sInject -count=1 -v
//
// Without KUBEXIT_K8S_TESTS=1 it is skipped; with it, a bed that cannot be
// reached, or no golden output at all, fails it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// injectGoldenOutputs are the inject tests' golden outputs; there are
// also some in JSON (injectGoldenJSON).
const (
	injectGoldenOutputs = "testdata/inject/*.out.yaml"
	injectGoldenJSON    = "testdata/inject/*.out.json"
)

// k8sResource is where the API serves a kind: its resource (plural) name,
// and whether its objects live in a namespace.
type k8sResource struct {
	name       string
	namespaced bool
}

// k8sResources are the kinds the golden outputs hold: the pod templates'
// kinds inject wires, the RBAC objects of --rbac, and the kinds a manifest
// commonly has besides (inject writes them back as they were).
var k8sResources = map[string]k8sResource{
	"Pod": {"pods", true}, "Deployment": {"deployments", true}, "StatefulSet": {"statefulsets", true},
	"DaemonSet": {"daemonsets", true}, "ReplicaSet": {"replicasets", true}, "Job": {"jobs", true},
	"CronJob": {"cronjobs", true}, "Role": {"roles", true}, "RoleBinding": {"rolebindings", true},
	"ServiceAccount": {"serviceaccounts", true}, "ConfigMap": {"configmaps", true},
	"Secret": {"secrets", true}, "Service": {"services", true},
	"Namespace": {"namespaces", false}, "ClusterRole": {"clusterroles", false},
	"ClusterRoleBinding": {"clusterrolebindings", false},
}

func TestK8sInjectDryRun(t *testing.T) {
	b := needK8s(t)
	files, _ := filepath.Glob(injectGoldenOutputs)
	if len(files) == 0 {
		t.Fatalf("no golden output %s: nothing to send to the API server (the inject tests write them)", injectGoldenOutputs)
	}
	jsonFiles, _ := filepath.Glob(injectGoldenJSON)
	files = append(files, jsonFiles...)
	ns := k8sName(t)
	b.do(t, "POST", "/api/v1/namespaces", "application/json", obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": ns}})
	t.Cleanup(func() {
		// Without a controller manager the namespace stays Terminating; it
		// holds nothing (every create was a dry run) but the ServiceAccounts.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.admin.Delete().AbsPath("/api/v1/namespaces", ns).Do(ctx).Error(); err != nil {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	})
	accepted, read := 0, 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			read++
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := decodeManifests(data)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			objs := flattenLists(docs)
			if len(objs) == 0 {
				t.Fatalf("%s holds no object", f)
			}
			// Admission's ServiceAccount plugin (off in the bed unless
			// KUBEXIT_K8S_DISABLE_ADMISSION is emptied) refuses a pod whose
			// account does not exist: create those the objects name.
			for _, sa := range serviceAccountsNamed(objs) {
				createServiceAccount(t, b, ns, sa)
			}
			for _, o := range objs {
				what := objectName(o)
				if err := dryRunCreate(b, ns, o); err != nil {
					t.Errorf("%s: %s: the API server refuses it: %v", f, what, err)
					continue
				}
				accepted++
				t.Logf("%s: accepted", what)
			}
		})
	}
	t.Logf("%d objects of %d files accepted by the API server (dry run)", accepted, read)
	// A dry run persists nothing: the namespace has no pod.
	var pods struct{ Items []any }
	if err := json.Unmarshal(b.do(t, "GET", "/api/v1/namespaces/"+ns+"/pods", "application/json", nil), &pods); err != nil || len(pods.Items) > 0 {
		t.Errorf("after the dry runs, namespace %s has %d pods (%v), want none", ns, len(pods.Items), err)
	}
}

// dryRunCreate sends o to the API server as a server-side dry-run create
// with strict field validation, into namespace ns if its kind lives in one.
// The error holds the server's message.
func dryRunCreate(b *k8sBed, ns string, o map[string]any) error {
	_, err := dryRunCreated(b, ns, o)
	return err
}

// dryRunCreated is dryRunCreate, and the object the API server answered
// with (as it would have stored it: defaults, status.qosClass).
func dryRunCreated(b *k8sBed, ns string, o map[string]any) (map[string]any, error) {
	apiVersion, _ := o["apiVersion"].(string)
	kind, _ := o["kind"].(string)
	res, ok := k8sResources[kind]
	if !ok {
		return nil, fmt.Errorf("kind %q: the test does not know its resource; add it to k8sResources", kind)
	}
	path := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		path = "/api/" + apiVersion
	}
	if res.namespaced {
		meta, _ := o["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			o["metadata"] = meta
		}
		meta["namespace"] = ns
		path += "/namespaces/" + ns
	}
	path += "/" + res.name
	body, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	opts := &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict}
	var out []byte
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err = b.admin.Post().AbsPath(path).VersionedParams(opts, metav1.ParameterCodec).
			SetHeader("Content-Type", "application/json").Body(body).DoRaw(ctx)
		cancel()
		// The API server may be coming back from TestK8sAPIServerRestart.
		if err == nil || !strings.Contains(err.Error(), "connection refused") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		// The server's Status says why; the client's error, only its code.
		var st metav1.Status
		if json.Unmarshal(out, &st) == nil && st.Message != "" {
			return nil, fmt.Errorf("POST %s?dryRun=All: %s (%s, %d)", path, st.Message, st.Reason, st.Code)
		}
		return nil, fmt.Errorf("POST %s?dryRun=All: %v: %.300s", path, err, out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil || got["kind"] != kind {
		return nil, fmt.Errorf("POST %s?dryRun=All answered no %s (%v): %.300s", path, kind, err, out)
	}
	return got, nil
}

// createServiceAccount creates ServiceAccount name in ns, unless it is
// there already.
func createServiceAccount(t *testing.T, b *k8sBed, ns, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body, _ := json.Marshal(obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": name}})
	err := b.admin.Post().AbsPath("/api/v1/namespaces", ns, "serviceaccounts").
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create ServiceAccount %s/%s: %v", ns, name, err)
	}
}

// serviceAccountsNamed are the ServiceAccounts pods of objs run as:
// default, and every serviceAccountName.
func serviceAccountsNamed(objs []map[string]any) []string {
	names := []string{"default"}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "serviceAccountName" && s != "" && !slices.Contains(names, s) {
					names = append(names, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, o := range objs {
		walk(o)
	}
	return names
}

// decodeManifests reads a stream of YAML (or JSON) documents as kubectl
// does: split at the "---" lines, each one converted to JSON with YAML 1.1's
// scalars (yes is true) and refused if a mapping repeats a key. Empty
// documents are skipped.
func decodeManifests(data []byte) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []map[string]any
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		j, err := sigsyaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return nil, fmt.Errorf("document %d is not an object: %v", i, err)
		}
		out = append(out, m)
	}
}

// flattenLists replaces each List (a v1 List, a KRM ResourceList) by its
// items: the API server creates objects, not lists of them.
func flattenLists(docs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		kind, _ := d["kind"].(string)
		items, ok := d["items"].([]any)
		if !ok || !strings.HasSuffix(kind, "List") {
			out = append(out, d)
			continue
		}
		var objs []map[string]any
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				objs = append(objs, m)
			}
		}
		out = append(out, flattenLists(objs)...)
	}
	return out
}

// objectName is Kind/name of an object, for messages.
func objectName(o map[string]any) string {
	kind, _ := o["kind"].(string)
	name, _ := dataAt(o, "metadata", "name").(string)
	return kind + "/" + name
}

// restrictedPod is a pod that the "restricted" Pod Security Standard
// admits, written the plain way.
const restrictedPod = `apiVersion: v1
kind: Pod
metadata:
  name: restricted
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: main
    image: busybox:1.37
    command: [sh, -c, 'echo main']
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
  - name: side
    image: busybox:1.37
    command: [sh, -c, 'exec sleep 86400']
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`

// TestK8sInjectRestricted: inject keeps a pod that the restricted Pod
// Security Standard admits admitted, in a namespace that enforces it (the
// API server's PodSecurity admission); without the install container's
// securityContext, the same pod is refused (the check can fail).
func TestK8sInjectRestricted(t *testing.T) {
	b := needK8s(t)
	ns := testNamespace(t, b, obj{"pod-security.kubernetes.io/enforce": "restricted"})
	out, errText, code := runInject([]string{"--inject", "--death-deps", "side=main"}, []byte(restrictedPod))
	if code != 0 {
		t.Fatalf("inject: exit %d: %s", code, errText)
	}
	pod := map[string]any{}
	if err := sigsyaml.Unmarshal([]byte(out), &pod); err != nil {
		t.Fatal(err)
	}
	if err := dryRunCreate(b, ns, pod); err != nil {
		t.Fatalf("the injected restricted pod is refused: %v", err)
	}
	// The control: the install container without its securityContext.
	install := dataAt(pod, "spec", "initContainers", 0).(map[string]any)
	delete(install, "securityContext")
	err := dryRunCreate(b, ns, pod)
	if err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("without the install container's securityContext: %v; want a refusal by the restricted policy", err)
	}
	t.Logf("without it, refused as it should be: %v", err)
}

// TestK8sInjectKeepsQoS: a Guaranteed pod, injected, is Guaranteed still,
// as the API server computes its status.qosClass; the control, without
// the install container's resources, is Burstable.
func TestK8sInjectKeepsQoS(t *testing.T) {
	b := needK8s(t)
	ns := testNamespace(t, b, obj{})
	for _, c := range []struct {
		file, want string
		strip      bool
	}{
		{"testdata/inject/guaranteed.in.yaml", "Guaranteed", false},
		{"testdata/inject/guaranteed.out.yaml", "Guaranteed", false},
		{"testdata/inject/guaranteed.out.yaml", "Burstable", true},
	} {
		data, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		pod := map[string]any{}
		if err := sigsyaml.Unmarshal(data, &pod); err != nil {
			t.Fatal(err)
		}
		if c.strip {
			delete(dataAt(pod, "spec", "initContainers", 0).(map[string]any), "resources")
		}
		got, err := dryRunCreated(b, ns, pod)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if q := dataAt(got, "status", "qosClass"); q != c.want {
			t.Errorf("%s (install container's resources taken out: %v): qosClass %v, want %s", c.file, c.strip, q, c.want)
		}
	}
}

// testNamespace creates a namespace with labels and its default
// ServiceAccount, deleted at the end of the test.
func testNamespace(t *testing.T, b *k8sBed, labels obj) string {
	t.Helper()
	ns := k8sName(t)
	b.do(t, "POST", "/api/v1/namespaces", "application/json", obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": ns, "labels": labels}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b.admin.Delete().AbsPath("/api/v1/namespaces", ns).Do(ctx)
	})
	createServiceAccount(t, b, ns, "default")
	return ns
}
