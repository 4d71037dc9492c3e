package main

// The Kubernetes API client of birth deps and the preflight: where the API
// server and credentials come from, one REST client for core/v1, the pod
// decoded into the few fields kubexit reads, and what an API error means.
//
// The only request is a GET of pods/{KUBEXIT_POD_NAME}: no list, no watch, so
// the RBAC a pod needs is `get` on its own pod, which a Role can pin with
// resourceNames. Nothing here runs unless KUBEXIT_BIRTH_DEPS is set (or
// --check asks). client-go's own package initialisation does run at every
// start, as Go runs every linked package's; docs/performance.md has its cost.

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
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

// apiRequestTimeout bounds one GET, so that a hung connection to a dead API
// server cannot stall a wait.
const apiRequestTimeout = 10 * time.Second

// serviceAccountDir is where Kubernetes mounts a pod's service account
// token, CA and namespace.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// apiEnv is where kubexit looks for the API server: the environment
// (KUBECONFIG, KUBERNETES_SERVICE_HOST and _PORT) and the service account's
// files (tests point both elsewhere).
type apiEnv struct {
	getenv func(string) string
	saDir  string
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

// podClient reads one pod.
type podClient struct {
	rest      *rest.RESTClient
	name      string
	namespace string
	src       apiSource
}

// newPodClient finds the pod's namespace (namespace, else the service
// account's), the API server and credentials, and makes a client for the
// pod. Its errors are one line that says what to fix.
func newPodClient(env apiEnv, name, namespace string, log *slog.Logger) (*podClient, error) {
	ns, err := podNamespace(env, namespace)
	if err != nil {
		return nil, err
	}
	rc, src, err := loadRESTConfig(env)
	if err != nil {
		return nil, err
	}
	client, err := newRESTClient(rc, log)
	if err != nil {
		return nil, fmt.Errorf("cannot set up a Kubernetes API client (%s): %s", src.desc, oneLine(err.Error()))
	}
	return &podClient{rest: client, name: name, namespace: ns, src: src}, nil
}

// podNamespace is ns, else the service account's namespace.
func podNamespace(env apiEnv, ns string) (string, error) {
	if ns != "" {
		return ns, nil
	}
	file := filepath.Join(env.saDir, "namespace")
	data, err := os.ReadFile(file)
	if ns := strings.TrimSpace(string(data)); err == nil && ns != "" {
		return ns, nil
	}
	why := "is empty"
	if err != nil {
		why = "cannot be read: " + oneLine(err.Error())
	}
	return "", fmt.Errorf("cannot tell this pod's namespace: KUBEXIT_NAMESPACE is not set and %s %s; set KUBEXIT_NAMESPACE from the downward API (valueFrom: {fieldRef: {fieldPath: metadata.namespace}})",
		file, why)
}

// loadRESTConfig finds the API server and credentials: KUBECONFIG when it is
// set explicitly, else the pod's service account (in cluster), else
// ~/.kube/config.
func loadRESTConfig(env apiEnv) (*rest.Config, apiSource, error) {
	kubeconfig := env.getenv("KUBECONFIG")
	if kubeconfig == "" && env.getenv("KUBERNETES_SERVICE_HOST") != "" && env.getenv("KUBERNETES_SERVICE_PORT") != "" {
		rc, err := inClusterConfig(env)
		if err != nil {
			return nil, apiSource{}, fmt.Errorf("running in a pod (KUBERNETES_SERVICE_HOST is set) but cannot use its service account to read the pod: %s; mount a service account token (automountServiceAccountToken: true) or set KUBECONFIG",
				oneLine(err.Error()))
		}
		src := apiSource{desc: "in-cluster service account"}
		src.account, src.user = tokenIdentity(rc.BearerToken)
		return rc, src, nil
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	where := kubeconfig
	if where != "" {
		rules.Precedence = filepath.SplitList(where)
		// client-go skips missing files silently and then asks for
		// KUBERNETES_MASTER; kubectl skips them too, but not all of them.
		if err := anyReadable(rules.Precedence); err != nil {
			return nil, apiSource{}, fmt.Errorf("KUBECONFIG=%q: %w", kubeconfig, err)
		}
	} else {
		where = filepath.Join(env.getenv("HOME"), clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)
		rules.Precedence = []string{where}
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

// anyReadable checks that at least one of the kubeconfig files exists; if
// none does, it names what is wrong with each.
func anyReadable(files []string) error {
	var problems []string
	for _, f := range files {
		if f == "" {
			continue
		}
		fi, err := os.Stat(f)
		switch {
		case err == nil && !fi.IsDir():
			return nil
		case err == nil:
			problems = append(problems, f+": a directory")
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, f+": no such file")
		default:
			problems = append(problems, err.Error())
		}
	}
	if len(problems) == 0 {
		return errors.New("names no file")
	}
	return errors.New("no kubeconfig file to read: " + strings.Join(problems, "; "))
}

// inClusterConfig is rest.InClusterConfig reading env rather than the
// process's environment: the API server from KUBERNETES_SERVICE_HOST and
// _PORT, the token (reloaded by client-go as it rotates) and CA from the
// service account's files.
func inClusterConfig(env apiEnv) (*rest.Config, error) {
	tokenFile := filepath.Join(env.saDir, "token")
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, err
	}
	rc := &rest.Config{
		Host:            "https://" + net.JoinHostPort(env.getenv("KUBERNETES_SERVICE_HOST"), env.getenv("KUBERNETES_SERVICE_PORT")),
		BearerToken:     string(token),
		BearerTokenFile: tokenFile,
	}
	// Like rest.InClusterConfig: without the CA, the system's roots.
	if ca := filepath.Join(env.saDir, "ca.crt"); fileExists(ca) {
		rc.TLSClientConfig.CAFile = ca
	}
	return rc, nil
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

// newRESTClient is a REST client for the core API group's v1 (/api/v1) with
// JSON on the wire, kubexit's user agent and client-go's default rate
// limiter. Its scheme knows only the API's Status (which error answers carry),
// not core/v1's types: the pod is decoded into [pod], which holds the few
// fields readiness reads. Linking k8s.io/api's core/v1 for the same GET made
// the binary 3 MB (28 %) larger, idle RSS 8 % larger and every start ~1 ms of
// CPU slower (its package initialisation), birth deps or not.
func newRESTClient(rc *rest.Config, log *slog.Logger) (*rest.RESTClient, error) {
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

// slogWarnings logs the API server's warnings (deprecations and the like).
type slogWarnings struct{ log *slog.Logger }

func (h slogWarnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code == 299 && text != "" {
		h.log.Warn("Kubernetes API warning", "warning", text)
	}
}

// pod is the part of a core/v1 Pod that readiness reads, with the API's JSON
// field names. Fields it does not name are ignored, as a typed client would.
type pod struct {
	Metadata objectMeta `json:"metadata"`
	Spec     podSpec    `json:"spec"`
	Status   podStatus  `json:"status"`
}

// objectMeta is the part of an object's metadata that kubexit reads.
type objectMeta struct {
	Name string `json:"name"`
}

type podSpec struct {
	Containers     []container `json:"containers"`
	InitContainers []container `json:"initContainers"`
	// RestartPolicy is the pod's: Always (the default), OnFailure, Never.
	RestartPolicy string `json:"restartPolicy"`
}

type podStatus struct {
	Phase                 string            `json:"phase"`
	ContainerStatuses     []containerStatus `json:"containerStatuses"`
	InitContainerStatuses []containerStatus `json:"initContainerStatuses"`
}

type container struct {
	Name string `json:"name"`
	// RestartPolicy "Always" on an init container makes it a native sidecar.
	RestartPolicy string `json:"restartPolicy"`
	// ReadinessProbe is only tested for presence.
	ReadinessProbe *struct{} `json:"readinessProbe"`
	// RestartPolicyRules (KEP-5307, KEP-5532) decide, with RestartPolicy,
	// which exits the kubelet restarts the container on (restart.go).
	RestartPolicyRules []restartRule `json:"restartPolicyRules"`
	Lifecycle          *struct {
		// StopSignal (KEP-4960) is the signal that stops the container,
		// "SIGQUIT"; empty: the image's, else TERM.
		StopSignal string `json:"stopSignal"`
	} `json:"lifecycle"`
}

// restartRule is a container's restart rule (restart.go).
type restartRule struct {
	Action    string `json:"action"` // Restart or RestartAllContainers
	ExitCodes *struct {
		Operator string  `json:"operator"` // In or NotIn
		Values   []int32 `json:"values"`
	} `json:"exitCodes"`
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

// get GETs the pod, bounded by apiRequestTimeout. The request's context is
// cancelled with ctx but has no deadline: client-go's rate limiter fails at
// once, rather than waiting, when its wait would pass a deadline.
func (c *podClient) get(ctx context.Context) (*pod, error) {
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	res := c.rest.Get().Namespace(c.namespace).Resource("pods").Name(c.name).
		Timeout(apiRequestTimeout).Do(reqCtx)
	// Error, not Raw's error: it decodes the Status an error answer carries
	// (reason, message), which fatalError and the logs use.
	if err := res.Error(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && reqCtx.Err() == nil {
			err = fmt.Errorf("no answer within %v: %w", apiRequestTimeout, err)
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

// String is "NAMESPACE/NAME".
func (c *podClient) String() string { return c.namespace + "/" + c.name }

// fatalError returns the error to end a wait with when err is one that
// waiting cannot cure, with what to fix; nil when err may heal (connection
// refused, timeouts, 5xx, 429) and the GET should be retried.
func (c *podClient) fatalError(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) {
		return fmt.Errorf("cannot read pod %s: the API server's TLS certificate is not trusted (%s); fix the CA or server in %s", c, oneLine(err.Error()), c.src.desc)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil
	}
	code := int(status.Status().Code)
	msg := oneLine(err.Error())
	switch {
	case apierrors.IsForbidden(err):
		return c.forbiddenError(msg)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("pod %s not found in namespace %s (404): KUBEXIT_POD_NAME and KUBEXIT_NAMESPACE must name this pod; set them from the downward API (fieldRef: metadata.name and metadata.namespace)",
			c.name, c.namespace)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("cannot read pod %s: the API server rejected the credentials of %s as invalid or expired (401 Unauthorized: %s)", c, c.src.desc, msg)
	case code >= 400 && code < 500 && code != 408 && code != 429:
		return fmt.Errorf("cannot read pod %s: %s (HTTP %d)", c, msg, code)
	}
	return nil
}

// forbiddenError says who lacks which permission and the Role rule to grant.
func (c *podClient) forbiddenError(msg string) error {
	account, user := c.src.account, c.src.user
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
		who, c.name, c.namespace, c.namespace, c.name, subject)
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
