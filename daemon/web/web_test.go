package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func serve(t *testing.T, h http.Handler) *Server {
	t.Helper()
	s, err := Listen("admin_address", "127.0.0.1:0", h, quiet)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func get(t *testing.T, method, url string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	var ready atomic.Pointer[error]
	notOpen := errors.New("store not open")
	ready.Store(&notOpen)
	last := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	mux := NewAdminMux(AdminOptions{
		Logger:  quiet,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("synchronizer_links 1\n")) }),
		Ready: func(context.Context) error {
			if p := ready.Load(); p != nil {
				return *p
			}
			return nil
		},
		Status: func(context.Context) (Status, error) {
			return Status{
				Tenants: []TenantStatus{{Name: "acme", Licenses: 55, LicensesUsed: 2}},
				Profiles: []ProfileStatus{
					{Name: "acme-365", Tenant: "acme", Calendar: "acme365", Links: []LinkStatus{
						{Name: "jane", Kind: "user", Associate: "JANE", Mailbox: "jane@x", State: "active", LastSync: &last, Items: 3},
						{Name: "room1", Kind: "resource", Associate: "Room", Mailbox: "room@x", State: "pending_activation", ActivationURL: "https://s/activate/t"},
					}},
					{Name: "empty", Tenant: "acme", Calendar: "gw"},
				},
			}, nil
		},
	})
	s := serve(t, mux)
	base := "http://" + s.Addr()

	cases := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"GET", "/readyz", 503, "not ready: store not open\n"},
		{"GET", "/metrics", 200, "synchronizer_links 1\n"},
		{"POST", "/healthz", 405, ""},
		{"GET", "/nope", 404, ""},
		{"DELETE", "/v1/status", 405, ""},
	}
	for _, c := range cases {
		code, body, _ := get(t, c.method, base+c.path)
		if code != c.code || (c.body != "" && body != c.body) {
			t.Errorf("%s %s = %d %q, want %d %q", c.method, c.path, code, body, c.code, c.body)
		}
	}
	ready.Store(nil)
	if code, body, _ := get(t, "GET", base+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("readyz when ready = %d %q", code, body)
	}

	code, body, hdr := get(t, "GET", base+"/v1/status")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status = %d %s", code, hdr.Get("Content-Type"))
	}
	// The exact key sets of the contract.
	var raw struct {
		Tenants  []map[string]any `json:"tenants"`
		Profiles []struct {
			Keys  map[string]any
			Links []map[string]any `json:"links"`
		} `json:"profiles"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	var profiles []map[string]any
	json.Unmarshal([]byte(body), &struct {
		P *[]map[string]any `json:"profiles"`
	}{&profiles})
	checkKeys(t, "tenant", raw.Tenants[0], "licenses licenses_used name")
	checkKeys(t, "profile", profiles[0], "calendar links name tenant")
	checkKeys(t, "link", raw.Profiles[0].Links[0], "activation_url associate items kind last_error last_sync mailbox name state")
	if raw.Profiles[0].Links[0]["last_sync"] != "2025-03-01T12:00:00Z" || raw.Profiles[0].Links[1]["last_sync"] != nil {
		t.Errorf("last_sync = %v / %v", raw.Profiles[0].Links[0]["last_sync"], raw.Profiles[0].Links[1]["last_sync"])
	}
	if !strings.Contains(body, `"links": []`) {
		t.Errorf("a profile without links must have an empty list:\n%s", body)
	}
}

func checkKeys(t *testing.T, what string, m map[string]any, want string) {
	t.Helper()
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("%s keys = %s, want %s", what, got, want)
	}
}

func TestStatusErrorIsJSON(t *testing.T) {
	t.Parallel()
	s := serve(t, NewAdminMux(AdminOptions{Logger: quiet, Status: func(context.Context) (Status, error) {
		return Status{}, errors.New("store closed")
	}}))
	code, body, _ := get(t, "GET", "http://"+s.Addr()+"/v1/status")
	var e ErrorBody
	if code != 500 || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "store closed") {
		t.Fatalf("= %d %s", code, body)
	}
}

func TestEmptyStatusHasEmptyLists(t *testing.T) {
	t.Parallel()
	s := serve(t, NewAdminMux(AdminOptions{Logger: quiet, Status: func(context.Context) (Status, error) { return Status{}, nil }}))
	_, body, _ := get(t, "GET", "http://"+s.Addr()+"/v1/status")
	if strings.Join(strings.Fields(body), "") != `{"tenants":[],"profiles":[]}` {
		t.Fatalf("body = %s", body)
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	s := serve(t, http.NewServeMux())
	_, err := Listen("admin_address", s.Addr(), http.NewServeMux(), quiet)
	if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "admin_address "+s.Addr()+" is already in use") || !strings.Contains(err.Error(), "-admin-address") {
		t.Fatalf("err = %v", err)
	}
}

func TestRoutesAddedWhileServing(t *testing.T) {
	t.Parallel()
	mux := NewAdminMux(AdminOptions{Logger: quiet})
	s := serve(t, mux)
	mux.HandleFunc("POST /v1/profiles/{profile}/sync", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 202, map[string]string{"profile": r.PathValue("profile")})
	})
	code, body, _ := get(t, "POST", "http://"+s.Addr()+"/v1/profiles/acme-365/sync")
	if code != 202 || !strings.Contains(body, `"acme-365"`) {
		t.Fatalf("= %d %s", code, body)
	}
}

func TestShutdownWaitsForRequestsInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.Write([]byte("done"))
	})
	s, err := Listen("admin_address", "127.0.0.1:0", mux, quiet)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned before the request finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request got %q", body)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after shutdown = %v", err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/slow"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
