package main

// Birth deps: kubexit holds its child until named containers of its own pod
// are Ready, as read from the Kubernetes API.
//
// The only request is a periodic GET of pods/{KUBEXIT_POD_NAME}: no list, no
// watch, so the RBAC a pod needs is `get` on its own pod, which a Role can pin
// with resourceNames. Nothing here runs, and no client, configuration or
// connection is made, unless KUBEXIT_BIRTH_DEPS is set: main calls
// waitForBirthDeps only then, and this file has no package-level side
// effects. (client-go's own package initialisation does run at every start,
// as Go runs every linked package's; the README's Footprint section has its
// cost.)

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Tunables of the readiness poller.
const (
	// readinessBackoffCap bounds the delay between attempts after API errors
	// (unless KUBEXIT_READINESS_INTERVAL is longer).
	readinessBackoffCap = 10 * time.Second
	// readinessRequestTimeout bounds one GET, so that a hung connection to a
	// dead API server cannot stall the wait.
	readinessRequestTimeout = 10 * time.Second
	// Progress is logged first after readinessProgressFirst of waiting,
	// then every readinessProgressEvery.
	readinessProgressFirst = 5 * time.Second
	readinessProgressEvery = 30 * time.Second
	// readinessConfirmDelay is the pause before a GET that confirms a 401,
	// 403 or 404: a kube-apiserver that has just started may answer 403
	// for a moment before its RBAC caches fill (seen on the test bed).
	readinessConfirmDelay = time.Second
)

// serviceAccountNamespaceFile is where a pod's service account namespace is
// mounted; KUBEXIT_NAMESPACE defaults to its content. A variable for tests.
var serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// waitForBirthDeps blocks until every birth dep (cfg.BirthDeps) is Ready in
// the pod cfg.PodName. It returns nil when they are, ctx.Err() when ctx is
// cancelled (main cancels it on a signal or a death dep's death), and
// otherwise an error, one line meant for a pod log, that says what to fix: on
// cfg.BirthTimeout, or at once on what waiting cannot cure (RBAC, a missing
// pod, a dep that is not a container of the pod).
func waitForBirthDeps(ctx context.Context, cfg config, log *slog.Logger) error {
	ns, err := podNamespace(cfg.Namespace)
	if err != nil {
		return err
	}
	rc, src, err := loadRESTConfig()
	if err != nil {
		return err
	}
	w, err := newBirthWaiter(cfg, ns, rc, src, log)
	if err != nil {
		return err
	}
	return w.wait(ctx)
}

// podNamespace is KUBEXIT_NAMESPACE, else the service account's namespace.
func podNamespace(ns string) (string, error) {
	if ns != "" {
		return ns, nil
	}
	data, err := os.ReadFile(serviceAccountNamespaceFile)
	if ns := strings.TrimSpace(string(data)); err == nil && ns != "" {
		return ns, nil
	}
	why := "is empty"
	if err != nil {
		why = "cannot be read: " + oneLine(err.Error())
	}
	return "", fmt.Errorf("cannot tell this pod's namespace: KUBEXIT_NAMESPACE is not set and %s %s; set KUBEXIT_NAMESPACE from the downward API (valueFrom: {fieldRef: {fieldPath: metadata.namespace}})",
		serviceAccountNamespaceFile, why)
}

// apiSource tells where the API credentials came from, for messages.
type apiSource struct {
	desc string // "in-cluster service account" or "kubeconfig PATH"
	// account is the identity of the credentials when it can be told from
	// a service account token: "NAMESPACE/NAME"; user is a non-service
	// account identity. Both empty when unknown.
	account string
	user    string
}

// loadRESTConfig finds the API server and credentials: KUBECONFIG when it is
// set explicitly, else the pod's service account (in cluster), else
// ~/.kube/config.
func loadRESTConfig() (*rest.Config, apiSource, error) {
	if os.Getenv("KUBECONFIG") == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" && os.Getenv("KUBERNETES_SERVICE_PORT") != "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, apiSource{}, fmt.Errorf("running in a pod (KUBERNETES_SERVICE_HOST is set) but cannot use its service account to read the pod: %s; mount a service account token (automountServiceAccountToken: true) or set KUBECONFIG",
				oneLine(err.Error()))
		}
		src := apiSource{desc: "in-cluster service account"}
		src.account, src.user = tokenIdentity(rc.BearerToken)
		return rc, src, nil
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	where := os.Getenv("KUBECONFIG")
	if where == "" {
		where = rules.GetDefaultFilename()
		if _, err := os.Stat(where); err != nil {
			return nil, apiSource{}, fmt.Errorf("no Kubernetes API credentials to read the pod's readiness: not in a pod with a service account (KUBERNETES_SERVICE_HOST is not set), KUBECONFIG is not set and %s does not exist", where)
		}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, apiSource{}, fmt.Errorf("cannot use kubeconfig %s: %s", where, oneLine(err.Error()))
	}
	src := apiSource{desc: "kubeconfig " + where}
	token := rc.BearerToken
	if token == "" && rc.BearerTokenFile != "" {
		if b, err := os.ReadFile(rc.BearerTokenFile); err == nil {
			token = string(b)
		}
	}
	src.account, src.user = tokenIdentity(token)
	return rc, src, nil
}

// tokenIdentity reads, without verifying it, the subject of a service
// account token (a JWT): "NAMESPACE/NAME" for a service account, else the
// subject as user. Empty when the token is not a JWT.
func tokenIdentity(token string) (account, user string) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return "", ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Sub == "" {
		return "", ""
	}
	return splitIdentity(claims.Sub)
}

// splitIdentity turns "system:serviceaccount:NS:NAME" into "NS/NAME";
// anything else is a user name.
func splitIdentity(sub string) (account, user string) {
	if rest, ok := strings.CutPrefix(sub, "system:serviceaccount:"); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok && ns != "" && name != "" {
			return ns + "/" + name, ""
		}
	}
	return "", sub
}

// userAgent names kubexit and its version (the main module's, as stamped by
// the Go toolchain; "dev" for a build from a work tree).
func userAgent() string {
	return "kubexit/" + versionString() + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

// newPodClient is a REST client for the core API group's v1 (/api/v1) with
// JSON on the wire, kubexit's user agent and client-go's default rate
// limiter. Its scheme knows only the API's Status (which error answers carry),
// not core/v1's types: the pod is decoded into [pod], which holds the few
// fields readiness reads. Linking k8s.io/api's core/v1 for the same GET made
// the binary 3 MB (28 %) larger, idle RSS 8 % larger and every start ~1 ms of
// CPU slower (its package initialisation), birth deps or not.
func newPodClient(rc *rest.Config, log *slog.Logger) (*rest.RESTClient, error) {
	c := rest.CopyConfig(rc)
	c.UserAgent = userAgent()
	c.APIPath = "/api"
	gv := schema.GroupVersion{Version: "v1"}
	c.GroupVersion = &gv
	scheme := k8sruntime.NewScheme()
	metav1.AddToGroupVersion(scheme, gv)
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	c.ContentType = k8sruntime.ContentTypeJSON
	c.AcceptContentTypes = k8sruntime.ContentTypeJSON
	c.WarningHandler = nil
	c.WarningHandlerWithContext = slogWarnings{log}
	return rest.RESTClientFor(c)
}

// pod is the part of a core/v1 Pod that readiness reads, with the API's JSON
// field names. Fields it does not name are ignored, as a typed client would.
type pod struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Containers     []container `json:"containers"`
		InitContainers []container `json:"initContainers"`
	} `json:"spec"`
	Status struct {
		Phase                 string            `json:"phase"`
		ContainerStatuses     []containerStatus `json:"containerStatuses"`
		InitContainerStatuses []containerStatus `json:"initContainerStatuses"`
	} `json:"status"`
}

type container struct {
	Name string `json:"name"`
	// RestartPolicy "Always" on an init container makes it a native sidecar.
	RestartPolicy string `json:"restartPolicy"`
	// ReadinessProbe is only tested for presence.
	ReadinessProbe *struct{} `json:"readinessProbe"`
}

type containerStatus struct {
	Name                 string         `json:"name"`
	Ready                bool           `json:"ready"`
	Started              *bool          `json:"started"`
	State                containerState `json:"state"`
	LastTerminationState containerState `json:"lastState"`
}

type containerState struct {
	Waiting *struct {
		Reason string `json:"reason"`
	} `json:"waiting"`
	Running    *struct{} `json:"running"`
	Terminated *struct {
		Reason   string `json:"reason"`
		ExitCode int32  `json:"exitCode"`
	} `json:"terminated"`
}

// slogWarnings logs the API server's warnings (deprecations and the like).
type slogWarnings struct{ log *slog.Logger }

func (h slogWarnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code == 299 && text != "" {
		h.log.Warn("Kubernetes API warning", "warning", text)
	}
}

// birthWaiter polls the pod until the birth deps are ready.
type birthWaiter struct {
	cfg       config
	namespace string
	src       apiSource
	log       *slog.Logger
	client    *rest.RESTClient
	// jitter returns a number in [0, 1); rand.Float64 but for tests.
	jitter func() float64
}

func newBirthWaiter(cfg config, namespace string, rc *rest.Config, src apiSource, log *slog.Logger) (*birthWaiter, error) {
	client, err := newPodClient(rc, log)
	if err != nil {
		return nil, fmt.Errorf("cannot set up a Kubernetes API client (%s): %s", src.desc, oneLine(err.Error()))
	}
	return &birthWaiter{cfg: cfg, namespace: namespace, src: src, log: log, client: client, jitter: rand.Float64}, nil
}

// depStatus is one birth dep's readiness.
type depStatus struct {
	Name   string
	Ready  bool
	Reason string // why it is not ready
}

func (w *birthWaiter) wait(ctx context.Context) error {
	start := time.Now()
	waitCtx := ctx
	if w.cfg.BirthTimeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, w.cfg.BirthTimeout)
		defer cancel()
	}
	timeout := "none"
	if w.cfg.BirthTimeout > 0 {
		timeout = w.cfg.BirthTimeout.String()
	}
	w.log.Info("waiting for birth deps", "deps", strings.Join(w.cfg.BirthDeps, ","),
		"pod", w.namespace+"/"+w.cfg.PodName, "interval", w.cfg.ReadinessInterval.String(), "timeout", timeout, "api", w.src.desc)

	var (
		failures    int    // consecutive failed GETs
		fatals      int    // consecutive answers that waiting cannot cure
		lastErr     error  // of the last GET, nil if it succeeded
		lastErrKey  string // the kind of lastErr, logged once
		notReady    []depStatus
		haveStatus  bool // some GET succeeded
		lastSummary string
	)
	nextProgress := start.Add(readinessProgressFirst)
	for {
		pod, err := w.getPod(waitCtx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if waitCtx.Err() != nil {
			return w.timeoutError(notReady, haveStatus, lastErr)
		}

		var delay time.Duration
		if err != nil {
			failures++
			if fatal := w.fatalError(err); fatal != nil {
				if fatals++; fatals >= 2 {
					return fatal
				}
				delay := min(readinessConfirmDelay, max(w.cfg.ReadinessInterval, readinessConfirmDelay/5))
				w.log.Debug("checking again before giving up", "err", oneLine(err.Error()), "retry_in", delay.String())
				if !sleepCtx(waitCtx, delay) {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return fatal // the deadline came first: the error says more than a timeout
				}
				continue
			}
			fatals = 0
			lastErr = err
			delay = retryDelay(w.cfg.ReadinessInterval, failures, w.jitter)
			if key := errorKey(err); key != lastErrKey {
				lastErrKey = key
				w.log.Warn("cannot read the pod; retrying", "pod", w.namespace+"/"+w.cfg.PodName, "err", oneLine(err.Error()), "retry_in", delay.Round(time.Millisecond).String())
			}
		} else {
			if failures > 0 {
				w.log.Info("the pod is readable again", "failed_attempts", failures)
			}
			failures, fatals, lastErr, lastErrKey = 0, 0, nil, ""
			if err := checkPodContainers(pod, w.cfg, w.namespace); err != nil {
				return err
			}
			haveStatus = true
			notReady = notReady[:0]
			for _, s := range evaluateDeps(pod, w.cfg.BirthDeps) {
				if !s.Ready {
					notReady = append(notReady, s)
				}
			}
			if len(notReady) == 0 {
				w.log.Info("birth deps ready", "deps", strings.Join(w.cfg.BirthDeps, ","), "waited", time.Since(start).Round(time.Millisecond).String())
				return nil
			}
			if s := describeNotReady(notReady); s != lastSummary {
				lastSummary = s
				w.log.Debug("birth deps not ready", "not_ready", s)
			}
			delay = w.cfg.ReadinessInterval
		}

		if now := time.Now(); !now.Before(nextProgress) {
			nextProgress = now.Add(readinessProgressEvery)
			attrs := []any{"waited", now.Sub(start).Round(time.Second).String()}
			if haveStatus {
				attrs = append(attrs, "not_ready", describeNotReady(notReady))
			}
			if lastErr != nil {
				attrs = append(attrs, "last_error", oneLine(lastErr.Error()))
			}
			w.log.Info("still waiting for birth deps", attrs...)
		}

		if !sleepCtx(waitCtx, delay) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return w.timeoutError(notReady, haveStatus, lastErr)
		}
	}
}

// sleepCtx sleeps for d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// getPod GETs the pod, bounded by readinessRequestTimeout. The request's
// context is cancelled with ctx but has no deadline: client-go's rate limiter
// fails at once, rather than waiting, when its wait would pass a deadline.
func (w *birthWaiter) getPod(ctx context.Context) (*pod, error) {
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	res := w.client.Get().Namespace(w.namespace).Resource("pods").Name(w.cfg.PodName).
		Timeout(readinessRequestTimeout).Do(reqCtx)
	// Error, not Raw's error: it decodes the Status an error answer carries
	// (reason, message), which fatalError and the logs use.
	if err := res.Error(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && reqCtx.Err() == nil {
			err = fmt.Errorf("no answer within %v: %w", readinessRequestTimeout, err)
		}
		return nil, err
	}
	body, _ := res.Raw()
	p := &pod{}
	if err := json.Unmarshal(body, p); err != nil {
		return nil, fmt.Errorf("the API server's answer is not a pod: %w", err)
	}
	return p, nil
}

// timeoutError lists every dep that is not ready and why.
func (w *birthWaiter) timeoutError(notReady []depStatus, haveStatus bool, lastErr error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "birth deps not ready after %v: ", w.cfg.BirthTimeout)
	if haveStatus {
		b.WriteString(describeNotReady(notReady))
		if lastErr != nil {
			fmt.Fprintf(&b, " (as last read; the last attempt failed: %s)", oneLine(lastErr.Error()))
		}
	} else {
		fmt.Fprintf(&b, "%s: pod %s/%s could not be read: ", strings.Join(w.cfg.BirthDeps, ", "), w.namespace, w.cfg.PodName)
		if lastErr != nil {
			b.WriteString(oneLine(lastErr.Error()))
		} else {
			b.WriteString("no answer from the API server")
		}
	}
	return errors.New(b.String())
}

// fatalError returns the error to end the wait with when err is one that
// waiting cannot cure, with what to fix; nil when err may heal (connection
// refused, timeouts, 5xx, 429) and the GET should be retried.
func (w *birthWaiter) fatalError(err error) error {
	pod := w.namespace + "/" + w.cfg.PodName
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) {
		return fmt.Errorf("cannot read pod %s: the API server's TLS certificate is not trusted (%s); fix the CA or server in %s", pod, oneLine(err.Error()), w.src.desc)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil
	}
	code := int(status.Status().Code)
	msg := oneLine(err.Error())
	switch {
	case apierrors.IsForbidden(err):
		return w.forbiddenError(msg)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("pod %s not found in namespace %s (404): KUBEXIT_POD_NAME and KUBEXIT_NAMESPACE must name this pod; set them from the downward API (fieldRef: metadata.name and metadata.namespace)",
			w.cfg.PodName, w.namespace)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("cannot read pod %s: the API server rejected the credentials of %s as invalid or expired (401 Unauthorized: %s)", pod, w.src.desc, msg)
	case code >= 400 && code < 500 && code != 408 && code != 429:
		return fmt.Errorf("cannot read pod %s: %s (HTTP %d)", pod, msg, code)
	}
	return nil
}

// forbiddenError says who lacks which permission and the Role rule to grant.
func (w *birthWaiter) forbiddenError(msg string) error {
	account, user := w.src.account, w.src.user
	if account == "" && user == "" {
		// The API server names the user: `User "system:serviceaccount:ns:sa" cannot get ...`.
		if _, after, ok := strings.Cut(msg, `User "`); ok {
			if name, _, ok := strings.Cut(after, `"`); ok {
				account, user = splitIdentity(name)
			}
		}
	}
	who, subject := "the pod's service account", "the pod's service account"
	switch {
	case account != "":
		ns, name, _ := strings.Cut(account, "/")
		who = "service account " + account
		subject = fmt.Sprintf("{kind: ServiceAccount, name: %s, namespace: %s}", name, ns)
	case user != "":
		who = "user " + user
		subject = fmt.Sprintf("{kind: User, name: '%s'}", user)
	}
	// The rule is YAML without double quotes, so that a text log line does
	// not escape them and it can be pasted as it is.
	return fmt.Errorf("%s may not get pod %s in namespace %s (403 Forbidden); create a Role in namespace %s with the rule {apiGroups: [''], resources: [pods], verbs: [get], resourceNames: [%s]} and a RoleBinding of it to %s",
		who, w.cfg.PodName, w.namespace, w.namespace, w.cfg.PodName, subject)
}

// errorKey is the kind of a retryable error, so that each kind is logged once.
func errorKey(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		return fmt.Sprintf("status %d %s", s.Code, s.Reason)
	}
	return oneLine(err.Error())
}

// retryDelay is the pause after the n-th consecutive failed GET (n >= 1):
// exponential from interval, capped at readinessBackoffCap (or interval if
// longer), with jitter: a random point in the upper half.
func retryDelay(interval time.Duration, n int, jitter func() float64) time.Duration {
	limit := max(readinessBackoffCap, interval)
	d := interval
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + time.Duration(jitter()*float64(d/2))
}

// checkPodContainers fails when a birth dep or KUBEXIT_NAME is not a
// container of the pod, or a birth dep can never be Ready (a plain init
// container, which runs to completion). All problems, on one line.
func checkPodContainers(pod *pod, cfg config, namespace string) error {
	var problems []string
	for _, dep := range cfg.BirthDeps {
		if findContainer(pod.Spec.Containers, dep) != nil {
			continue
		}
		if c := findContainer(pod.Spec.InitContainers, dep); c != nil {
			if !isSidecar(c) {
				problems = append(problems, fmt.Sprintf("birth dep %s is an init container that runs to completion, so it is never Ready (only a native sidecar, an init container with restartPolicy: Always, can be a birth dep)", dep))
			}
			continue
		}
		problems = append(problems, fmt.Sprintf("birth dep %s (KUBEXIT_BIRTH_DEPS) is not a container of the pod", dep))
	}
	if cfg.Name != "" && findContainer(pod.Spec.Containers, cfg.Name) == nil && findContainer(pod.Spec.InitContainers, cfg.Name) == nil {
		problems = append(problems, fmt.Sprintf("KUBEXIT_NAME %s is not a container of the pod (it must be this container's name)", cfg.Name))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("pod %s/%s: %s; the pod's containers: %s", namespace, pod.Metadata.Name, strings.Join(problems, "; "), listContainers(pod))
}

// listContainers names the pod's containers, init containers marked.
func listContainers(pod *pod) string {
	var names []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if isSidecar(c) {
			names = append(names, c.Name+" (sidecar)")
		} else {
			names = append(names, c.Name+" (init)")
		}
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func findContainer(cs []container, name string) *container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func isSidecar(c *container) bool {
	return c.RestartPolicy == "Always"
}

// evaluateDeps tells, for each dep, whether it is ready and why not. A dep is
// ready when its status in status.containerStatuses is ready, or, for a
// native sidecar (an init container with restartPolicy: Always), when its
// status in status.initContainerStatuses is ready, or started when it has no
// readiness probe.
func evaluateDeps(pod *pod, deps []string) []depStatus {
	notFound := "not found in pod status"
	if p := pod.Status.Phase; p != "" && p != "Running" {
		notFound += " (pod " + p + ")"
	}
	out := make([]depStatus, 0, len(deps))
	for _, dep := range deps {
		s := depStatus{Name: dep}
		if c := findContainer(pod.Spec.InitContainers, dep); c != nil && findContainer(pod.Spec.Containers, dep) == nil {
			cs := findStatus(pod.Status.InitContainerStatuses, dep)
			switch {
			case cs == nil:
				s.Reason = notFound
			case cs.Ready:
				s.Ready = true
			case c.ReadinessProbe == nil && cs.Started != nil && *cs.Started:
				s.Ready = true
			default:
				s.Reason = notReadyReason(cs)
			}
		} else {
			cs := findStatus(pod.Status.ContainerStatuses, dep)
			switch {
			case cs == nil:
				s.Reason = notFound
			case cs.Ready:
				s.Ready = true
			default:
				s.Reason = notReadyReason(cs)
			}
		}
		out = append(out, s)
	}
	return out
}

func findStatus(ss []containerStatus, name string) *containerStatus {
	i := slices.IndexFunc(ss, func(s containerStatus) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return &ss[i]
}

// notReadyReason says why a container that is not ready is not.
func notReadyReason(cs *containerStatus) string {
	st := cs.State
	switch {
	case st.Waiting != nil:
		reason := st.Waiting.Reason
		if reason == "" {
			reason = "no reason given"
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			return fmt.Sprintf("waiting (%s, last exit code %d)", reason, t.ExitCode)
		}
		return "waiting (" + reason + ")"
	case st.Terminated != nil:
		reason := st.Terminated.Reason
		if reason == "" {
			reason = "no reason given"
		}
		return fmt.Sprintf("terminated (%s, exit code %d)", reason, st.Terminated.ExitCode)
	case st.Running != nil:
		if cs.Started != nil && !*cs.Started {
			return "running, not started (startup probe not passed yet)"
		}
		return "running, not ready"
	}
	return "not started"
}

// describeNotReady is "dep: reason; dep: reason".
func describeNotReady(ss []depStatus) string {
	parts := make([]string, 0, len(ss))
	for _, s := range ss {
		parts = append(parts, s.Name+": "+s.Reason)
	}
	return strings.Join(parts, "; ")
}

// oneLine keeps a message on one log line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
