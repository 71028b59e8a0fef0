package graphtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testStart = time.Date(2026, 3, 16, 10, 0, 0, 0, time.UTC) // a Monday, before the EU DST switch

func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server, *clock) {
	t.Helper()
	clk := &clock{t: testStart}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	s := New(opts)
	if err := s.Populate(3, 2); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts, clk
}

type api struct {
	t      *testing.T
	base   string
	token  string
	prefer []string
	// lenient keeps answers whose JSON does not parse (for cut-off answers).
	lenient bool
}

func newAPI(t *testing.T, ts *httptest.Server, token string) *api {
	return &api{t: t, base: ts.URL, token: token, prefer: []string{`IdType="ImmutableId"`}}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (a *api) do(method, path string, body any, headers ...string) answer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, err := json.Marshal(body)
			if err != nil {
				a.t.Fatal(err)
			}
			rd = bytes.NewReader(j)
		}
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = a.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, p := range a.prefer {
		req.Header.Add("Prefer", p)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ans := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &ans.body); err != nil && !a.lenient {
			a.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return ans
}

func (a *api) must(want int, method, path string, body any, headers ...string) answer {
	a.t.Helper()
	ans := a.do(method, path, body, headers...)
	if ans.status != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, ans.status, want, ans.raw)
	}
	return ans
}

func errCode(ans answer) string {
	e, _ := ans.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func values(ans answer) []map[string]any {
	var out []map[string]any
	vs, _ := ans.body["value"].([]any)
	for _, v := range vs {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

func timedEvent(subject string, start time.Time, d time.Duration, zone string) map[string]any {
	return map[string]any{
		"subject": subject,
		"start":   map[string]string{"dateTime": start.Format("2006-01-02T15:04:05"), "timeZone": zone},
		"end":     map[string]string{"dateTime": start.Add(d).Format("2006-01-02T15:04:05"), "timeZone": zone},
	}
}
