package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWithNotifyRoutesNotificationsOnly(t *testing.T) {
	consent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "consent") })
	notify := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "notify:"+string(b))
	})
	srv := httptest.NewServer(WithNotify(consent, notify))
	defer srv.Close()
	cases := []struct {
		method, path, body string
		want               string
	}{
		{"POST", "/notify/m365/tok", "x", "notify:x"},
		{"GET", "/activate/abc", "", "consent"},
		{"POST", "/notifyx", "", "consent"},
		{"GET", "/notify", "", "consent"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != c.want {
			t.Errorf("%s %s answered %q, want %q", c.method, c.path, b, c.want)
		}
	}
	if WithNotify(consent, nil) == nil {
		t.Fatal("WithNotify without a notification handler lost the consent handler")
	}
}

// The real consent handler refuses POSTs; behind WithNotify a notification
// still reaches its handler while the consent pages keep refusing bodies.
func TestWithNotifyInFrontOfTheConsentHandler(t *testing.T) {
	consent := NewConsentHandler(ConsentOptions{Flow: nil})
	notify := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	srv := httptest.NewServer(WithNotify(consent, notify))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/notify/google/tok", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("notification answered %d, want 202", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+"/activate/tok", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a consent page answered %d, want 405", resp.StatusCode)
	}
}
