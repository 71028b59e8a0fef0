package sotest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
	"synchronizer/plugins/superoffice/sotest"
)

type receiver struct {
	mu     sync.Mutex
	fail   bool
	got    []wire.WebhookPayload
	hdrs   []http.Header
	bodies [][]byte
	calls  int
	seen   chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail && req.Header.Get("X-Hook-Test") == "" {
		w.WriteHeader(500)
		select {
		case r.seen <- struct{}{}:
		default:
		}
		return
	}
	var p wire.WebhookPayload
	_ = json.Unmarshal(b, &p)
	r.got, r.hdrs, r.bodies = append(r.got, p), append(r.hdrs, req.Header.Clone()), append(r.bodies, b)
	select {
	case r.seen <- struct{}{}:
	default:
	}
}

func (r *receiver) snapshot() ([]wire.WebhookPayload, []http.Header, [][]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.WebhookPayload(nil), r.got...), append([]http.Header(nil), r.hdrs...), append([][]byte(nil), r.bodies...), r.calls
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestWebhooks(t *testing.T) {
	f := newFixture(t, nil)
	rcv := &receiver{seen: make(chan struct{}, 1)}
	target := httptest.NewServer(rcv)
	defer target.Close()
	reg := func(url string) answer {
		return f.post("/v1/Webhook", map[string]any{"Name": "sync", "Events": []string{"activity.created", "activity.changed", "activity.deleted"},
			"TargetUrl": url, "Secret": "s3cret", "State": "Active", "Type": "webhook"})
	}
	if a := reg("http://example.com/hook"); a.status != 400 {
		t.Errorf("plain HTTP target: %d", a.status)
	}
	a := reg(target.URL)
	if a.status != 200 {
		t.Fatalf("register: %d %s", a.status, a.body)
	}
	var hook wire.Webhook
	a.json(t, &hook)
	got, hdrs, _, _ := rcv.snapshot()
	if len(got) != 1 || got[0].Event != "test" || hdrs[0].Get("X-Hook-Test") != "true" {
		t.Fatalf("registration test call = %+v", got)
	}
	id := f.create(f.user1, "2025-04-01T09:00:00")
	waitFor(t, "activity.created", func() bool { g, _, _, _ := rcv.snapshot(); return len(g) >= 2 })
	got, hdrs, bodies, _ := rcv.snapshot()
	p, h := got[1], hdrs[1]
	if p.Event != "activity.created" || p.Entity != "activity" || p.PrimaryKey != id || p.ContextIdentifier != "Cust7" || p.ChangedByAssociateId != 1 {
		t.Errorf("payload = %+v", p)
	}
	if h.Get("X-SuperOffice-Event") != "activity.created" || h.Get("X-SuperOffice-EventId") == "" || h.Get("X-SuperOffice-Retry") != "0" ||
		!strings.HasPrefix(h.Get("User-Agent"), "NetServer-Webhook/") {
		t.Errorf("headers = %v", h)
	}
	if sig := h.Get("X-SuperOffice-Signature"); sig != sotest.Sign("s3cret", bodies[1]) {
		t.Errorf("signature %q does not verify", sig)
	}
	if p.FieldValues["associate_id"].(float64) != float64(f.user1) {
		t.Errorf("field values = %v", p.FieldValues)
	}
	f.do("DELETE", "/v1/Appointment/"+strconv.Itoa(id), "")
	waitFor(t, "activity.deleted", func() bool { g, _, _, _ := rcv.snapshot(); return len(g) >= 3 })
	got, _, _, _ = rcv.snapshot()
	if got[2].Event != "activity.deleted" || got[2].Values["appointment_id"].(float64) != float64(id) {
		t.Errorf("delete payload = %+v", got[2])
	}

	// A failing receiver: after nine consecutive failures the webhook stops.
	rcv.mu.Lock()
	rcv.fail = true
	rcv.mu.Unlock()
	f.create(f.user1, "2025-04-02T09:00:00")
	path := "/v1/Webhook/" + strconv.Itoa(int(hook.WebhookId))
	waitFor(t, "TooManyErrors", func() bool {
		var h wire.Webhook
		f.do("GET", path, "").json(t, &h)
		return h.State == "TooManyErrors"
	})
	var stopped wire.Webhook
	f.do("GET", path, "").json(t, &stopped)
	if stopped.ConsecutiveErrors != 9 || stopped.LastError == "" {
		t.Errorf("stopped webhook = %+v", stopped)
	}
	_, _, _, calls := rcv.snapshot()
	rcv.mu.Lock()
	rcv.fail = false
	rcv.mu.Unlock()
	// PUT Active resumes delivery of what is queued.
	b, _ := json.Marshal(map[string]any{"State": "Active", "Secret": "s3cret"})
	if a := f.do("PUT", path, string(b)); a.status != 200 {
		t.Fatalf("resume: %d %s", a.status, a.body)
	}
	waitFor(t, "delivery after resume", func() bool {
		g, _, _, _ := rcv.snapshot()
		return len(g) >= 4 && g[len(g)-1].Event == "activity.created"
	})
	if calls != 1+2+9 {
		t.Errorf("receiver saw %d calls before resuming, want 12", calls)
	}
}

func TestEmulatorSurface(t *testing.T) {
	f := newFixture(t, func(o *sotest.Options) { o.Seed = 3 })
	post := func(path, body string) *http.Response {
		resp, err := http.Post(f.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/_emulator/faults", `{"throttle":1,"retry_after":3}`); r.StatusCode != 204 {
		t.Fatalf("faults: %d", r.StatusCode)
	}
	a := f.do("GET", "/v1/User/currentPrincipal", "")
	if a.status != 429 || a.header.Get("Retry-After") != "3" {
		t.Errorf("throttled: %d %v", a.status, a.header)
	}
	post("/_emulator/faults", `{"server_errors":1}`)
	if a := f.do("GET", "/v1/User/currentPrincipal", ""); a.status != 500 {
		t.Errorf("server error: %d", a.status)
	}
	if r := post("/_emulator/faults", `{"throttle":0.8,"server_errors":0.5}`); r.StatusCode != 400 {
		t.Errorf("rates over 1: %d", r.StatusCode)
	}
	post("/_emulator/faults", `{"fail_next":{"status":503,"count":1}}`)
	if a := f.do("GET", "/v1/User/currentPrincipal", ""); a.status != 503 || a.header.Get("Retry-After") != "" {
		t.Errorf("503 without Retry-After: %d %v", a.status, a.header)
	}
	post("/_emulator/faults", `{"truncate_next":1}`)
	if a := f.do("GET", "/v1/License", ""); json.Valid(a.body) {
		t.Errorf("truncated body is valid JSON: %s", a.body)
	}
	f.create(f.user1, "2025-04-01T09:00:00")
	resp, err := http.Get(f.srv.URL + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st sotest.Stats
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Throttled != 1 || st.ServerErrors != 1 || st.Requests["POST /api/v1/Appointment"] != 1 || st.Appointments != 1 || st.Total == 0 {
		t.Errorf("stats = %+v", st)
	}
	if r := post("/_emulator/reset", ""); r.StatusCode != 204 {
		t.Fatalf("reset: %d", r.StatusCode)
	}
	if st := f.so.Stats(); st.Appointments != 0 || st.Total != 0 {
		t.Errorf("after reset: %+v", st)
	}
	if _, ok := f.so.AssociateID("USER1"); !ok {
		t.Error("reset dropped the users")
	}
	if a := f.do("GET", "/v1/User/currentPrincipal", ""); a.status != 200 {
		t.Errorf("admin token after reset: %d", a.status)
	}
	if r := post("/_emulator/seed", `{"account":"USER2","n":25,"seed":4}`); r.StatusCode != 204 {
		t.Errorf("seed: %d", r.StatusCode)
	}
	// A person's own token: the API answers as that person.
	resp, err = http.Post(f.srv.URL+"/_emulator/token", "application/json", strings.NewReader(`{"associate":"USER2"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d %+v", resp.StatusCode, tok)
	}
	var me struct {
		AssociateId int
	}
	f.call(f.so.APIURL(f.srv.URL)+"/v1/User/currentPrincipal", "GET", "", "Authorization", "Bearer "+tok.AccessToken).json(t, &me)
	if id, _ := f.so.AssociateID("USER2"); me.AssociateId != id || id == 0 {
		t.Errorf("the token acts as associate %d, want USER2 (%d)", me.AssociateId, id)
	}
	if r := post("/_emulator/token", `{"associate":"NOBODY"}`); r.StatusCode != 404 {
		t.Errorf("token of nobody: %d", r.StatusCode)
	}
	if r := post("/_emulator/state", `{"state":"Bogus"}`); r.StatusCode != 400 {
		t.Errorf("bogus state: %d", r.StatusCode)
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	dump := func() string {
		f := newFixture(t, nil)
		if err := f.so.SeedEvents("USER1", 300, 42); err != nil {
			t.Fatal(err)
		}
		if err := f.so.SeedEvents("NOBODY", 1, 1); err == nil {
			t.Error("seeding an unknown user worked")
		}
		a := f.do("GET", "/v1/Appointment?$select=appointmentId,date,endDate,text,recurrenceRuleId,rawStatus&$orderBy=appointmentId&$output=Logical", "")
		var resp wire.ODataResponse
		a.json(t, &resp)
		b, _ := json.Marshal(resp.Value)
		return string(b)
	}
	one, two := dump(), dump()
	if one != two {
		for i := range one {
			if i >= len(two) || one[i] != two[i] {
				t.Errorf("the same seed gave different diaries near %q / %q", one[max(0, i-80):min(len(one), i+80)], two[max(0, i-80):min(len(two), i+80)])
				break
			}
		}
	}
	var rows []map[string]any
	_ = json.Unmarshal([]byte(one), &rows)
	series, meetings := 0, 0
	for _, v := range rows {
		if v["recurrenceRuleId"].(float64) != 0 {
			series++
		}
		if v["rawStatus"].(float64) == float64(wire.StatusBooking) {
			meetings++
		}
	}
	if series != 9 || meetings == 0 {
		t.Errorf("series rows %d (want 9: ten less one cancelled), invitations %d", series, meetings)
	}
}

// Seeding is in-process and fast enough for very large diaries.
func BenchmarkSeed(b *testing.B) {
	for i := 0; i < b.N; i++ {
		so := sotest.New(sotest.Options{})
		if _, err := so.AddUser(sotest.User{Login: "USER1"}); err != nil {
			b.Fatal(err)
		}
		if err := so.SeedEvents("USER1", 100000, int64(i)); err != nil {
			b.Fatal(err)
		}
		so.Close()
	}
}

// Events can be dropped and webhooks stopped on request; a stopped webhook
// delivers nothing until it is set Active again.
func TestWebhookDropsAndStops(t *testing.T) {
	f := newFixture(t, nil)
	rcv := &receiver{seen: make(chan struct{}, 1)}
	target := httptest.NewServer(rcv)
	defer target.Close()
	a := f.post("/v1/Webhook", map[string]any{"Name": "sync", "Events": []string{"activity.created", "activity.changed", "activity.deleted"},
		"TargetUrl": target.URL, "Secret": "s3cret", "State": "Active", "Type": "webhook"})
	if a.status != 200 {
		t.Fatalf("register: %d %s", a.status, a.body)
	}
	resp, err := http.Post(f.srv.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"drop_next_notifications":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.create(f.user1, "2025-04-01T09:00:00")
	f.create(f.user1, "2025-04-01T11:00:00")
	waitFor(t, "the second event", func() bool { g, _, _, _ := rcv.snapshot(); return len(g) >= 2 })
	if got, _, _, _ := rcv.snapshot(); len(got) != 2 || f.so.NotificationsDropped() != 1 {
		t.Fatalf("delivered %d (test call included), dropped %d", len(got), f.so.NotificationsDropped())
	}

	f.so.SetFaults(sotest.Faults{StopWebhooks: "TooManyErrors"})
	if hs := f.so.Webhooks(); len(hs) != 1 || hs[0].State != "TooManyErrors" {
		t.Fatalf("webhooks = %+v", hs)
	}
	f.create(f.user1, "2025-04-01T13:00:00")
	path := "/v1/Webhook/" + strconv.Itoa(f.so.Webhooks()[0].ID)
	b, _ := json.Marshal(map[string]any{"State": "Active", "Secret": "s3cret"})
	if a := f.do("PUT", path, string(b)); a.status != 200 {
		t.Fatalf("resume: %d %s", a.status, a.body)
	}
	f.create(f.user1, "2025-04-01T15:00:00")
	waitFor(t, "delivery after resume", func() bool { g, _, _, _ := rcv.snapshot(); return len(g) >= 3 })
	got, _, _, _ := rcv.snapshot()
	if len(got) != 3 {
		t.Fatalf("a stopped webhook delivered: %d events", len(got))
	}
}
