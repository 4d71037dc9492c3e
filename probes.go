package main

// Birth probes (KUBEXIT_BIRTH_PROBES): kubexit holds its child until
// siblings answer where they serve, seen directly through the pod's shared
// network namespace and volumes: a TCP port that accepts, an HTTP(S)
// endpoint that answers 200–399, a file that is there and not empty. No
// Kubernetes API, so no token, Role or Downward API.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Tunables of the probes.
const (
	// probeAttemptTimeout bounds one attempt of one probe: the kubelet's
	// default timeoutSeconds. A round never overlaps the next: the next
	// starts KUBEXIT_READINESS_INTERVAL after it ends.
	probeAttemptTimeout = time.Second
	// probeBodyBytes is how much of an HTTP answer is read, as the kubelet
	// reads 10 KB of it.
	probeBodyBytes = 10 << 10
	// probeMaxRedirects: redirects followed to the same host, as the kubelet.
	probeMaxRedirects = 10
)

// probe is one item of KUBEXIT_BIRTH_PROBES.
type probe struct {
	Raw    string // as given, for messages
	Scheme string // tcp, http, https or file
	Addr   string // host:port, for tcp
	URL    string // for http and https
	Path   string // for file
}

func (p probe) String() string { return p.Raw }

// parseProbe reads one item: tcp://HOST:PORT, http(s)://HOST:PORT[/PATH] or
// file:///ABS/PATH. The port is required (the kubelet's probes have one
// too, and a sibling's port is never implied); user information and
// fragments are refused, as are paths on tcp and hosts on file.
func parseProbe(item string) (probe, error) {
	p := probe{Raw: item}
	u, err := url.Parse(item)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return p, fmt.Errorf("not a URL: %v", err)
	}
	p.Scheme = strings.ToLower(u.Scheme)
	switch {
	case p.Scheme == "":
		return p, errors.New("no scheme: want tcp://HOST:PORT, http://HOST:PORT/PATH, https://HOST:PORT/PATH or file:///PATH")
	case p.Scheme != "tcp" && p.Scheme != "http" && p.Scheme != "https" && p.Scheme != "file":
		return p, fmt.Errorf("unknown scheme %s: want tcp, http, https or file", quoteCut(u.Scheme, 20))
	case u.User != nil:
		return p, errors.New("user information (user@ or user:password@) is not allowed: the probes send no credentials")
	case u.Fragment != "" || strings.Contains(item, "#"):
		return p, errors.New("a fragment (#...) is not allowed: it is never sent")
	case u.Opaque != "" && p.Scheme == "file":
		return p, errors.New("a relative path: a file probe is file:///ABS/PATH, three slashes")
	case u.Opaque != "":
		return p, fmt.Errorf("want %s://HOST:PORT", p.Scheme)
	}
	if p.Scheme == "file" {
		return parseFileProbe(p, u)
	}
	host, port := u.Hostname(), u.Port()
	switch {
	case host == "":
		return p, errors.New("no host")
	case port == "":
		return p, fmt.Errorf("a missing port: want %s://HOST:PORT", p.Scheme)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return p, fmt.Errorf("port %s: want 1 to 65535", quoteCut(port, 20))
	}
	p.Addr = net.JoinHostPort(host, port)
	if p.Scheme == "tcp" {
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery {
			return p, errors.New("a path or query is not allowed in a tcp probe: want tcp://HOST:PORT")
		}
		return p, nil
	}
	u.Scheme = p.Scheme
	p.URL = u.String()
	return p, nil
}

// parseFileProbe is parseProbe's part for file:///ABS/PATH.
func parseFileProbe(p probe, u *url.URL) (probe, error) {
	switch {
	case u.Host != "":
		return p, fmt.Errorf("a relative path or a host (%s): a file probe is file:///ABS/PATH, three slashes", quoteCut(u.Host, 40))
	case !strings.HasPrefix(u.Path, "/"):
		return p, errors.New("a relative path: a file probe is file:///ABS/PATH, three slashes")
	case u.RawQuery != "" || u.ForceQuery:
		return p, errors.New("a query (?...) is not allowed in a file probe")
	}
	if err := validatePath(u.Path); err != nil {
		return p, err
	}
	p.Path = u.Path
	return p, nil
}

// prober tries probes. Its HTTP client is the kubelet's httpGet, as far as
// it matters here: no certificate verification, no proxy, no keep-alive,
// redirects followed only to the same host (at most 10), and a redirect to
// another host taken as the answer (a 3xx: success, as the kubelet counts it).
type prober struct {
	client *http.Client
}

func newProber() *prober {
	transport := &http.Transport{
		Proxy: nil,
		// No verification, as the kubelet's httpGet: a sibling's certificate
		// is usually self-signed, and the address is the pod's own.
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	return &prober{client: &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= probeMaxRedirects {
				return fmt.Errorf("stopped after %d redirects", probeMaxRedirects)
			}
			return nil
		},
	}}
}

// try runs one attempt of p, within probeAttemptTimeout (and ctx): nil when
// it passes, else what it saw, short ("connection refused", "HTTP 503").
func (pr *prober) try(ctx context.Context, p probe) error {
	ctx, cancel := context.WithTimeout(ctx, probeAttemptTimeout)
	defer cancel()
	var err error
	switch p.Scheme {
	case "tcp":
		var d net.Dialer
		var conn net.Conn
		if conn, err = d.DialContext(ctx, "tcp", p.Addr); err == nil {
			conn.Close()
		}
	case "http", "https":
		err = pr.get(ctx, p.URL)
	case "file":
		return tryFile(p.Path)
	}
	return describeProbeError(err)
}

// get is an httpGet probe's attempt.
func (pr *prober) get(ctx context.Context, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", userAgent())
	req.Header.Set("Accept", "*/*")
	resp, err := pr.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, probeBodyBytes))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// tryFile passes when path (a link is followed: what counts is what it
// points to, as a reader sees it) is a regular file that is not empty. It
// only stats: a FIFO or a device is never opened.
func tryFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("no such file")
	case err != nil:
		return unwrapPath(err)
	case fi.IsDir():
		return errors.New("a directory, not a regular file")
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	case fi.Size() == 0:
		return errors.New("empty")
	}
	return nil
}

// describeProbeError shortens a network error to what a pod log needs.
func describeProbeError(err error) error {
	var ne net.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer within %v", probeAttemptTimeout)
	case errors.Is(err, syscall.ECONNRESET):
		return errors.New("connection reset")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("connection closed without an answer")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return errors.New(oneLine(err.Error()))
}

// probeStatus is one probe's result in a round.
type probeStatus struct {
	Probe probe
	Err   error // nil when it passed
}

// round tries every probe at once and returns those that failed, in the
// order given.
func (pr *prober) round(ctx context.Context, probes []probe) []probeStatus {
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() { errs[i] = pr.try(ctx, p) })
	}
	wg.Wait()
	var failing []probeStatus
	for i, err := range errs {
		if err != nil {
			failing = append(failing, probeStatus{probes[i], err})
		}
	}
	return failing
}

// describeFailing lists failing probes with their errors, on one line:
// "tcp://127.0.0.1:9 (connection refused), http://... (HTTP 503)".
func describeFailing(failing []probeStatus) string {
	parts := make([]string, len(failing))
	for i, s := range failing {
		parts[i] = fmt.Sprintf("%s (%s)", s.Probe, s.Err)
	}
	return strings.Join(parts, ", ")
}

// errProbesTimedOut is the probe wait ending on KUBEXIT_BIRTH_TIMEOUT.
var errProbesTimedOut = errors.New("birth probes timed out")

// birthProbes is what the probe wait needs of the configuration.
type birthProbes struct {
	Probes   []probe
	Timeout  time.Duration // 0 waits forever
	Interval time.Duration
}

// waitForProbes blocks until every probe passes in one round. It returns
// nil then, ctx.Err() when ctx is cancelled (a signal, a death dep's death,
// or the API wait failing), and on the timeout an error naming each probe
// still failing and its last error. Progress is logged at the API wait's
// pace (readinessProgressFirst, then readinessProgressEvery).
func waitForProbes(ctx context.Context, b birthProbes, log *slog.Logger) error {
	pr := newProber()
	defer pr.client.CloseIdleConnections()
	start := time.Now()
	nextProgress := start.Add(readinessProgressFirst)
	waitCtx, cancel, timeout := birthDeadline(ctx, b.Timeout)
	defer cancel()
	names := make([]string, len(b.Probes))
	for i, p := range b.Probes {
		names[i] = p.Raw
	}
	log.Info("waiting for birth probes", "probes", strings.Join(names, ","), "interval", b.Interval.String(), "timeout", timeout)
	var failing []probeStatus
	var lastSummary string
	for {
		f := pr.round(waitCtx, b.Probes)
		if waitCtx.Err() != nil {
			// Cut short: the failures of a round the deadline interrupted
			// are not news; the round before's are kept, if any.
			if failing == nil {
				failing = f
			}
			break
		}
		failing = f
		if len(failing) == 0 {
			log.Info("birth probes passing", "probes", strings.Join(names, ","), "waited", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		if s := describeFailing(failing); s != lastSummary {
			lastSummary = s
			log.Debug("birth probes failing", "failing", s)
		}
		if now := time.Now(); !now.Before(nextProgress) {
			nextProgress = now.Add(readinessProgressEvery)
			log.Info("still waiting for birth probes", "waited", now.Sub(start).Round(time.Second).String(), "failing", describeFailing(failing))
		}
		if !sleepCtx(waitCtx, b.Interval) {
			break
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failing) == 0 {
		return fmt.Errorf("%w after %v: %s: no attempt finished", errProbesTimedOut, b.Timeout, strings.Join(names, ", "))
	}
	return fmt.Errorf("%w after %v: %s", errProbesTimedOut, b.Timeout, describeFailing(failing))
}
