package main

// Death URLs: sidecars that cannot be wrapped.
//
// Injected sidecars (Istio's proxy, Linkerd's proxy, the Cloud SQL proxy)
// never get kubexit as their entrypoint, but they expose a shutdown endpoint:
//
//	Istio      POST http://127.0.0.1:15020/quitquitquit
//	Linkerd    POST http://localhost:4191/shutdown
//	Cloud SQL  POST http://localhost:9091/quitquitquit (GET works too)
//
// With KUBEXIT_DEATH_URLS, kubexit calls those URLs when a death dep dies,
// with KUBEXIT_DEATH_URL_METHOD (POST by default), retrying briefly: the
// sidecar may not be listening yet, or may answer 503 while it starts.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// deathURLTimings bound the death URL calls: defaultDeathURLTimings, or
// shorter ones in tests.
type deathURLTimings struct {
	// Budget bounds the time spent on one URL, retries included: a sidecar
	// that does not answer must not hold kubexit's exit for long.
	Budget time.Duration
	// Request bounds one request, so that a hung endpoint costs one
	// attempt, not the whole budget.
	Request time.Duration
	// Retries back off exponentially from FirstBackoff, capped at MaxBackoff.
	FirstBackoff, MaxBackoff time.Duration
}

var defaultDeathURLTimings = deathURLTimings{
	Budget:       10 * time.Second,
	Request:      2 * time.Second,
	FirstBackoff: 100 * time.Millisecond,
	MaxBackoff:   2 * time.Second,
}

const (
	// deathURLDrainLimit is how much of a response body is read: enough
	// to quote an error page, not enough for a chatty endpoint to matter.
	deathURLDrainLimit = 4 << 10
	// deathURLBodyQuote is how much of a failed response's body goes into
	// the error message.
	deathURLBodyQuote = 200
)

// parseDeathURLs parses KUBEXIT_DEATH_URLS: a comma list of absolute http or
// https URLs. Spaces around items, empty items and duplicates are dropped;
// an empty list is nil. The error names every bad item and what is wrong
// with it, on one line, then what is wanted; the caller adds the variable's
// name and value.
func parseDeathURLs(raw string) ([]string, error) {
	out, problems := splitList(raw, validateDeathURL)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s (want absolute http or https URLs, such as http://127.0.0.1:15020/quitquitquit)", strings.Join(problems, "; "))
	}
	return out, nil
}

// validateDeathURL accepts an absolute http or https URL with a host.
func validateDeathURL(s string) error {
	// Without "://", "localhost:4191/shutdown" would parse as scheme
	// "localhost" and get a misleading complaint about the scheme.
	if !strings.Contains(s, "://") {
		return errors.New("not an absolute URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %s is not between 1 and 65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("empty port after ':'")
	}
	return nil
}

// parseDeathURLMethod parses KUBEXIT_DEATH_URL_METHOD: POST (the default),
// GET or PUT, in any case.
func parseDeathURLMethod(raw string) (string, error) {
	switch m := strings.ToUpper(strings.TrimSpace(raw)); m {
	case "":
		return http.MethodPost, nil
	case http.MethodPost, http.MethodGet, http.MethodPut:
		return m, nil
	default:
		return "", errors.New("want POST, GET or PUT")
	}
}

// callDeathURLs calls every URL at once with method (no body) and waits for
// all of them. Each URL is retried on connection errors, timeouts, 5xx and
// 429 for up to the timings' budget; any 2xx is success, any other status fails
// at once. Each URL's outcome is logged once. The error joins one error per
// URL that failed; nil when all succeeded. It returns soon after ctx is
// cancelled.
func callDeathURLs(ctx context.Context, timings deathURLTimings, urls []string, method string, log *slog.Logger) error {
	if len(urls) == 0 {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if method == "" {
		method = http.MethodPost
	}
	c := &deathURLCaller{
		method:    method,
		timings:   timings,
		userAgent: userAgent(),
		log:       log,
		client: &http.Client{Transport: &http.Transport{
			// Shutdown endpoints are the pod's own: never through an
			// HTTP_PROXY from the environment.
			Proxy:               nil,
			DialContext:         (&net.Dialer{KeepAlive: -1}).DialContext,
			TLSHandshakeTimeout: timings.Request,
			// One request per connection: a retry after a sidecar
			// restarted its listener must not reuse a dead connection.
			DisableKeepAlives: true,
		}},
	}
	defer c.client.CloseIdleConnections()

	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() { errs[i] = c.call(ctx, u) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deathURLCaller is what the calls to the URLs share.
type deathURLCaller struct {
	method    string
	timings   deathURLTimings
	userAgent string
	client    *http.Client
	log       *slog.Logger
}

// call calls one URL until it succeeds, fails for good, or the budget or ctx
// runs out, and logs the outcome.
func (c *deathURLCaller) call(ctx context.Context, rawURL string) error {
	shown := redactDeathURL(rawURL)
	start := time.Now()
	budgetCtx, cancel := context.WithTimeout(ctx, c.timings.Budget)
	defer cancel()
	deadline, _ := budgetCtx.Deadline()
	backoff := c.timings.FirstBackoff

	// stopReason says why there is no next attempt, or "" to go on.
	stopReason := func(attempt int, err error) string {
		switch {
		case ctx.Err() != nil:
			return "cancelled after " + deathURLAttempts(attempt)
		case err != nil && !deathURLRetryable(err):
			return "not retried"
		case budgetCtx.Err() != nil || time.Now().Add(backoff).After(deadline):
			return fmt.Sprintf("gave up after %s in %v", deathURLAttempts(attempt), time.Since(start).Round(time.Millisecond))
		}
		return ""
	}
	var lastErr error
	fail := func(attempt int, reason string) error {
		cause := fmt.Errorf("%s: %w", reason, lastErr)
		level := slog.LevelError
		if ctx.Err() != nil {
			level = slog.LevelWarn // kubexit is on its way out; not the endpoint's fault
		}
		c.log.Log(context.Background(), level, "death URL call failed", "url", shown, "method", c.method, "attempts", attempt, "err", cause)
		return fmt.Errorf("%s %s: %w", c.method, shown, cause)
	}

	for attempt := 1; ; attempt++ {
		status, err := c.attempt(budgetCtx, rawURL)
		if err == nil {
			c.log.Info("death URL called", "url", shown, "method", c.method, "status", status, "attempts", attempt)
			return nil
		}
		// An attempt cut short by the end of ctx or of the budget says
		// nothing new about the endpoint: keep the previous error.
		if lastErr == nil || budgetCtx.Err() == nil {
			lastErr = err
		}
		if reason := stopReason(attempt, err); reason != "" {
			return fail(attempt, reason)
		}
		c.log.Debug("death URL attempt failed; retrying", "url", shown, "method", c.method, "attempt", attempt, "err", err, "retry_in", backoff)
		if !sleepCtx(budgetCtx, backoff) {
			return fail(attempt, stopReason(attempt, nil))
		}
		backoff = min(2*backoff, c.timings.MaxBackoff)
	}
}

// attempt makes one request, bounded by the timings' Request. It returns
// the status code of a 2xx answer, or why there was none.
func (c *deathURLCaller) attempt(ctx context.Context, rawURL string) (int, error) {
	began := time.Now()
	reqCtx, cancel := context.WithTimeout(ctx, c.timings.Request)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, c.method, rawURL, nil)
	if err != nil {
		return 0, &deathURLPermanentError{err}
	}
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the method and URL
		}
		if errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v", time.Since(began).Round(time.Millisecond))
		}
		return 0, err
	}
	// Read a little, for an error page; never all of an endless body.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, deathURLDrainLimit))
	resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp.StatusCode, nil
	}
	return 0, &deathURLStatusError{Status: resp.Status, Code: resp.StatusCode, Body: quoteDeathURLBody(body)}
}

// deathURLStatusError is an answer that is not 2xx.
type deathURLStatusError struct {
	Status string // "503 Service Unavailable"
	Code   int
	Body   string // the start of the body, quoted; may be empty
}

func (e *deathURLStatusError) Error() string {
	if e.Body == "" {
		return "answered " + e.Status
	}
	return "answered " + e.Status + ": " + e.Body
}

// deathURLPermanentError is a failure that a retry cannot cure.
type deathURLPermanentError struct{ err error }

func (e *deathURLPermanentError) Error() string { return e.err.Error() }
func (e *deathURLPermanentError) Unwrap() error { return e.err }

// deathURLRetryable tells whether another attempt may succeed where err failed:
// connection errors and timeouts (the sidecar may not be listening yet), 5xx
// and 429 (it may be starting or busy). Other statuses will not change.
func deathURLRetryable(err error) bool {
	var pe *deathURLPermanentError
	if errors.As(err, &pe) {
		return false
	}
	var se *deathURLStatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	return true
}

// quoteDeathURLBody quotes the start of a response body for a one-line message.
func quoteDeathURLBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if len(s) > deathURLBodyQuote {
		return strconv.Quote(s[:deathURLBodyQuote]) + "..."
	}
	return strconv.Quote(s)
}

// redactDeathURL hides a password in a URL that is logged.
func redactDeathURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

func deathURLAttempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}
