package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Service is one emulated service as `synchronizer emulate` prints it: the API
// root and a bearer token that reaches every mailbox, calendar and diary.
type Service struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// Services is the JSON on emulate's first stdout line.
type Services struct {
	SuperOffice Service `json:"superoffice"`
	M365        Service `json:"m365"`
	Google      Service `json:"google"`
}

// Side names used in reports and stats: the SuperOffice side and the two
// calendar systems.
const (
	sideSuperOffice = "superoffice"
	sideM365        = "m365"
	sideGoogle      = "google"
)

// byName returns the service of one side.
func (s Services) byName(name string) Service {
	switch name {
	case sideSuperOffice:
		return s.SuperOffice
	case sideM365:
		return s.M365
	default:
		return s.Google
	}
}

// root is scheme://host:port of a service, where /_emulator/ lives.
func (s Service) root() (string, error) {
	u, err := url.Parse(s.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("service URL %q is not absolute", s.URL)
	}
	return u.Scheme + "://" + u.Host, nil
}

// validate checks that every service has a loopback URL and a token.
func (s Services) validate() error {
	for _, name := range []string{sideSuperOffice, sideM365, sideGoogle} {
		svc := s.byName(name)
		if svc.URL == "" || svc.Token == "" {
			return fmt.Errorf("emulate printed no URL or token for %s", name)
		}
		u, err := url.Parse(svc.URL)
		if err != nil {
			return fmt.Errorf("emulate's %s URL: %w", name, err)
		}
		if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
			return fmt.Errorf("emulate's %s URL %s is not on loopback", name, svc.URL)
		}
	}
	return nil
}

// httpError is a non-2xx answer.
type httpError struct {
	Method, URL string
	Status      int
	Body        string
	RetryAfter  time.Duration
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, e.Body)
}

// retryable says whether an answer may be retried: throttling and server errors.
func (e *httpError) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500 ||
		(e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Body), "ratelimitexceeded"))
}

// client speaks JSON over HTTP to the emulators and the daemon, retrying
// throttled and failed answers (the benchmark's own reads see injected faults
// too) a bounded number of times.
type client struct {
	http *http.Client
	// attempts bounds tries per request; maxWait bounds one Retry-After.
	attempts int
	maxWait  time.Duration
}

func newClient(timeout time.Duration) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.Proxy = nil // loopback only, whatever the environment says
	return &client{http: &http.Client{Timeout: timeout, Transport: tr}, attempts: 8, maxWait: 5 * time.Second}
}

// request is one call.
type request struct {
	method, url, token string
	header             map[string]string
	body               any
}

// do sends req and decodes a JSON answer into out (nil: discarded). It returns
// the status and an *httpError for a non-2xx answer after the retries.
func (c *client) do(ctx context.Context, req request, out any) (int, error) {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return 0, fmt.Errorf("%s %s: encode: %w", req.method, redactURL(req.url), err)
		}
	}
	var last error
	for attempt := 0; attempt < c.attempts; attempt++ {
		status, body, err := c.once(ctx, req, payload)
		if err == nil {
			if out != nil && len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, out); err != nil {
					return status, fmt.Errorf("%s %s: decode: %w", req.method, redactURL(req.url), err)
				}
			}
			return status, nil
		}
		last = err
		var he *httpError
		wait := 100 * time.Millisecond << min(attempt, 5)
		switch {
		case errors.As(err, &he) && he.retryable():
			if he.RetryAfter > 0 {
				wait = min(he.RetryAfter, c.maxWait)
			}
		case errors.As(err, &he):
			return status, err
		case ctx.Err() != nil:
			return 0, ctx.Err()
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
	}
	return 0, last
}

func (c *client) once(ctx context.Context, req request, payload []byte) (int, []byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, req.url, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", req.method, redactURL(req.url), err)
	}
	if payload != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json")
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", req.method, redactURL(req.url), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read the answer: %w", req.method, redactURL(req.url), err)
	}
	if resp.StatusCode/100 != 2 {
		he := &httpError{Method: req.method, URL: redactURL(req.url), Status: resp.StatusCode,
			Body: shorten(string(bytes.TrimSpace(b)), 300)}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			he.RetryAfter = time.Duration(s) * time.Second
		}
		return resp.StatusCode, b, he
	}
	return resp.StatusCode, b, nil
}

// redactURL drops the query (tokens of paging links) and shortens an
// activation path's secret.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an invalid URL"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	parts := strings.Split(u.Path, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "activate" && parts[i+1] != "" {
			parts[i+1] = "…"
		}
	}
	u.Path = strings.Join(parts, "/")
	return u.String()
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// emulatorStats is the part of GET /_emulator/stats the benchmark reads: HTTP
// requests served to clients other than the benchmark's own control calls. The
// three emulators name the total differently; each counts a $batch once in its
// total.
type emulatorStats struct {
	Requests     map[string]int `json:"requests"`
	Total        int            `json:"total"`          // SuperOffice
	RequestsTot  int            `json:"requests_total"` // Microsoft 365, Google
	Throttled    int            `json:"throttled"`
	ServerErrors int            `json:"server_errors"`
	MailsSent    int            `json:"mails_sent"`
	// Push notifications delivered: Graph's subscriptions and Google's watch
	// channels (notifications_sent), SuperOffice's webhooks (webhook_deliveries).
	NotificationsSent int `json:"notifications_sent"`
	WebhookDeliveries int `json:"webhook_deliveries"`
}

// notifications is the number of push notifications the emulator sent.
func (s emulatorStats) notifications() int { return s.NotificationsSent + s.WebhookDeliveries }

// requests is the number of HTTP requests served.
func (s emulatorStats) requests() int { return s.Total + s.RequestsTot }

// stats reads one emulator's counters.
func (c *client) stats(ctx context.Context, svc Service) (emulatorStats, error) {
	root, err := svc.root()
	if err != nil {
		return emulatorStats{}, err
	}
	var st emulatorStats
	if _, err := c.do(ctx, request{method: http.MethodGet, url: root + "/_emulator/stats", token: svc.Token}, &st); err != nil {
		return emulatorStats{}, fmt.Errorf("read the emulator's stats: %w", err)
	}
	return st, nil
}

// allStats reads the counters of the three emulators, by side.
func (c *client) allStats(ctx context.Context, svcs Services) (map[string]emulatorStats, error) {
	out := map[string]emulatorStats{}
	for _, name := range []string{sideSuperOffice, sideM365, sideGoogle} {
		st, err := c.stats(ctx, svcs.byName(name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = st
	}
	return out, nil
}

// Faults is what POST /_emulator/faults takes, as far as the benchmark sets it.
// Every emulator reads throttle and server_errors; project_quota and user_quota
// are Google's requests per minute per project and per user (0: Google's
// 10,000 and 600, negative: none), and only Google reads them.
type Faults struct {
	Throttle     float64 `json:"throttle"`
	ServerErrors float64 `json:"server_errors"`
	RetryAfter   int     `json:"retry_after,omitempty"`
	ProjectQuota int     `json:"project_quota,omitempty"`
	UserQuota    int     `json:"user_quota,omitempty"`
}

// setFaults replaces the fault settings of one emulator.
func (c *client) setFaults(ctx context.Context, svc Service, f Faults) error {
	root, err := svc.root()
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, request{method: http.MethodPost, url: root + "/_emulator/faults", token: svc.Token, body: f}, nil); err != nil {
		return fmt.Errorf("set the emulator's faults: %w", err)
	}
	return nil
}
