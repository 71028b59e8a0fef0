package m365

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
	"sync"
	"time"

	"synchronizer/plugins/internal/retry"
	"synchronizer/plugins/sdk"
)

// preferRead is sent with every Graph request: answers in UTC, immutable ids (so ids
// survive moves and match across delta, GETs and notifications), and bodies as text.
const preferBase = `outlook.timezone="UTC", IdType="ImmutableId", outlook.body-content-type="text"`

// Retry policy for throttling and transient failures. Waits longer than
// maxInlineWait are handed to the host as *sdk.ThrottledError instead.
const (
	maxAttempts   = 4
	maxInlineWait = 10 * time.Second
	maxErrorBody  = 64 << 10
	maxBody       = 64 << 20
)

// GraphError is an error answer of Graph: its status and the code and message of the
// error envelope.
type GraphError struct {
	Status     int
	Code       string
	Message    string
	RequestID  string
	RetryAfter time.Duration
}

func (e *GraphError) Error() string {
	msg := fmt.Sprintf("graph answered %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RequestID != "" {
		msg += " (request-id " + e.RequestID + ")"
	}
	return msg
}

// classify maps a Graph error to the contract's sentinels; the GraphError stays in
// the chain for errors.As.
func classify(ge *GraphError) error {
	switch {
	case ge.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w", sdk.ErrUnauthenticated, ge)
	case ge.Status == http.StatusTooManyRequests || ge.Status == http.StatusServiceUnavailable:
		return &sdk.ThrottledError{RetryAfter: ge.RetryAfter, Reason: ge.Error()}
	case ge.Status == http.StatusNotFound && ge.Code == "MailboxNotEnabledForRESTAPI":
		return fmt.Errorf("%w: the account has no Exchange Online mailbox (or it is inactive or on-premises): %w", sdk.ErrNotFound, ge)
	case ge.Status == http.StatusNotFound && (ge.Code == "ErrorInvalidUser" || ge.Code == "Request_ResourceNotFound"):
		return fmt.Errorf("%w: no such user or mailbox: %w", sdk.ErrNotFound, ge)
	case ge.Status == http.StatusNotFound:
		return fmt.Errorf("%w: %w", sdk.ErrNotFound, ge)
	case ge.Status == http.StatusGone:
		return fmt.Errorf("%w: %w", sdk.ErrFullSyncRequired, ge)
	case ge.Status == http.StatusPreconditionFailed, ge.Status == http.StatusConflict && ge.Code == "ErrorIrresolvableConflict":
		return fmt.Errorf("%w: %w", sdk.ErrPreconditionFailed, ge)
	case ge.Status == http.StatusForbidden && strings.Contains(ge.Message, "AccessPolicy"):
		return fmt.Errorf("%w: the mailbox is outside the application access policy of this app: %w", sdk.ErrPermissionDenied, ge)
	case ge.Status == http.StatusForbidden:
		return fmt.Errorf("%w: %w", sdk.ErrPermissionDenied, ge)
	case ge.Status == http.StatusBadRequest, ge.Status == http.StatusUnprocessableEntity, ge.Status == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%w: %w", sdk.ErrInvalidArgument, ge)
	}
	return ge
}

func transient(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusBadGateway, http.StatusInternalServerError:
		return true
	}
	return false
}

func backoff(attempt int) time.Duration {
	return time.Second << min(attempt, 5)
}

func decodeGraphError(status int, h http.Header, body []byte, now time.Time) *GraphError {
	ge := &GraphError{Status: status, RequestID: h.Get("request-id"), RetryAfter: retry.After(h.Get("Retry-After"), now)}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil {
		ge.Code, ge.Message = env.Error.Code, env.Error.Message
	}
	if ge.Code == "" && ge.Message == "" {
		ge.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	return ge
}

// mailboxLimiter keeps at most four requests in flight per mailbox, the limit Exchange
// enforces per application and mailbox. A $batch takes up to four slots, because
// Graph forwards up to four of its items at once.
type mailboxLimiter struct {
	mu    sync.Mutex
	slots map[string]*semaphore
}

func newMailboxLimiter() *mailboxLimiter { return &mailboxLimiter{slots: map[string]*semaphore{}} }

func (l *mailboxLimiter) get(key string) *semaphore {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.slots[key]
	if s == nil {
		s = &semaphore{capacity: 4}
		l.slots[key] = s
	}
	return s
}

// semaphore is a weighted, FIFO, context-aware semaphore.
type semaphore struct {
	mu       sync.Mutex
	capacity int
	used     int
	waiters  []*waiter
}

type waiter struct {
	n     int
	ready chan struct{}
}

func (s *semaphore) acquire(ctx context.Context, n int) error {
	n = min(n, s.capacity)
	s.mu.Lock()
	if s.used+n <= s.capacity && len(s.waiters) == 0 {
		s.used += n
		s.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for i, x := range s.waiters {
			if x == w {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				s.mu.Unlock()
				return ctx.Err()
			}
		}
		s.mu.Unlock()
		s.release(n) // granted while we gave up
		return ctx.Err()
	}
}

func (s *semaphore) release(n int) {
	n = min(n, s.capacity)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used -= n
	for len(s.waiters) > 0 && s.used+s.waiters[0].n <= s.capacity {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		s.used += w.n
		close(w.ready)
	}
}

// conn is one call's view of Graph: an instance, a mailbox and a credential.
type conn struct {
	p       *Provider
	inst    *instance
	token   string
	mailbox string // path segment of the mailbox ("users/{id}" or "me")
	calPath string // "/users/{id}/calendar" or "/users/{id}/calendars/{cal}"
	sem     *semaphore
}

// request is one Graph call. path is relative to the Graph root ("/users/...?...").
type request struct {
	method  string
	path    string
	body    any
	ifMatch string
	page    int // odata.maxpagesize, 0 = none
	op      string
	// idempotent marks a POST that may be sent again (see retrySafe); GETs are
	// re-read when their answer arrives cut off.
	idempotent bool
}

// rel turns an absolute link from Graph (nextLink, deltaLink) into a path under the
// configured Graph root. Only the path is used, so a token never goes to another host.
func (c *conn) rel(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("graph link %q: %w", link, err)
	}
	p := u.EscapedPath()
	i := strings.Index(p, "/v1.0/")
	if i < 0 {
		return "", fmt.Errorf("graph link %q is not under /v1.0", link)
	}
	out := p[i+len("/v1.0"):]
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, nil
}

// do runs a request with retries and decodes a JSON answer into out (when non-nil).
// It returns the status of the final answer.
func (c *conn) do(ctx context.Context, r request, out any) (int, error) {
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, fmt.Errorf("%s: encode request: %w", r.op, err)
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		status, h, data, err := c.once(ctx, r, body)
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("%s: %w", r.op, ctx.Err())
			}
			if attempt+1 < maxAttempts && c.retrySafe(r) {
				if werr := c.p.sleep(ctx, backoff(attempt)); werr != nil {
					return 0, fmt.Errorf("%s: %w", r.op, werr)
				}
				continue
			}
			return 0, fmt.Errorf("%s: %w", r.op, err)
		}
		if status >= 400 {
			ge := decodeGraphError(status, h, data, c.p.now())
			// 429 and 503 mean "not done"; other 5xx may hide a write that happened.
			notDone := status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
			if transient(status) && attempt+1 < maxAttempts && (notDone || c.retrySafe(r)) {
				wait := ge.RetryAfter
				if wait == 0 {
					wait = backoff(attempt)
				}
				if wait <= maxInlineWait {
					c.p.log.Debug("graph asked to retry", "op", r.op, "status", status, "code", ge.Code, "wait", wait)
					if werr := c.p.sleep(ctx, wait); werr != nil {
						return 0, fmt.Errorf("%s: %w", r.op, werr)
					}
					continue
				}
			}
			return status, fmt.Errorf("%s: %w", r.op, classify(ge))
		}
		if out != nil && status != http.StatusNoContent {
			if err := json.Unmarshal(data, out); err != nil {
				// A cut-off answer: read again if that is harmless.
				if (r.method == http.MethodGet || r.idempotent) && attempt+1 < maxAttempts {
					continue
				}
				return status, fmt.Errorf("%s: decode the answer of Graph: %w", r.op, err)
			}
		}
		return status, nil
	}
}

// retrySafe tells whether sending r again cannot duplicate anything: every method but
// POST, and POSTs marked idempotent (creates carrying a transactionId, batches of
// reads or deletes, meeting responses).
func (c *conn) retrySafe(r request) bool {
	return r.method != http.MethodPost || r.idempotent
}

func (c *conn) once(ctx context.Context, r request, body []byte) (int, http.Header, []byte, error) {
	weight := 1
	if r.path == "/$batch" {
		weight = 4
	}
	if err := c.sem.acquire(ctx, weight); err != nil {
		return 0, nil, nil, err
	}
	defer c.sem.release(weight)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.inst.graphBase+r.path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	prefer := preferBase
	if r.page > 0 {
		prefer += ", odata.maxpagesize=" + strconv.Itoa(r.page)
	}
	req.Header.Set("Prefer", prefer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.ifMatch != "" {
		req.Header.Set("If-Match", r.ifMatch)
	}
	resp, err := c.inst.client.Do(req)
	if err != nil {
		return 0, nil, nil, redactURLError(err)
	}
	defer resp.Body.Close()
	limit := int64(maxBody)
	if resp.StatusCode >= 400 {
		limit = maxErrorBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read the answer of Graph: %w", err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// redactURLError keeps transport errors free of query strings (delta tokens).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return fmt.Errorf("%s %s: %w", ue.Op, u.String(), ue.Err)
		}
	}
	return err
}

// --- $batch ---

type batchItem struct {
	id     string
	method string
	path   string
	body   any
	page   int
}

type batchResult struct {
	status int
	header map[string]string
	body   json.RawMessage
	err    error // classified error for status >= 400
}

// batch runs items through /$batch, 20 at a time, retrying items throttled inside a
// batch. Results come back in the order of items.
func (c *conn) batch(ctx context.Context, op string, items []batchItem) ([]batchResult, error) {
	out := make([]batchResult, len(items))
	for start := 0; start < len(items); start += 20 {
		chunk := items[start:min(start+20, len(items))]
		pending := make([]int, len(chunk))
		for i := range chunk {
			pending[i] = start + i
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			type wireItem struct {
				ID      string            `json:"id"`
				Method  string            `json:"method"`
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers,omitempty"`
				Body    any               `json:"body,omitempty"`
			}
			var reqs []wireItem
			for _, i := range pending {
				it := items[i]
				h := map[string]string{"Prefer": preferBase}
				if it.page > 0 {
					h["Prefer"] += ", odata.maxpagesize=" + strconv.Itoa(it.page)
				}
				if it.body != nil {
					h["Content-Type"] = "application/json"
				}
				reqs = append(reqs, wireItem{ID: strconv.Itoa(i), Method: it.method, URL: it.path, Headers: h, Body: it.body})
			}
			var resp struct {
				Responses []struct {
					ID      string            `json:"id"`
					Status  int               `json:"status"`
					Headers map[string]string `json:"headers"`
					Body    json.RawMessage   `json:"body"`
				} `json:"responses"`
			}
			if _, err := c.do(ctx, request{method: http.MethodPost, path: "/$batch", body: map[string]any{"requests": reqs}, op: op + " (batch)", idempotent: readsOrDeletes(items)}, &resp); err != nil {
				return nil, err
			}
			var retry []int
			var wait time.Duration
			seen := map[int]bool{}
			for _, r := range resp.Responses {
				i, err := strconv.Atoi(r.ID)
				if err != nil || i < 0 || i >= len(items) {
					return nil, fmt.Errorf("%s: the batch answer names an unknown request %q", op, r.ID)
				}
				seen[i] = true
				res := batchResult{status: r.Status, header: r.Headers, body: r.Body}
				if r.Status >= 400 {
					h := http.Header{}
					for k, v := range r.Headers {
						h.Set(k, v)
					}
					ge := decodeGraphError(r.Status, h, r.Body, c.p.now())
					if transient(r.Status) && attempt+1 < maxAttempts {
						w := ge.RetryAfter
						if w == 0 {
							w = backoff(attempt)
						}
						if w <= maxInlineWait {
							retry = append(retry, i)
							wait = max(wait, w)
							continue
						}
					}
					res.err = classify(ge)
				}
				out[i] = res
			}
			for _, i := range pending {
				if !seen[i] {
					return nil, fmt.Errorf("%s: the batch answer left out request %d", op, i)
				}
			}
			pending = retry
			if len(pending) > 0 {
				if err := c.p.sleep(ctx, wait); err != nil {
					return nil, fmt.Errorf("%s: %w", op, err)
				}
			}
		}
	}
	return out, nil
}

func readsOrDeletes(items []batchItem) bool {
	for _, it := range items {
		if it.method != http.MethodGet && it.method != http.MethodDelete {
			return false
		}
	}
	return true
}

// maxPages bounds how many nextLinks one walk follows.
const maxPages = 200

// eachPage GETs path and follows its nextLinks, handing each page's items to fn until
// fn says stop or the pages end.
func (c *conn) eachPage(ctx context.Context, path string, pageSize int, op string, fn func(items []json.RawMessage) (stop bool, err error)) error {
	for pages := 0; path != ""; pages++ {
		if pages == maxPages {
			return fmt.Errorf("%s: more than %d pages", op, maxPages)
		}
		var page gPage
		if _, err := c.do(ctx, request{method: http.MethodGet, path: path, page: pageSize, op: op}, &page); err != nil {
			return err
		}
		stop, err := fn(page.Value)
		if err != nil || stop {
			return err
		}
		path = ""
		if page.NextLink != "" {
			if path, err = c.rel(page.NextLink); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeItems decodes a page's items.
func decodeItems[T any](items []json.RawMessage, op string) ([]T, error) {
	out := make([]T, len(items))
	for i, raw := range items {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("%s: decode an item: %w", op, err)
		}
	}
	return out, nil
}
