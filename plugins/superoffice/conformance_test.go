package superoffice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/internal/wire"
	"synchronizer/plugins/superoffice/sotest"
)

// steppingClock moves one second on every reading, so that versions (whole
// seconds) of consecutive writes differ, as they do between a person's edits.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// The conformance suite over gRPC against the emulator: online as the system
// user and with a bearer token, and onsite with Basic authentication.
func TestConformance(t *testing.T) {
	for _, mode := range []string{"system-user", "bearer", "onsite"} {
		t.Run(mode, func(t *testing.T) { conformance(t, mode) })
	}
}

func conformance(t *testing.T, mode string) {
	clk := &steppingClock{t: time.Date(2025, 3, 20, 9, 0, 0, 0, time.UTC)}
	so := sotest.New(sotest.Options{ContextID: "Cust77", Now: clk.Now, SigningKey: testKeys.signing, PartnerKey: testKeys.partner,
		Onsite: mode == "onsite"})
	srv := httptest.NewServer(so)
	t.Cleanup(func() { srv.Close(); so.Close() })
	colleague, err := so.AddUser(sotest.User{Login: "COLLEAGUE", FullName: "Col League", Email: "colleague@so.test"})
	if err != nil {
		t.Fatal(err)
	}
	room, err := so.AddResource("ROOM1", true)
	if err != nil {
		t.Fatal(err)
	}
	base := so.Location().String()

	if mode == "onsite" {
		if _, err := so.AddUser(sotest.User{Login: "SYNC", Password: "sync-pw"}); err != nil {
			t.Fatal(err)
		}
	}
	settings := map[string]string{"endpoint": srv.URL, "context_id": "Cust77", "client_id": so.ClientID(),
		"client_secret": so.ClientSecret(), "partner_key": string(so.PartnerKeyPEM()),
		// The emulator's epoch is checked on every round; the stepping clock would
		// make any cursor age meaningless.
		"tenant_state_ttl": "0s", "cursor_max_age": "0s"}
	if mode == "onsite" {
		settings = map[string]string{"base_url": srv.URL + "/SuperOffice", "username": "SYNC", "password": "sync-pw",
			"cursor_max_age": "0s", "tenant_state_ttl": "0s"}
	}
	impl := superoffice.New(nil)
	impl.SetClock(clk.Now)
	impl.SetTransport(&validating{t: t, base: http.DefaultTransport})

	var (
		mu    sync.Mutex
		n     int
		owner struct {
			id          int
			email, name string
		}
	)
	newTarget := func(t *testing.T) sdk.Target {
		mu.Lock()
		defer mu.Unlock()
		n++
		login := fmt.Sprintf("CONF%d", n)
		id, err := so.AddUser(sotest.User{Login: login, FullName: "Conformance " + strconv.Itoa(n), Email: strings.ToLower(login) + "@so.test"})
		if err != nil {
			t.Fatal(err)
		}
		owner.id, owner.email, owner.name = id, strings.ToLower(login)+"@so.test", "Conformance "+strconv.Itoa(n)
		cred := sdk.Credential{Type: "system_token", Token: so.SystemToken()}
		switch mode {
		case "bearer":
			cred = sdk.Credential{Type: "bearer", Token: so.AdminToken()}
		case "onsite":
			cred = sdk.Credential{}
		}
		return sdk.Target{Instance: "acme", Account: strconv.Itoa(id), Credential: cred}
	}
	// What SuperOffice keeps: times in its base zone, busy or free only, plain
	// text, and meetings as its own associates with their answers.
	expect := func(ev sdk.Event) sdk.Event {
		if !ev.AllDay {
			ev.TimeZone = base
		}
		if ev.ShowAs != sdk.ShowFree {
			ev.ShowAs = sdk.ShowBusy
		}
		if ev.DescriptionHTML != "" {
			ev.DescriptionHTML = ""
		}
		if len(ev.Attendees) > 0 {
			mu.Lock()
			ev.Organizer = sdk.Attendee{Email: owner.email, Name: owner.name, Type: sdk.AttendeeRequired,
				Response: sdk.ResponseOrganizer, AccountID: strconv.Itoa(owner.id)}
			mu.Unlock()
			ev.IsOrganizer, ev.Response = true, sdk.ResponseOrganizer
			var as []sdk.Attendee
			for _, a := range ev.Attendees {
				switch {
				case a.Email == "colleague@so.test":
					a = sdk.Attendee{Email: a.Email, Name: "Col League", Type: sdk.AttendeeRequired, Response: sdk.ResponseNone, AccountID: strconv.Itoa(colleague)}
				case a.AccountID == strconv.Itoa(room):
					a = sdk.Attendee{Name: "ROOM1", Type: sdk.AttendeeResource, Response: sdk.ResponseAccepted, AccountID: a.AccountID}
				}
				as = append(as, a)
			}
			ev.Attendees = as
		}
		return ev
	}

	// Online, the system user is the provider's own identity: a person's change
	// is made with the person's token, so its webhook event is not an echo.
	var pushChange func(*testing.T, sdk.Target, sdk.Event)
	if mode != "onsite" {
		owner := &restUser{so: so, srv: srv, p: impl, asOwner: true}
		pushChange = func(t *testing.T, tg sdk.Target, ev sdk.Event) { owner.Put(t, tg, ev) }
	}
	providertest.Run(t, providertest.Harness{
		Provider:  providertest.OverGRPC(t, impl),
		Instance:  "acme",
		Settings:  settings,
		NewTarget: newTarget,
		Now:       clk.Now,
		Expect:    expect,
		Attendees: []sdk.Attendee{{Email: "colleague@so.test", Type: sdk.AttendeeRequired},
			{AccountID: strconv.Itoa(room), Type: sdk.AttendeeResource}},
		Category:      "Meeting",
		OutOfBand:     &restUser{so: so, srv: srv, p: impl},
		ExpireCursors: func(*testing.T) { so.ExpireCursors() },
		Throttle: func(t *testing.T, tg sdk.Target) (time.Duration, func()) {
			so.FailNext(http.StatusTooManyRequests, 1000, "7")
			return 7 * time.Second, so.ClearFaults
		},
		BadCredential: func(t *testing.T, tg sdk.Target) sdk.Target {
			tg.Credential = sdk.Credential{Type: "bearer", Token: "8A:Cust77.refused"}
			return tg
		},
		BreakResponses: func(t *testing.T, tg sdk.Target, kind providertest.BadResponse) func() {
			so.SetFaults(sotest.Faults{Break: string(kind)})
			return so.ClearFaults
		},
		MakesHTTPRequests: true,
		PushChange:        pushChange,
	})
	if n := so.MailsSent(); n != 0 {
		t.Errorf("the suite's writes made SuperOffice send %d mails", n)
	}
}

// restUser edits diaries the way a person's SuperOffice client does: REST with
// full entities, outside the provider.
type restUser struct {
	so  *sotest.Server
	srv *httptest.Server
	p   *superoffice.Provider
	// asOwner writes as the diary's own associate instead of the system user
	// (webhook events then do not look like the provider's own writes).
	asOwner bool
}

func (u *restUser) bearer(t *testing.T, tg sdk.Target) string {
	if !u.asOwner {
		return u.so.AdminToken()
	}
	tok, err := u.so.TokenFor(tg.Account)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (u *restUser) Put(t *testing.T, tg sdk.Target, ev sdk.Event) sdk.Event {
	t.Helper()
	owner, _ := strconv.Atoi(tg.Account)
	e := map[string]any{"Associate": map[string]int{"AssociateId": owner}, "Title": ev.Title, "Description": ev.Description,
		"Location": ev.Location, "StartDate": ev.Start.UTC().Format(time.RFC3339), "EndDate": ev.End.UTC().Format(time.RFC3339),
		"IsFree": ev.ShowAs == sdk.ShowFree, "HasAlarm": ev.HasReminder,
		"AlarmLeadTime": wire.FormatTimeSpan(time.Duration(ev.ReminderMinutes) * time.Minute), "Private": "Public"}
	if ev.Privacy == sdk.PrivacyPrivate {
		e["Private"] = "PrivateUser"
	}
	if ev.AllDay {
		e["IsAlldayEvent"] = true
	}
	if ev.Category != "" {
		e["Task"] = map[string]string{"Value": ev.Category}
	}
	method, path := "POST", "/v1/Appointment"
	if ev.ID != "" {
		method, path = "PUT", "/v1/Appointment/"+ev.ID
	}
	b, _ := json.Marshal(e)
	req, _ := http.NewRequest(method, u.so.APIURL(u.srv.URL)+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+u.bearer(t, tg))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("SO-TimeZone", "UTC,includeTZOffset")
	resp, err := u.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var saved wire.AppointmentEntity
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&saved) != nil {
		t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
	got, err := u.p.Get(context.Background(), tg, strconv.Itoa(int(saved.AppointmentId)))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (u *restUser) Remove(t *testing.T, tg sdk.Target, id string) {
	t.Helper()
	req, _ := http.NewRequest("DELETE", u.so.APIURL(u.srv.URL)+"/v1/Appointment/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+u.so.AdminToken())
	resp, err := u.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE %s: %d", id, resp.StatusCode)
	}
}
