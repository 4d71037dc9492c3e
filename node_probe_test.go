package main

import (
	"strings"
	"testing"
	"time"
)

// Example (h): birth probes on a real node, without the Kubernetes API (no
// token mounted, no Role, no downward API). The app's child starts only
// after the proxy's /ready answers 200, READY_AFTER (3 s) after the proxy
// started, and its first request through the proxy succeeds; then the
// proxy is terminated (death dep) and exits 0, and the pod Succeeds.
func TestNodeProbeBirth(t *testing.T) {
	b := needNode(t)
	port := nodeFreePort(t)
	n := runExample(t, b, "probe-birth-pod.yaml", func(objs []obj) {
		setEnv(t, objs, "app", "PROXY_PORT", port)
		setEnv(t, objs, "app", "KUBEXIT_BIRTH_PROBES", "http://127.0.0.1:"+port+"/ready")
		setEnv(t, objs, "proxy", "PROXY_PORT", port)
	})
	app, proxy, appTS, _ := n.expectAppProxySucceeded(t, "gate")
	appLog, proxyLog := n.logs("gate", "app"), n.logs("gate", "proxy")
	t.Logf("app's log:\n%s\nproxy's log:\n%s", appLog, proxyLog)
	if !strings.Contains(appLog, "app: first request through the proxy: ok") {
		t.Errorf("the app's first request through the proxy did not succeed")
	}
	if !strings.Contains(appLog, "waiting for birth probes") || !strings.Contains(appLog, "birth probes passing") {
		t.Errorf("the app's kubexit did not wait for its probes")
	}
	for _, bad := range []string{"service account", "credentials", "token"} {
		if strings.Contains(strings.ToLower(appLog), bad) {
			t.Errorf("the app's log mentions %q: the probe path must not touch the API", bad)
		}
	}
	// The proxy's /ready appears 3 s after it starts; the app's child (Born)
	// starts after that. (Container times have 1 s resolution.)
	if appTS.Born != nil {
		within(t, "proxy started -> app's child born", proxy.StartedAt, *appTS.Born, 2*time.Second, 60*time.Second)
		within(t, "app's container started -> app's child born (the probe wait)", app.StartedAt, *appTS.Born, 1*time.Second, 60*time.Second)
	}
}
