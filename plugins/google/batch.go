package google

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/internal/retry"
)

// Batching (POST /batch/calendar/v3, multipart/mixed): Google's Go client has no
// batch support, so reads that fan out per series (the cancelled occurrences of
// many masters) are sent here, BatchSize calls per request. Inner calls fail on
// their own (403/429 included); those are repeated one by one with the normal
// retry rules.

// subRequest is one inner GET, its path relative to the API root
// ("calendars/x/events?...").
type subRequest struct {
	path string
}

// subResponse is one inner answer.
type subResponse struct {
	code   int
	header http.Header
	body   []byte
}

func (r subResponse) err() error {
	if r.code >= 200 && r.code < 300 {
		return nil
	}
	return apiError(r.code, r.header, r.body)
}

// apiError decodes Google's error envelope into an httpError.
func apiError(code int, header http.Header, body []byte) error {
	var env struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &env)
	e := &httpError{code: code, message: env.Error.Message, retryAfter: retry.After(header.Get("Retry-After"), time.Now())}
	if len(env.Error.Errors) > 0 {
		e.reason = env.Error.Errors[0].Reason
	}
	return e
}

// getAll runs the reads, batched when there are several, and returns one answer per
// request. An answer that failed for good is returned with its error in its slot.
func (c *conn) getAll(ctx context.Context, what string, reqs []subRequest) ([]subResponse, []error) {
	out := make([]subResponse, len(reqs))
	errs := make([]error, len(reqs))
	var retry []int
	if len(reqs) == 1 {
		retry = []int{0}
	} else {
		for lo := 0; lo < len(reqs); lo += c.p.opts.BatchSize {
			hi := min(lo+c.p.opts.BatchSize, len(reqs))
			var res []subResponse
			err := c.do(ctx, what+" (batch)", idempotent, func(ctx context.Context) error {
				var err error
				res, err = c.batch(ctx, reqs[lo:hi])
				return err
			})
			if err != nil {
				for i := lo; i < hi; i++ {
					retry = append(retry, i)
				}
				continue
			}
			for i, r := range res {
				out[lo+i] = r
				if r.err() != nil {
					retry = append(retry, lo+i)
				}
			}
		}
	}
	for _, i := range retry {
		err := c.do(ctx, what, idempotent, func(ctx context.Context) error {
			r, err := c.rawGet(ctx, reqs[i].path)
			if err != nil {
				return err
			}
			out[i] = r
			return r.err()
		})
		errs[i] = err
	}
	return out, errs
}

// rawGet reads one API path with the connection's client.
func (c *conn) rawGet(ctx context.Context, path string) (subResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.inst.apiBase+path, nil)
	if err != nil {
		return subResponse{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return subResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return subResponse{}, err
	}
	return subResponse{code: resp.StatusCode, header: resp.Header, body: body}, nil
}

// batch sends one multipart batch request.
func (c *conn) batch(ctx context.Context, reqs []subRequest) ([]subResponse, error) {
	apiPath := "/calendar/v3/"
	if u, err := url.Parse(c.inst.apiBase); err == nil {
		apiPath = u.Path
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, r := range reqs {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/http")
		h.Set("Content-ID", "<item"+strconv.Itoa(i)+">")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(pw, "GET %s%s HTTP/1.1\r\n\r\n", apiPath, r.path)
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.inst.batchURL, &buf)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp.StatusCode, resp.Header, body)
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, fmt.Errorf("batch answer is not multipart: %w", io.ErrUnexpectedEOF)
	}
	out := make([]subResponse, len(reqs))
	got := make([]bool, len(reqs))
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("batch answer part %d: %w", n, io.ErrUnexpectedEOF)
		}
		idx := n
		if cid := strings.Trim(part.Header.Get("Content-ID"), "<>"); strings.HasPrefix(cid, "response-item") {
			if v, err := strconv.Atoi(strings.TrimPrefix(cid, "response-item")); err == nil {
				idx = v
			}
		}
		if idx < 0 || idx >= len(reqs) {
			continue
		}
		inner, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			return nil, fmt.Errorf("batch answer part %d: %w", n, io.ErrUnexpectedEOF)
		}
		b, err := io.ReadAll(inner.Body)
		inner.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("batch answer part %d: %w", n, io.ErrUnexpectedEOF)
		}
		out[idx] = subResponse{code: inner.StatusCode, header: inner.Header, body: b}
		got[idx] = true
	}
	for i, ok := range got {
		if !ok {
			// An answer missing from the batch is repeated on its own.
			out[i] = subResponse{code: http.StatusServiceUnavailable, header: http.Header{}}
		}
	}
	return out, nil
}
