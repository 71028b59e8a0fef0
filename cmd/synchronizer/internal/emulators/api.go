package emulators

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// The services' own APIs as a user's program calls them: a bearer token, JSON
// in and out. The demo seeds through them, and tests read and write with them.

// APIError is an answer of a service other than the one a call wants.
type APIError struct {
	Method string
	URL    string // without its query
	Status int
	Answer []byte // the start of the body
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.Method, e.URL, strconv.Itoa(e.Status), bytes.TrimSpace(e.Answer))
}

// PostJSON writes body to target with token; an answer other than 2xx is an
// *APIError.
func PostJSON(ctx context.Context, client *http.Client, target, token string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = call(client, req, token, func(status int) bool { return status/100 == 2 }, 4096)
	return err
}

// GetJSON reads target with token into v; an answer other than 200 is an
// *APIError.
func GetJSON(ctx context.Context, client *http.Client, target, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	b, err := call(client, req, token, func(status int) bool { return status == http.StatusOK }, 64<<20)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", redactQuery(target), err)
	}
	return nil
}

// call sends req with token and returns up to limit bytes of an answer ok takes.
func call(client *http.Client, req *http.Request, token string, ok func(status int) bool, limit int64) ([]byte, error) {
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if !ok(resp.StatusCode) {
		return nil, &APIError{Method: req.Method, URL: redactQuery(req.URL.String()), Status: resp.StatusCode, Answer: answer[:min(len(answer), 4096)]}
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", req.Method, redactQuery(req.URL.String()), err)
	}
	return answer, nil
}

// redactQuery drops the query string from a URL for messages.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.RawQuery = ""
	return u.String()
}
