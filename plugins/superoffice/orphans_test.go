package superoffice_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// failing answers 500 to the requests fail matches while on is set.
type failing struct {
	base http.RoundTripper
	on   atomic.Bool
	fail func(*http.Request) bool
}

func (f *failing) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.on.Load() && f.fail(r) {
		return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(`{"Error":true,"ErrorType":"Fault","Message":"injected"}`)), Request: r}, nil
	}
	return f.base.RoundTrip(r)
}

// A created appointment that can be neither marked nor deleted again is kept out
// of the diary's listings (so it is not synced back as new) and deleted once the
// service answers again.
func TestUnmarkedAppointmentIsKeptOutAndRemoved(t *testing.T) {
	e := newEnv(t)
	f := &failing{base: http.DefaultTransport, fail: func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/ForeignApp/") && r.Method == http.MethodPost ||
			strings.HasSuffix(r.URL.Path, "/Agents/Appointment/Delete")
	}}
	e.p.SetTransport(f)
	if err := e.p.Configure(e.ctx(), "acme", map[string]string{"context_id": "Cust42", "client_id": "synchronizer",
		"client_secret": "synchronizer-secret", "endpoint": e.srv.URL, "partner_key": string(e.so.PartnerKeyPEM())}); err != nil {
		t.Fatal(err)
	}
	tg := e.target(e.user1)
	start := time.Date(2025, 4, 8, 9, 0, 0, 0, time.UTC)
	f.on.Store(true)
	if _, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: "Unmarked", Start: start, End: start.Add(time.Hour), CorrelationID: "c-1"}); err == nil {
		t.Fatal("a create whose mark failed reported success")
	}
	// Still failing: the orphan is in the diary but not in the listing.
	if n := e.rows(tg.Account); n != 1 {
		t.Fatalf("the diary holds %d rows, want the unmarked one", n)
	}
	evs, _, _, _ := e.listAll(tg, "", 0)
	if len(evs) != 0 {
		t.Fatalf("the unmarked appointment is listed: %v", evs)
	}
	f.on.Store(false)
	evs, _, _, _ = e.listAll(tg, "", 0)
	if len(evs) != 0 {
		t.Fatalf("after the service recovered: %v", evs)
	}
	// It is gone from the diary itself, not only from the listing.
	if n := e.rows(tg.Account); n != 0 {
		t.Fatalf("the diary still holds %d rows", n)
	}
}

// rows counts the appointment rows of a diary (OData, as the admin).
func (e *env) rows(account string) int {
	e.t.Helper()
	resp := e.raw(http.MethodGet, "/v1/Appointment?$select=appointmentId&$filter=associateId%20eq%20"+account, "")
	defer resp.Body.Close()
	var out struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	return len(out.Value)
}
