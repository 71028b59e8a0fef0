package google

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"synchronizer/plugins/internal/retry"
	"synchronizer/plugins/sdk"
)

// conn is what one provider call works with: the instance, an authenticated HTTP
// client and Google's clients on top of it.
type conn struct {
	p        *Provider
	inst     *instance
	calendar string // the calendar id calls act on
	account  string
	quota    string // quotaUser and pacing key
	http     *http.Client
	svc      *calendar.Service
	sa       bool
	subject  string
}

// tokenFunc yields the bearer token of a request; refresh drops a cached one.
type tokenFunc func(ctx context.Context, refresh bool) (string, error)

// connect builds the clients for target t (scope is what the calls need).
func (p *Provider) connect(t sdk.Target, scope string) (*conn, error) {
	inst, err := p.instance(t.Instance)
	if err != nil {
		return nil, err
	}
	cal := t.Calendar
	if cal == "" {
		cal = t.Account
	}
	if cal == "" {
		return nil, fmt.Errorf("google %s: the target names no calendar: %w", inst.name, sdk.ErrInvalidArgument)
	}
	c := &conn{p: p, inst: inst, calendar: cal, account: t.Account, quota: strings.ToLower(t.Account)}
	var tok tokenFunc
	switch {
	case t.Credential.Type == "bearer" && t.Credential.Token != "":
		static := t.Credential.Token
		tok = func(context.Context, bool) (string, error) { return static, nil }
	case t.Credential.Type == "" && inst.sa != nil:
		c.sa = true
		c.subject = p.subjectFor(inst, t.Account, scope)
		if c.subject == "" {
			return nil, fmt.Errorf("google %s: resource calendar %s needs the admin setting (a Workspace admin the service account acts as): %w",
				inst.name, t.Account, sdk.ErrInvalidArgument)
		}
		sub := c.subject
		tok = func(ctx context.Context, refresh bool) (string, error) {
			return p.serviceToken(ctx, inst, sub, scope, refresh)
		}
	case t.Credential.Type == "":
		return nil, fmt.Errorf("google %s: no credential for %s (the link has not consented yet): %w", inst.name, t.Account, sdk.ErrUnauthenticated)
	default:
		return nil, fmt.Errorf("google %s: credential type %q is not supported (want bearer): %w", inst.name, t.Credential.Type, sdk.ErrInvalidArgument)
	}
	c.http = &http.Client{Transport: &authTransport{base: recordingTransport{inner: sdk.InstrumentedTransport(p.opts.Transport)}, token: tok}}
	svc, err := calendar.NewService(context.Background(), option.WithHTTPClient(c.http), option.WithEndpoint(inst.apiBase))
	if err != nil {
		return nil, fmt.Errorf("google %s: calendar client: %w", inst.name, err)
	}
	c.svc = svc
	return c, nil
}

// subjectFor picks whom a service account impersonates: the user for their own
// calendar, the admin for resource calendars and the directory.
func (p *Provider) subjectFor(inst *instance, account, scope string) string {
	if scope == ScopeResources || isResourceCalendar(account) || account == "" {
		return inst.admin
	}
	return strings.ToLower(account)
}

// isResourceCalendar tells a resource calendar id from a user's address: resource
// calendars live under a "resource." domain (…@resource.calendar.google.com).
func isResourceCalendar(id string) bool {
	_, dom, _ := strings.Cut(strings.ToLower(id), "@")
	return strings.HasPrefix(dom, "resource.")
}

// adminService is a Directory API client on the same connection.
func (c *conn) adminService() (*admin.Service, error) {
	s, err := admin.NewService(context.Background(), option.WithHTTPClient(c.http), option.WithEndpoint(c.inst.adminBase))
	if err != nil {
		return nil, fmt.Errorf("google %s: directory client: %w", c.inst.name, err)
	}
	return s, nil
}

// authTransport puts the bearer token on each request.
type authTransport struct {
	base  http.RoundTripper
	token tokenFunc
}

type refreshKey struct{}

func (a *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	refresh, _ := r.Context().Value(refreshKey{}).(bool)
	tok, err := a.token(r.Context(), refresh)
	if err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return a.base.RoundTrip(r)
}

// recordingTransport reports each request to the call's recorder exactly once,
// marking Google's quota refusals (403 rateLimitExceeded and friends), which
// sdk.InstrumentedTransport cannot recognise, as throttled.
type recordingTransport struct{ inner http.RoundTripper }

type captureRecorder struct{ recs []sdk.RequestRecord }

func (c *captureRecorder) Record(r sdk.RequestRecord) { c.recs = append(c.recs, r) }

func (t recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	outer := r.Context()
	capt := &captureRecorder{}
	resp, err := t.inner.RoundTrip(r.WithContext(sdk.WithRecorder(outer, capt)))
	if resp != nil && resp.StatusCode == http.StatusForbidden && resp.Body != nil {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr == nil && isQuotaBody(body) {
			for i := range capt.recs {
				capt.recs[i].Throttled = true
			}
		}
	}
	for _, rec := range capt.recs {
		sdk.ObserveRequest(outer, rec)
	}
	return resp, err
}

func isQuotaBody(b []byte) bool {
	return bytes.Contains(b, []byte("rateLimitExceeded")) || bytes.Contains(b, []byte("userRateLimitExceeded")) ||
		bytes.Contains(b, []byte("quotaExceeded"))
}

// ---- service-account tokens ----

type cachedToken struct {
	token  string
	expiry time.Time
}

// serviceToken returns an access token for subject from the JWT bearer grant,
// cached until shortly before it expires.
func (p *Provider) serviceToken(ctx context.Context, inst *instance, subject, scope string, refresh bool) (string, error) {
	key := inst.name + "\x00" + subject + "\x00" + scope
	p.mu.Lock()
	ct := p.tokens[key]
	if refresh {
		delete(p.tokens, key)
		ct = nil
	}
	p.mu.Unlock()
	if ct != nil && p.opts.Now().Add(time.Minute).Before(ct.expiry) {
		return ct.token, nil
	}
	cfg := &jwt.Config{Email: inst.sa.email, PrivateKey: pemOf(inst.sa), PrivateKeyID: inst.sa.keyID,
		Scopes: []string{scope}, TokenURL: inst.tokenURL, Subject: subject, Audience: inst.tokenURL}
	hc := &http.Client{Transport: recordingTransport{inner: sdk.InstrumentedTransport(p.opts.Transport)}}
	tok, err := cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc)).Token()
	if err != nil {
		return "", p.tokenError(inst, subject, scope, err)
	}
	p.mu.Lock()
	p.tokens[key] = &cachedToken{token: tok.AccessToken, expiry: tok.Expiry}
	p.mu.Unlock()
	return tok.AccessToken, nil
}

// tokenError explains a refused JWT grant in terms of what the admin must do.
func (p *Provider) tokenError(inst *instance, subject, scope string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode == "" {
			// x/oauth2/jwt leaves the error fields to the caller.
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				re.ErrorCode, re.ErrorDescription = body.Error, body.Description
			}
		}
		switch re.ErrorCode {
		case "unauthorized_client":
			return fmt.Errorf("google %s: service account %s may not act for %s with scope %s; in the Admin console (Security > API controls > Domain-wide delegation) authorize its client id for that scope: %w",
				inst.name, inst.sa.email, subject, scope, sdk.ErrPermissionDenied)
		case "invalid_grant":
			return fmt.Errorf("google %s: token for %s refused (%s): check that the account exists and the server clock is right: %w",
				inst.name, subject, re.ErrorDescription, sdk.ErrPermissionDenied)
		case "invalid_client":
			return fmt.Errorf("google %s: service account %s is unknown or its key was deleted: %w", inst.name, inst.sa.email, sdk.ErrPermissionDenied)
		}
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return &sdk.ThrottledError{Reason: fmt.Sprintf("token endpoint answered %d", re.Response.StatusCode)}
		}
	}
	return fmt.Errorf("google %s: token for %s: %w", inst.name, subject, err)
}

// pemOf is the key in the PEM form x/oauth2/jwt wants.
func pemOf(sa *serviceAccount) []byte { return sa.pem }

// ---- retries, backoff, pacing ----

// retryPolicy says which failures an operation may repeat.
type retryPolicy int

const (
	// idempotent: reads, deletes, inserts with a chosen id.
	idempotent retryPolicy = iota
	// onlyRefused: writes that must not run twice; retried only when the service
	// refused them without acting (quota, 429).
	onlyRefused
)

// do runs fn with pacing, retries and backoff; what names the operation in errors.
func (c *conn) do(ctx context.Context, what string, policy retryPolicy, fn func(ctx context.Context) error) error {
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := c.p.pace(ctx, c.inst.name+"\x00"+c.quota); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		callCtx := ctx
		if refreshed {
			callCtx = context.WithValue(ctx, refreshKey{}, true)
		}
		err := fn(callCtx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		var stop errStop
		if errors.As(err, &stop) {
			return err
		}
		code, reason, retryAfter := errInfo(err)
		if code == http.StatusUnauthorized && c.sa && !refreshed {
			refreshed = true // a service account mints a new token itself, once
			continue
		}
		if code == 403 && reason == "quotaExceeded" {
			// Calendar usage limits (too many events created, invitations sent):
			// they replenish over minutes to hours, so a retry within the call
			// only spends requests and prolongs them.
			hint := max(retryAfter, usageLimitsCooloff)
			return fmt.Errorf("%s: %w", what, &sdk.ThrottledError{RetryAfter: hint, Reason: reason})
		}
		refused := code == 429 || (code == 403 && isQuotaReason(reason))
		transient := code == 500 || code == 502 || code == 503 || code == 504 || (code == 0 && isTransient(err))
		retry := refused || (transient && policy == idempotent)
		if !retry {
			return c.mapErr(what, err)
		}
		wait := c.p.backoff(attempt, retryAfter)
		if attempt >= c.p.opts.MaxRetries || wait > c.p.opts.MaxWait {
			if refused || code == 503 {
				hint := wait
				if retryAfter > 0 {
					hint = retryAfter // the server's word, without our jitter
				}
				return fmt.Errorf("%s: %w", what, &sdk.ThrottledError{RetryAfter: hint, Reason: nonEmpty(reason, http.StatusText(code))})
			}
			return c.mapErr(what, err)
		}
		c.p.log.Debug("google request refused; backing off", "instance", c.inst.name, "op", what, "code", code,
			"reason", reason, "wait", wait)
		if err := c.p.opts.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// usageLimitsCooloff is how long a calendar that hit Google's usage limits
// (403 quotaExceeded) is left alone at least [inferred: the limits are not
// published; calls succeed again after about a quarter of an hour].
const usageLimitsCooloff = 15 * time.Minute

func isQuotaReason(r string) bool {
	return r == "rateLimitExceeded" || r == "userRateLimitExceeded" || r == "quotaExceeded"
}

// isTransient: a broken connection or a response that could not be decoded (a cut
// body) — the request may be repeated when it is idempotent.
func isTransient(err error) bool {
	if errors.Is(err, sdk.ErrPermissionDenied) || errors.Is(err, sdk.ErrInvalidArgument) || errors.Is(err, sdk.ErrUnauthenticated) {
		return false // a refused token grant, not the network
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isDecodeError(err)
}

// isDecodeError recognises a JSON decoding failure of an answer.
func isDecodeError(err error) bool {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "unexpected end of JSON input") || strings.Contains(s, "invalid character") ||
		strings.Contains(s, "unexpected EOF") || strings.Contains(s, "cannot unmarshal")
}

// backoff is exponential with jitter: attempt n waits between 2^n/2 and 2^n
// seconds, or the server's Retry-After plus up to a quarter more.
func (p *Provider) backoff(attempt int, retryAfter time.Duration) time.Duration {
	p.mu.Lock()
	j := p.rng.Float64()
	p.mu.Unlock()
	if retryAfter > 0 {
		return retryAfter + time.Duration(j*float64(retryAfter)/4)
	}
	base := time.Duration(math.Pow(2, float64(min(attempt, 10)))) * time.Second
	return base/2 + time.Duration(j*float64(base/2))
}

// bucket is a per-user token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// pace waits for a request slot of key (requests per minute per user).
func (p *Provider) pace(ctx context.Context, key string) error {
	rpm := p.opts.RequestsPerMinute
	if rpm < 0 {
		return nil
	}
	rate := float64(rpm) / 60
	burst := float64(rpm) / 6
	now := p.opts.Now()
	p.mu.Lock()
	b := p.buckets[key]
	if b == nil {
		if len(p.buckets) > 10000 {
			for k, v := range p.buckets {
				if now.Sub(v.last) > time.Minute {
					delete(p.buckets, k)
				}
			}
		}
		b = &bucket{tokens: burst, last: now}
		p.buckets[key] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	b.tokens--
	deficit := -b.tokens
	p.mu.Unlock()
	if deficit <= 0 {
		return nil
	}
	return p.opts.Sleep(ctx, time.Duration(deficit/rate*float64(time.Second)))
}

// ---- errors ----

// errInfo extracts status, first reason and Retry-After from a client error.
func errInfo(err error) (code int, reason string, retryAfter time.Duration) {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		var he *httpError
		if errors.As(err, &he) {
			return he.code, he.reason, he.retryAfter
		}
		return 0, "", 0
	}
	code = ge.Code
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	if ge.Header != nil {
		retryAfter = retry.After(ge.Header.Get("Retry-After"), time.Now())
	}
	return code, reason, retryAfter
}

// httpError is an error answer of a request made without Google's client (batch,
// raw reads).
type httpError struct {
	code       int
	reason     string
	message    string
	retryAfter time.Duration
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.code, e.reason, e.message) }

// mapErr turns a client error into the contract's typed errors, with context. It
// never includes tokens: Google's error bodies do not echo them.
func (c *conn) mapErr(what string, err error) error {
	code, reason, retryAfter := errInfo(err)
	msg := ""
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		msg = ge.Message
	} else if he := (*httpError)(nil); errors.As(err, &he) {
		msg = he.message
	}
	detail := fmt.Sprintf("%s: HTTP %d %s", what, code, reason)
	if msg != "" {
		detail += " (" + msg + ")"
	}
	switch {
	case code == 0:
		return fmt.Errorf("%s: %w", what, err)
	case code == 401:
		return fmt.Errorf("%s: %w", detail, sdk.ErrUnauthenticated)
	case code == 429 || (code == 403 && isQuotaReason(reason)) || code == 503:
		if reason == "quotaExceeded" {
			retryAfter = max(retryAfter, usageLimitsCooloff)
		}
		return fmt.Errorf("%s: %w", detail, &sdk.ThrottledError{RetryAfter: retryAfter, Reason: nonEmpty(reason, "rateLimitExceeded")})
	case code == 403 && reason == "insufficientPermissions":
		return fmt.Errorf("%s: the consent lacks a scope this needs; consent again and keep every box ticked: %w", detail, sdk.ErrPermissionDenied)
	case code == 403:
		return fmt.Errorf("%s: %w", detail, sdk.ErrPermissionDenied)
	case code == 404:
		return fmt.Errorf("%s: %w", detail, sdk.ErrNotFound)
	case code == 410 && (reason == "fullSyncRequired" || reason == "updatedMinTooLongAgo"):
		return fmt.Errorf("%s: %w", detail, sdk.ErrFullSyncRequired)
	case code == 410:
		return fmt.Errorf("%s: %w", detail, sdk.ErrNotFound)
	case code == 412:
		return fmt.Errorf("%s: %w", detail, sdk.ErrPreconditionFailed)
	case code == 400:
		return fmt.Errorf("%s: %w", detail, sdk.ErrInvalidArgument)
	}
	return fmt.Errorf("%s: %w", detail, err)
}

// googleCode is the HTTP status of a client error (0 when none).
func googleCode(err error) (int, string) {
	code, reason, _ := errInfo(err)
	return code, reason
}
