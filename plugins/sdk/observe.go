package sdk

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Request accounting. A provider makes its HTTP requests inside the plugin process,
// but the daemon owns the metrics (synchronizer_provider_requests_total and friends).
// So every call's context carries a Recorder; the provider reports each request to
// it (usually through InstrumentedTransport), the gRPC server adapter sends the
// records back with the answer, and the host feeds them into its metrics.

// RequestRecord is one HTTP request a provider made.
type RequestRecord struct {
	// Code is the HTTP status, or 0 when no response arrived (transport error).
	Code     int
	Duration time.Duration
	// Throttled marks a request the service refused for quota (429, 503 with
	// Retry-After, Google's 403 rateLimitExceeded).
	Throttled bool
}

// Recorder receives request records. It must be safe for concurrent use.
type Recorder interface {
	Record(RequestRecord)
}

type recorderKey struct{}

// WithRecorder returns a context whose requests are reported to r.
func WithRecorder(ctx context.Context, r Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, r)
}

// ObserveRequest reports one request to the context's recorder, if any.
func ObserveRequest(ctx context.Context, rec RequestRecord) {
	if r, ok := ctx.Value(recorderKey{}).(Recorder); ok && r != nil {
		r.Record(rec)
	}
}

// RequestLog is a Recorder that keeps what it is told, for the server adapter and
// for tests.
type RequestLog struct {
	mu      sync.Mutex
	records []RequestRecord
}

// Record implements Recorder.
func (l *RequestLog) Record(r RequestRecord) {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
}

// Records returns a copy of what was recorded so far.
func (l *RequestLog) Records() []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]RequestRecord(nil), l.records...)
}

// InstrumentedTransport wraps base (http.DefaultTransport when nil) so that every
// request is reported to the recorder in the request's context. 429 and 503 count as
// throttled; a provider that recognises other throttling answers (Google's 403
// rateLimitExceeded) reports those itself with ObserveRequest.
func InstrumentedTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return instrumented{base: base}
}

type instrumented struct{ base http.RoundTripper }

func (t instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	rec := RequestRecord{Duration: time.Since(start)}
	if resp != nil {
		rec.Code = resp.StatusCode
		rec.Throttled = resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusServiceUnavailable
	}
	ObserveRequest(req.Context(), rec)
	return resp, err
}
