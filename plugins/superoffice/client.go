package superoffice

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/retry"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// timeZoneHeader asks for every date in UTC with its offset, so times are exact
// instants whatever the tenant's base zone [inferred: the reference recommends it;
// not yet tried against a real tenant]. Dates that still come without an offset
// are read in the tenant's base zone.
const timeZoneHeader = "UTC,includeTZOffset"

// Bounds of the in-memory caches: a daemon runs for months, and ids and access
// tokens keep coming. A full cache starts over; everything in it can be read again.
const (
	maxCached     = 10_000
	maxCachedRows = 500_000
)

// instanceCache is what an instance learns and keeps in memory.
type instanceCache struct {
	api     string // tenant API root, ".../api"
	apiAt   time.Time
	version string // tenant Version from the state API (the cursor epoch)

	tickets map[string]*ticketEntry

	loc      *time.Location
	zoneName string
	zoneAt   time.Time

	tasks   []taskItem
	tasksAt time.Time

	dir   map[int]dirEntry
	dirAt time.Time

	principals map[string]int // credential fingerprint -> acting associate

	corr     map[int]string // appointment id -> correlation id (ours)
	seriesMD map[int]*seriesMeta
}

type taskItem struct {
	id   int
	name string
}

type dirEntry struct {
	id    int
	name  string // login or resource name
	full  string
	email string
	kind  sdk.AccountKind
	at    time.Time
}

// apiError is a non-2xx answer.
type apiError struct {
	method, path string
	status       int
	errType      string
	msg          string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.method, e.path, e.status)
	if e.errType != "" {
		s += " " + e.errType
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// Unwrap maps the status to the contract's sentinel errors.
func (e *apiError) Unwrap() error {
	switch e.status {
	case http.StatusUnauthorized:
		return sdk.ErrUnauthenticated
	case http.StatusForbidden:
		return sdk.ErrPermissionDenied
	case http.StatusNotFound, http.StatusGone:
		return sdk.ErrNotFound
	case http.StatusPreconditionFailed:
		return sdk.ErrPreconditionFailed
	case http.StatusBadRequest:
		return sdk.ErrInvalidArgument
	}
	return nil
}

// request is one WebAPI call.
type request struct {
	method string
	path   string // below the API root: "/v1/Appointment/5"
	query  url.Values
	body   any
	header http.Header
	out    any  // decoded on 2xx when non-nil
	noAuth bool // login host calls
	abs    string
}

// bodyDecoder is an answer that reads its own JSON: hot paths that skip
// encoding/json's reflection (scanPage).
type bodyDecoder interface {
	decodeJSON([]byte) error
}

// response is what a call returned besides the decoded body.
type response struct {
	status int
	header http.Header
	null   bool // the body was the JSON literal null (agents: entity not found)
}

// call performs r for target t: resolves the tenant host, authenticates, follows
// a tenant move (421) and renews an expired ticket (401) once each, and maps
// errors.
func (in *instance) call(ctx context.Context, t sdk.Target, r request) (response, error) {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return response{}, fmt.Errorf("encode %s %s: %w", r.method, r.path, err)
		}
	}
	movedOnce, renewedOnce := false, false
	for attempt := 1; ; attempt++ {
		resp, err := in.once(ctx, t, r, body)
		var ae *apiError
		if errors.As(err, &ae) {
			switch {
			case ae.status == http.StatusMisdirectedRequest && !in.onsite && !movedOnce:
				// The tenant moved to another host: ask the state API again.
				movedOnce = true
				in.logger.Info("tenant moved, resolving its host again", "context_id", in.contextID)
				in.forgetAPI()
				continue
			case ae.status == http.StatusUnauthorized && t.Credential.Type == "system_token" && !renewedOnce:
				renewedOnce = true
				in.dropTicket(t.Credential.Token)
				continue
			}
		}
		if wait, ok := retryWait(err, r, attempt); ok {
			in.logger.Debug("retrying a request", "method", r.method, "path", r.path, "wait", wait, "err", err)
			if serr := retry.Sleep(ctx, wait); serr != nil {
				return resp, errors.Join(err, serr)
			}
			continue
		}
		return resp, err
	}
}

// Every call of the provider is many requests (a page of changes reads the diary,
// then its series; a create writes, reads back and marks), so a request that was
// throttled with a short Retry-After is waited out here, and a read that failed
// with a server error is sent again, as the Graph and Google clients do. Failing
// the whole call instead makes the engine repeat all of it, which on a busy
// tenant never ends. Longer hints, 503s without one and failed writes go up to
// the engine and the scheduler.
const (
	maxAttempts   = 4
	maxInlineWait = 5 * time.Second
)

// retryWait says whether err, the answer to attempt number attempt of r, may be
// retried, and after how long.
func retryWait(err error, r request, attempt int) (time.Duration, bool) {
	if err == nil || attempt >= maxAttempts {
		return 0, false
	}
	var te *sdk.ThrottledError
	if errors.As(err, &te) {
		// 429 and 503 mean the request was not carried out: any method may repeat.
		return te.RetryAfter, te.RetryAfter > 0 && te.RetryAfter <= maxInlineWait
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.status >= 500 && readOnly(r) {
		return 100 * time.Millisecond << (attempt - 1), true
	}
	return 0, false
}

// readOnly says whether sending r twice changes nothing: GETs, and the agents'
// Get methods (which SuperOffice serves as POST).
func readOnly(r request) bool {
	if r.method == http.MethodGet {
		return true
	}
	if r.method != http.MethodPost || !strings.Contains(r.path, "/Agents/") {
		return false
	}
	return strings.HasPrefix(r.path[strings.LastIndexByte(r.path, '/')+1:], "Get")
}

func (in *instance) once(ctx context.Context, t sdk.Target, r request, body []byte) (response, error) {
	u := r.abs
	if u == "" {
		base, err := in.apiRoot(ctx)
		if err != nil {
			return response{}, err
		}
		u = base + r.path
	}
	if len(r.query) > 0 {
		u += "?" + encodeQuery(r.query)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return response{}, fmt.Errorf("build %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("SO-TimeZone", timeZoneHeader)
	req.Header.Set("SO-Language", "en")
	for k, v := range r.header {
		req.Header[k] = v
	}
	if !r.noAuth {
		if err := in.authorize(ctx, req, t); err != nil {
			return response{}, err
		}
	}
	resp, err := in.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return response{}, fmt.Errorf("%s %s: %w", r.method, r.path, ctx.Err())
		}
		return response{}, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	buf := in.bodies.get(resp.ContentLength)
	defer in.bodies.put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer)); err != nil {
		return response{}, fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	raw := buf.Bytes() // the decoders below copy what they keep
	out := response{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		return out, &sdk.ThrottledError{RetryAfter: retry.After(resp.Header.Get("Retry-After"), in.now()),
			Reason: fmt.Sprintf("%s %s: HTTP %d", r.method, r.path, resp.StatusCode)}
	}
	if resp.StatusCode == http.StatusNotModified {
		return out, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &apiError{method: r.method, path: r.path, status: resp.StatusCode}
		var env wire.Error
		if json.Unmarshal(raw, &env) == nil {
			ae.errType, ae.msg = env.ErrorType, truncate(env.ErrorMessage, 300)
		}
		return out, ae
	}
	trimmed := bytes.TrimSpace(raw)
	if bytes.Equal(trimmed, []byte("null")) {
		out.null = true
		return out, nil
	}
	if r.out != nil && len(trimmed) > 0 {
		dec, own := r.out.(bodyDecoder)
		if own {
			err = dec.decodeJSON(trimmed)
		} else {
			err = json.Unmarshal(trimmed, r.out)
		}
		if err != nil {
			return out, fmt.Errorf("%s %s: decode answer (%d bytes): %w", r.method, r.path, len(raw), err)
		}
	}
	return out, nil
}

// maxAnswer bounds the answer read of one request.
const maxAnswer = 256 << 20

// bodyPool keeps the buffers that answers are read into: a diary scan answers
// hundreds of kilobytes on every round of every link.
type bodyPool struct{ p sync.Pool }

// maxPooledBody: larger buffers are left to the collector.
const maxPooledBody = 8 << 20

func (bp *bodyPool) get(size int64) *bytes.Buffer {
	b, _ := bp.p.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	if size > 0 && size <= maxAnswer {
		b.Grow(int(size) + bytes.MinRead) // ReadFrom wants room to see the end
	}
	return b
}

func (bp *bodyPool) put(b *bytes.Buffer) {
	if b.Cap() > maxPooledBody {
		return
	}
	b.Reset()
	bp.p.Put(b)
}

// encodeQuery encodes like url.Values.Encode but keeps OData's $ and spaces
// readable (%20), as clients of the WebAPI do.
func encodeQuery(q url.Values) string {
	s := q.Encode()
	s = strings.ReplaceAll(s, "%24", "$")
	return strings.ReplaceAll(s, "+", "%20")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (in *instance) authorize(ctx context.Context, req *http.Request, t sdk.Target) error {
	switch t.Credential.Type {
	case "bearer":
		if t.Credential.Token == "" {
			return fmt.Errorf("empty bearer token: %w", sdk.ErrUnauthenticated)
		}
		req.Header.Set("Authorization", "Bearer "+t.Credential.Token)
	case "system_token":
		tk, err := in.ticket(ctx, t.Credential.Token)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "SOTicket "+tk)
		req.Header.Set("SO-AppToken", in.clientSecret)
	case "":
		if !in.onsite || in.username == "" {
			return fmt.Errorf("no credential: online tenants need a user's token or the system user: %w", sdk.ErrUnauthenticated)
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(in.username+":"+in.password)))
	default:
		return fmt.Errorf("credential type %q is not supported by superoffice: %w", t.Credential.Type, sdk.ErrInvalidArgument)
	}
	return nil
}

// apiRoot returns the tenant's API root: base_url/api onsite, or the Api the
// state API names online (cached for stateTTL).
func (in *instance) apiRoot(ctx context.Context) (string, error) {
	if in.onsite {
		return in.baseURL + "/api", nil
	}
	in.mu.Lock()
	api, at := in.cache.api, in.cache.apiAt
	in.mu.Unlock()
	if api != "" && in.now().Sub(at) < in.stateTTL {
		return api, nil
	}
	st, err := in.tenantState(ctx)
	if err != nil {
		return "", err
	}
	return st.Api, nil
}

func (in *instance) forgetAPI() {
	in.mu.Lock()
	in.cache.api = ""
	in.mu.Unlock()
}

// tenantState reads GET {root}/api/state/{ctx} and caches the tenant's API root
// and version.
func (in *instance) tenantState(ctx context.Context) (wire.TenantState, error) {
	var st wire.TenantState
	_, err := in.once(ctx, sdk.Target{}, request{method: http.MethodGet, path: "/api/state/" + url.PathEscape(in.contextID),
		abs: in.root + "/api/state/" + url.PathEscape(in.contextID), noAuth: true, out: &st}, nil)
	if err != nil {
		return st, fmt.Errorf("resolve tenant %s: %w", in.contextID, err)
	}
	if !st.IsRunning {
		switch st.State {
		case "OfflineMaintenance", "Provisioning", "MigrationPending":
			return st, fmt.Errorf("tenant %s: %w", in.contextID, &sdk.ThrottledError{RetryAfter: 5 * time.Minute,
				Reason: "tenant state " + st.State})
		default:
			return st, fmt.Errorf("tenant %s is %s (%s): %w", in.contextID, orUnknown(st.State), "not running", sdk.ErrPermissionDenied)
		}
	}
	api := strings.TrimRight(st.Api, "/")
	if api == "" && st.Endpoint != "" {
		api = strings.TrimRight(st.Endpoint, "/") + "/api"
	}
	if u, err := url.Parse(api); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return st, fmt.Errorf("tenant %s: the state API named no usable API root (%q)", in.contextID, st.Api)
	}
	st.Api = api
	in.mu.Lock()
	if in.cache.api != "" && in.cache.api != api {
		in.logger.Info("tenant host changed", "context_id", in.contextID, "api", api)
	}
	in.cache.api, in.cache.apiAt, in.cache.version = api, in.now(), st.Version
	in.mu.Unlock()
	return st, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

// epoch returns the tenant's current version, the cursor's guard against a
// restored or rebuilt database: the state API's Version online, the version
// GET {api}/v1 reports onsite (its field names are [unconfirmed]; without them
// onsite cursors expire by age only).
func (in *instance) epoch(ctx context.Context, t sdk.Target) (string, error) {
	if in.onsite {
		in.mu.Lock()
		v, at := in.cache.version, in.cache.apiAt
		in.mu.Unlock()
		if !at.IsZero() && in.now().Sub(at) < in.stateTTL {
			return v, nil
		}
		var info map[string]any
		if _, err := in.get(ctx, t, "/v1", nil, &info); err != nil {
			return "", fmt.Errorf("read the installation's version: %w", err)
		}
		v = firstNonEmpty(strOf(info["NetServerVersion"]), strOf(info["Version"]))
		in.mu.Lock()
		in.cache.version, in.cache.apiAt = v, in.now()
		in.mu.Unlock()
		return v, nil
	}
	if _, err := in.apiRoot(ctx); err != nil {
		return "", err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cache.version, nil
}

// get is a GET into out; a 404 is sdk.ErrNotFound.
func (in *instance) get(ctx context.Context, t sdk.Target, path string, q url.Values, out any) (response, error) {
	return in.call(ctx, t, request{method: http.MethodGet, path: path, query: q, out: out})
}

// agent POSTs body to an agent method into out.
func (in *instance) agent(ctx context.Context, t sdk.Target, method string, q url.Values, body, out any) (response, error) {
	if body == nil {
		body = json.RawMessage("null")
	}
	return in.call(ctx, t, request{method: http.MethodPost, path: "/v1/Agents/" + method, query: q, body: body, out: out})
}
