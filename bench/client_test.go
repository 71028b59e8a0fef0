package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClientRetries(t *testing.T) {
	cases := []struct {
		name       string
		fail       int // answers that fail before a good one
		status     int
		retryAfter string
		wantErr    bool
		wantCalls  int32
	}{
		{"throttled twice, then fine", 2, http.StatusTooManyRequests, "0", false, 3},
		{"server errors, then fine", 1, http.StatusServiceUnavailable, "", false, 2},
		{"not found is final", 5, http.StatusNotFound, "", true, 1},
		{"throttled past the attempts", 100, http.StatusTooManyRequests, "0", true, 3},
		{"Google's rate limit as 403", 1, http.StatusForbidden, "", false, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if r.Header.Get("Authorization") != "Bearer tok" {
					t.Errorf("no token sent")
				}
				if int(n) <= c.fail {
					if c.retryAfter != "" {
						w.Header().Set("Retry-After", c.retryAfter)
					}
					w.WriteHeader(c.status)
					if c.status == http.StatusForbidden {
						w.Write([]byte(`{"error":{"errors":[{"reason":"userRateLimitExceeded"}]}}`))
					}
					return
				}
				w.Write([]byte(`{"ok":true}`))
			}))
			defer srv.Close()
			cl := newClient(5 * time.Second)
			cl.attempts = 3
			var out struct {
				OK bool `json:"ok"`
			}
			_, err := cl.do(context.Background(), request{method: http.MethodGet, url: srv.URL + "/x?token=secret", token: "tok"}, &out)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && !out.OK {
				t.Error("the answer was not decoded")
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the query: %v", err)
			}
			if got := calls.Load(); got != c.wantCalls {
				t.Errorf("%d calls, want %d", got, c.wantCalls)
			}
		})
	}
}

// The consent flow follows the redirects from the consent listener through the
// provider's sign-in and back to /oauth/callback; any other ending is an error
// that names where it ended and keeps the activation secret out.
func TestConsent(t *testing.T) {
	var provider *httptest.Server
	consent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/activate/good/go"), strings.HasPrefix(r.URL.Path, "/setup/emu/go"):
			http.SetCookie(w, &http.Cookie{Name: "flow", Value: "1", Path: "/"})
			http.Redirect(w, r, provider.URL+"/authorize?login_hint="+r.URL.Query().Get("login_hint"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/activate/denied/go"):
			http.Redirect(w, r, provider.URL+"/deny", http.StatusFound)
		case r.URL.Path == "/oauth/callback":
			if c, err := r.Cookie("flow"); err != nil || c.Value != "1" {
				http.Error(w, "Sign-in failed: the browser lost its session", http.StatusBadRequest)
				return
			}
			w.Write([]byte("<html><body><h1>All set</h1></body></html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer consent.Close()
	provider = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			http.Redirect(w, r, consent.URL+"/oauth/callback?error=access_denied", http.StatusFound)
			return
		}
		http.Redirect(w, r, consent.URL+"/oauth/callback?code=c", http.StatusFound)
	}))
	defer provider.Close()
	host := strings.TrimPrefix(consent.URL, "http://")
	cons := &consenter{timeout: 5 * time.Second, consentHost: host}
	ctx := context.Background()
	if err := cons.complete(ctx, consent.URL+"/activate/good", ""); err != nil {
		t.Errorf("activation: %v", err)
	}
	if err := cons.complete(ctx, consent.URL+"/setup/emu", "ADMIN"); err != nil {
		t.Errorf("setup: %v", err)
	}
	err := cons.complete(ctx, consent.URL+"/activate/denied", "")
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "lost its session") {
		t.Errorf("denied: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "denied/") {
		t.Errorf("the activation secret shows: %v", err)
	}
	err = cons.complete(ctx, consent.URL+"/activate/unknown", "")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown: %v", err)
	}
}
