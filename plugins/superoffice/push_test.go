package superoffice_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/sotest"
)

// hookReceiver judges webhook deliveries with the provider's Notification.
type hookReceiver struct {
	p      *superoffice.Provider
	secret string
	mu     sync.Mutex
	sub    sdk.Subscription
	got    []sdk.NotificationResult
	events []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	sub := h.sub
	h.mu.Unlock()
	res, err := h.p.Notification(r.Context(), "acme", sdk.NotificationRequest{Method: r.Method, Headers: r.Header, Body: body,
		Secret: h.secret, Subscription: sub})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.WriteHeader(res.Status)
	h.mu.Lock()
	h.got = append(h.got, res)
	h.events = append(h.events, r.Header.Get("X-SuperOffice-Event"))
	h.mu.Unlock()
}

func (h *hookReceiver) wait(t *testing.T, n int) []sdk.NotificationResult {
	t.Helper()
	for range 1000 {
		h.mu.Lock()
		if len(h.got) >= n {
			out := slices.Clone(h.got)
			h.mu.Unlock()
			return out
		}
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d deliveries", n)
	return nil
}

// userPut creates an appointment in assoc's diary as that user.
func (e *env) userPut(assoc int, start string) {
	e.t.Helper()
	tok, err := e.so.TokenFor(strconv.Itoa(assoc))
	if err != nil {
		e.t.Fatal(err)
	}
	body := `{"Associate":{"AssociateId":` + strconv.Itoa(assoc) + `},"Title":"by hand","StartDate":"` + start + `","EndDate":"` + start + `"}`
	req, _ := http.NewRequest("POST", e.so.APIURL(e.srv.URL)+"/v1/Appointment", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("create as user %d: %d", assoc, resp.StatusCode)
	}
}

func TestWebhookWatchRepairUnwatch(t *testing.T) {
	e := newEnv(t)
	rv := &hookReceiver{p: e.p, secret: "hook-secret"}
	hook := httptest.NewServer(rv)
	defer hook.Close()
	tg := sdk.Target{Instance: "acme", Credential: sdk.Credential{Type: "system_token", Token: e.so.SystemToken()}}
	info, _ := e.p.Info(context.Background())
	if !info.Capabilities.Push || info.Capabilities.PushScope != sdk.PushScopeInstance {
		t.Fatalf("capabilities %+v: want instance-wide push", info.Capabilities)
	}
	sub, err := e.p.Watch(e.ctx(), tg, sdk.WatchRequest{URL: hook.URL + "/notify/superoffice/x", Secret: rv.secret})
	if err != nil {
		t.Fatal(err)
	}
	rv.mu.Lock()
	rv.sub = sub
	rv.mu.Unlock()
	hooks := e.so.Webhooks()
	if sub.ID == "" || !sub.Expires.IsZero() || sub.Extra["self"] == "" || len(hooks) != 1 || strconv.Itoa(hooks[0].ID) != sub.ID {
		t.Fatalf("subscription %+v, webhooks %+v", sub, hooks)
	}
	// The registration's test call was answered 200 without a wake.
	if got := rv.wait(t, 1); got[0].Status != 200 || got[0].Wake {
		t.Fatalf("test call verdict %+v", got[0])
	}
	// A person's change wakes that person's links.
	e.userPut(e.user2, "2025-03-21T10:00:00")
	got := rv.wait(t, 2)
	if !got[1].Wake || !slices.Equal(got[1].Accounts, []string{strconv.Itoa(e.user2)}) {
		t.Fatalf("verdict on a user's change %+v", got[1])
	}
	// Our own write is acknowledged without a wake.
	start := time.Date(2025, 3, 22, 10, 0, 0, 0, time.UTC)
	if _, err := e.p.Create(e.ctx(), e.target(e.user1), sdk.Event{Title: "ours", Start: start, End: start.Add(time.Hour), CorrelationID: "c1"}); err != nil {
		t.Fatal(err)
	}
	got = rv.wait(t, 3)
	if got[2].Status != 200 || got[2].Wake {
		t.Fatalf("verdict on our own write %+v", got[2])
	}

	// The tenant stops the webhook: Watch with it sets it active again.
	e.so.StopWebhooks("TooManyErrors")
	ren, err := e.p.Watch(e.ctx(), tg, sdk.WatchRequest{URL: hook.URL + "/notify/superoffice/x", Secret: rv.secret, Current: sub})
	if err != nil || ren.ID != sub.ID {
		t.Fatalf("repair %+v, %v", ren, err)
	}
	if hs := e.so.Webhooks(); len(hs) != 1 || hs[0].State != "Active" {
		t.Fatalf("after repair: %+v", hs)
	}
	e.userPut(e.user2, "2025-03-21T12:00:00")
	if got := rv.wait(t, 4); !got[3].Wake {
		t.Fatalf("no wake after the repair: %+v", got[3])
	}
	// A deleted webhook is registered again.
	if err := e.p.Unwatch(e.ctx(), tg, sub); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Unwatch(e.ctx(), tg, sub); err != nil {
		t.Fatalf("second Unwatch: %v", err)
	}
	fresh, err := e.p.Watch(e.ctx(), tg, sdk.WatchRequest{URL: hook.URL + "/notify/superoffice/x", Secret: rv.secret, Current: sub})
	if err != nil || fresh.ID == sub.ID {
		t.Fatalf("watch over a deleted webhook %+v, %v; want a new one", fresh, err)
	}
	if hs := e.so.Webhooks(); len(hs) != 1 || strconv.Itoa(hs[0].ID) != fresh.ID {
		t.Fatalf("webhooks %+v", hs)
	}
}

func TestWebhookVerdicts(t *testing.T) {
	p := superoffice.New(nil)
	const secret = "s3cret"
	sub := sdk.Subscription{ID: "7", Extra: map[string]string{"self": "1"}}
	payload := func(event string, by int, fields, values map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"EventId": "e", "Event": event, "PrimaryKey": 5, "Entity": "activity",
			"ChangedByAssociateId": by, "FieldValues": fields, "Values": values})
		return b
	}
	appt := map[string]any{"associate_id": 5, "type": 1}
	cases := []struct {
		name     string
		body     []byte
		sign     string // secret to sign with; "" = no signature
		status   int
		wake     bool
		accounts []string
		life     string
	}{
		{"test call", payload("test", 1, map[string]any{}, nil), secret, 200, false, nil, ""},
		{"a user's change", payload("activity.changed", 5, appt, nil), secret, 200, true, []string{"5"}, ""},
		{"associate id as text", payload("activity.created", 9, map[string]any{"associate_id": "6", "type": "2"}, nil), secret, 200, true, []string{"6"}, ""},
		{"a delete", payload("activity.deleted", 5, map[string]any{}, map[string]any{"associate_id": 8}), secret, 200, true, []string{"8"}, ""},
		{"no associate", payload("activity.changed", 5, map[string]any{"type": 1}, nil), secret, 200, true, nil, ""},
		{"our own write", payload("activity.changed", 1, appt, nil), secret, 200, false, nil, ""},
		{"a document", payload("activity.created", 5, map[string]any{"associate_id": 5, "type": 4}, nil), secret, 200, false, nil, ""},
		{"webhook stopped", payload("webhook7.stopped", 0, map[string]any{}, nil), secret, 200, false, nil, sdk.LifecycleRenew},
		{"another entity", payload("contact.changed", 5, map[string]any{}, nil), secret, 200, false, nil, ""},
		{"forged", payload("activity.changed", 5, appt, nil), "guess", 403, false, nil, ""},
		{"unsigned", payload("activity.changed", 5, appt, nil), "", 403, false, nil, ""},
		{"not JSON", []byte("garbage"), secret, 400, false, nil, ""},
	}
	for _, c := range cases {
		h := map[string][]string{}
		if c.sign != "" {
			h["X-Superoffice-Signature"] = []string{sotest.Sign(c.sign, c.body)}
		}
		res, err := p.Notification(context.Background(), "acme", sdk.NotificationRequest{Method: "POST", Headers: h, Body: c.body, Secret: secret, Subscription: sub})
		if err != nil || res.Status != c.status || res.Wake != c.wake || !slices.Equal(res.Accounts, c.accounts) || res.Lifecycle != c.life {
			t.Errorf("%s: %+v, %v", c.name, res, err)
		}
	}
}
