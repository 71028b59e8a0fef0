// Package meetings runs the meeting scenarios of the synchronizer across links:
// one profile with Alice and Bob (linked users), Carol (a SuperOffice user
// without a link) and Room 1 (a linked resource), on the three real providers
// and their in-process emulators, with the sync engine in between. Each step is
// a user's action on one side followed by sync runs of every link until nothing
// is left to do; then each side is checked: every linked person and room holds
// exactly one copy with the right time and answer, Carol's row is never written
// by a link, and no sync write made a service send mail.
//
// MEETINGS_SEED=N runs the links of every round in an order drawn from seed N
// (printed on failure); MEETINGS_SEEDS=K runs the matrix K times with seeds
// 1..K. MEETINGS_FAULTS=F (a fraction, such as 0.05) makes the three services
// answer that share of the sync's requests with server errors and throttling
// while links settle: runs fail and are run again, and the end state must be
// the same.
package meetings

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/google"
	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/m365"
	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/sotest"
)

// Keys are expensive to make; every world shares one pair.
var keys struct {
	once             sync.Once
	signing, partner *rsa.PrivateKey
	err              error
}

func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keys.once.Do(func() {
		if keys.signing, keys.err = rsa.GenerateKey(rand.Reader, 2048); keys.err != nil {
			return
		}
		keys.partner, keys.err = rsa.GenerateKey(rand.Reader, 2048)
	})
	if keys.err != nil {
		t.Fatal(keys.err)
	}
	return keys.signing, keys.partner
}

// clock is the one clock every part of a world runs on.
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

func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// t0 is a Monday morning; scenario days lie ahead of it.
var t0 = time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC)

// People of the profile.
const (
	alice = "alice"
	bob   = "bob"
	carol = "carol" // SuperOffice user without a link
	room  = "room1"
)

var linked = []string{alice, bob, room}

// world is one profile: SuperOffice and one calendar system, three links.
type world struct {
	t    *testing.T
	kind string // "m365" or "google"
	clk  *clock
	seed uint64
	rng  *mrand.Rand

	so    *sotest.Server
	soTS  *httptest.Server
	graph *graphtest.Server
	gws   *gcaltest.Server
	calTS *httptest.Server

	sop  *superoffice.Provider
	calp sdk.Provider

	assoc   map[string]int    // SuperOffice associate ids
	mailbox map[string]string // calendar accounts
	soEmail map[string]string

	store    *engine.MemStore
	obs      *observer
	eng      *engine.Engine
	links    map[string]engine.Link
	meetings *engine.Meetings

	// writes are the items the links wrote since the world began, by side and id.
	writes map[engine.Side]map[string]bool
	// quarantineOK lets settle accept quarantined pairs (the flap guard's test).
	quarantineOK bool
}

func newWorld(t *testing.T, kind string, seed uint64) *world {
	t.Helper()
	w := &world{t: t, kind: kind, clk: &clock{t: t0}, seed: seed,
		assoc: map[string]int{}, mailbox: map[string]string{}, soEmail: map[string]string{},
		writes: map[engine.Side]map[string]bool{engine.SuperOffice: {}, engine.Calendar: {}}}
	if seed != 0 {
		w.rng = mrand.New(mrand.NewPCG(seed, seed^0x5eed))
	}
	signing, partner := testKeys(t)
	w.so = sotest.New(sotest.Options{ContextID: "Cust1", Now: w.clk.Now, SigningKey: signing, PartnerKey: partner,
		WebhookRetryDelays: []time.Duration{0, time.Millisecond, time.Millisecond}})
	w.soTS = httptest.NewServer(w.so)
	t.Cleanup(func() { w.soTS.Close(); w.so.Close() })

	switch kind {
	case "m365":
		w.graph = graphtest.New(graphtest.Options{Now: w.clk.Now, RoomSubjectRewrite: true, RoomsDeclineConflicts: true,
			RateLimit: -1, ConcurrencyLimit: -1})
		if err := w.graph.Populate(3, 1); err != nil {
			t.Fatal(err)
		}
		w.calTS = httptest.NewServer(w.graph)
		t.Cleanup(func() { w.calTS.Close(); w.graph.Close() })
		for i, who := range []string{alice, bob, carol} {
			w.mailbox[who] = fmt.Sprintf("user%d@m365.test", i+1)
		}
		w.mailbox[room] = "room1@m365.test"
	case "google":
		w.gws = gcaltest.New(gcaltest.Options{Now: w.clk.Now, ResourcesDeclineConflicts: true, QuotaPerUser: -1, QuotaPerProject: -1})
		for i, who := range []string{alice, bob, carol} {
			if err := w.gws.AddUser(gcaltest.User{Email: gcaltest.UserEmail(i + 1), Name: strings.ToUpper(who[:1]) + who[1:]}); err != nil {
				t.Fatal(err)
			}
			w.mailbox[who] = gcaltest.UserEmail(i + 1)
		}
		if err := w.gws.AddUser(gcaltest.User{Email: "admin@" + gcaltest.Domain, Name: "Admin", Admin: true}); err != nil {
			t.Fatal(err)
		}
		if err := w.gws.AddResource(gcaltest.Resource{Email: gcaltest.ResourceEmail(1), Name: "Room 1"}); err != nil {
			t.Fatal(err)
		}
		w.mailbox[room] = gcaltest.ResourceEmail(1)
		w.calTS = httptest.NewServer(w.gws)
		t.Cleanup(func() { w.calTS.Close(); w.gws.Close() })
	default:
		t.Fatalf("unknown calendar system %q", kind)
	}

	// SuperOffice: Alice and Bob keep old addresses there, so attendees must be
	// mapped through the links; Carol's address is her mailbox.
	w.soEmail = map[string]string{alice: "alice@crm.example", bob: "bob@crm.example", carol: w.mailbox[carol]}
	for _, who := range []string{alice, bob, carol} {
		id, err := w.so.AddUser(sotest.User{Login: strings.ToUpper(who), FullName: strings.ToUpper(who[:1]) + who[1:], Email: w.soEmail[who]})
		if err != nil {
			t.Fatal(err)
		}
		w.assoc[who] = id
	}
	id, err := w.so.AddResource("Room 1", false)
	if err != nil {
		t.Fatal(err)
	}
	w.assoc[room] = id

	w.meetings = &engine.Meetings{Profile: "emu"}
	for _, who := range linked {
		kind := sdk.AccountUser
		if who == room {
			kind = sdk.AccountResource
		}
		w.meetings.Members = append(w.meetings.Members, engine.Member{Link: "emu/" + who, Kind: kind,
			SuperOffice: sdk.Account{ID: strconv.Itoa(w.assoc[who]), Email: w.soEmail[who], Kind: kind},
			Calendar:    sdk.Account{ID: w.mailbox[who], Email: w.mailbox[who], Kind: kind}})
	}
	w.store = engine.NewMemStore()
	w.start()
	return w
}

// start makes providers and an engine over the current store: the daemon (and
// its plugins) starting.
func (w *world) start() {
	t := w.t
	ctx := context.Background()
	w.sop = superoffice.New(nil)
	w.sop.SetClock(w.clk.Now)
	if err := w.sop.Configure(ctx, "so", map[string]string{"context_id": "Cust1", "client_id": "synchronizer",
		"client_secret": "synchronizer-secret", "endpoint": w.soTS.URL, "partner_key": string(w.so.PartnerKeyPEM())}); err != nil {
		t.Fatal(err)
	}
	switch w.kind {
	case "m365":
		p := m365.New(nil)
		p.SetClock(w.clk.Now, w.clk.sleep)
		if err := p.Configure(ctx, "cal", w.graph.Settings(w.calTS.URL, false)); err != nil {
			t.Fatal(err)
		}
		w.calp = p
	case "google":
		p := google.NewWithOptions(google.Options{Now: w.clk.Now, Sleep: w.clk.sleep, Seed: 1, RequestsPerMinute: -1})
		if err := p.Configure(ctx, "cal", map[string]string{"endpoint": w.calTS.URL, "client_id": "cid", "client_secret": "secret"}); err != nil {
			t.Fatal(err)
		}
		w.calp = p
	}
	w.obs = &observer{}
	eng, err := engine.New(engine.Config{Store: w.store, Observer: w.obs, Now: w.clk.Now,
		Sleep: w.clk.sleep, FullEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.eng = eng
	w.links = map[string]engine.Link{}
	for _, who := range linked {
		who := who
		w.links[who] = engine.Link{Key: "emu/" + who, Profile: "emu", Name: who,
			SuperOffice: engine.BindStatic(w.sop, w.soTarget(who)),
			Calendar:    engine.Bind(w.calp, func(context.Context) (sdk.Target, error) { return w.calTarget(who), nil }),
			Meetings:    w.meetings}
	}
}

// restart loses the whole state store and starts the daemon again.
func (w *world) restart() {
	w.store = engine.NewMemStore()
	w.start()
}

func (w *world) soTarget(who string) sdk.Target {
	return sdk.Target{Instance: "so", Account: strconv.Itoa(w.assoc[who]),
		Credential: sdk.Credential{Type: "bearer", Token: w.so.AdminToken()}}
}

func (w *world) calTarget(who string) sdk.Target {
	t := sdk.Target{Instance: "cal", Account: w.mailbox[who]}
	switch w.kind {
	case "m365":
		t.Credential = sdk.Credential{Type: "bearer", Token: w.graph.AdminToken()}
	case "google":
		as := w.mailbox[who]
		if who == room {
			as = "admin@" + gcaltest.Domain // resource calendars go through the admin connection
		}
		tok, err := w.gws.TokenFor(as)
		if err != nil {
			w.t.Fatal(err)
		}
		t.Credential = sdk.Credential{Type: "bearer", Token: tok}
	}
	return t
}

// mails is what the services would have mailed so far.
func (w *world) mails() (so, cal int) {
	so = w.so.MailsSent()
	switch w.kind {
	case "m365":
		cal = w.graph.Stats().MailsSent
	case "google":
		cal = int(w.gws.Stats().MailsSent)
	}
	return so, cal
}

// settleResult is what the sync runs of one settle did.
type settleResult struct {
	rounds  int
	done    []engine.Action
	results []engine.Result
}

func (s settleResult) count(side engine.Side, op engine.Op) int {
	n := 0
	for _, a := range s.done {
		if a.Side == side && a.Op == op {
			n++
		}
	}
	return n
}

// settle runs every link, round after round, until a round writes nothing and no
// copy waits (at most maxRounds), and checks that no sync write mailed anyone.
func (w *world) settle(step string) settleResult {
	w.t.Helper()
	maxRounds := 10
	if faultRate > 0 {
		maxRounds = 40
		w.setFaults(faultRate)
		defer w.setFaults(0)
	}
	so0, cal0 := w.mails()
	var out settleResult
	order := append([]string(nil), linked...)
	for round := 1; round <= maxRounds; round++ {
		if w.rng != nil {
			w.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		writes, waiting := 0, 0
		var last []string
		for _, who := range order {
			w.clk.Advance(2 * time.Second)
			res, err := w.eng.Run(context.Background(), w.links[who], engine.RunOptions{})
			if err != nil && faultRate > 0 {
				writes++ // an injected failure: the round is not quiet
				continue
			}
			if err != nil {
				w.t.Fatalf("%s: run of %s (round %d, seed %d): %v\nplan: %v\nnotes: %v", step, who, round, w.seed, err, res.Plan, res.Notes)
			}
			if len(res.ItemErrors) > 0 && faultRate == 0 {
				w.t.Errorf("%s: run of %s (round %d, seed %d): item errors %v\nnotes: %v", step, who, round, w.seed, res.ItemErrors, res.Notes)
			}
			for _, a := range res.Done {
				if a.Op == engine.OpCreate || a.Op == engine.OpUpdate {
					w.writes[a.Side][a.ID] = true
				}
			}
			out.done = append(out.done, res.Done...)
			if os.Getenv("MEETINGS_DUMP") != "" && (len(res.Done) > 0 || len(res.Notes) > 0) {
				w.t.Logf("%s round %d %s: done %v notes %v", step, round, who, res.Done, res.Notes)
			}
			out.results = append(out.results, res)
			writes += len(res.Done)
			waiting += res.Waiting
			if res.Waiting > 0 || len(res.Done) > 0 {
				last = append(last, fmt.Sprintf("%s: done %v waiting %d notes %v", who, res.Done, res.Waiting, res.Notes))
			}
		}
		out.rounds = round
		if writes == 0 && waiting == 0 {
			so1, cal1 := w.mails()
			if so1 != so0 || cal1 != cal0 {
				w.t.Errorf("%s: sync writes mailed: superoffice %d, %s %d (seed %d)", step, so1-so0, w.kind, cal1-cal0, w.seed)
			}
			if q := w.obs.quarantined(); len(q) > 0 && !w.quarantineOK {
				w.t.Errorf("%s: pairs quarantined: %v", step, q)
			}
			w.dump(step)
			return out
		}
		if round == maxRounds {
			w.t.Fatalf("%s: links do not settle after %d rounds (seed %d):\n%s", step, maxRounds, w.seed, strings.Join(last, "\n"))
		}
	}
	return out
}

// items lists what one person's diary (superoffice) or calendar holds now.
func (w *world) items(side engine.Side, who string) []sdk.Event {
	w.t.Helper()
	var p sdk.Provider = w.sop
	tg := w.soTarget(who)
	if side == engine.Calendar {
		p, tg = w.calp, w.calTarget(who)
	}
	win := engine.DefaultPolicy().Window(w.clk.Now())
	var out []sdk.Event
	cursor := ""
	for i := 0; ; i++ {
		if i > 1000 {
			w.t.Fatal("listing does not end")
		}
		ch, err := p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: cursor, Window: win})
		if err != nil {
			w.t.Fatalf("list %s of %s: %v", side, who, err)
		}
		out = append(out, ch.Events...)
		cursor = ch.Cursor
		if !ch.More {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// copies returns the live (not cancelled) items of a person that belong to the
// meeting titled title. A room mailbox of Microsoft 365 rewrites the subject of
// the copies Exchange gives it, so there the meeting is found by its day.
func (w *world) copies(side engine.Side, who, title string, day time.Time) []sdk.Event {
	var out []sdk.Event
	for _, ev := range w.items(side, who) {
		if ev.Cancelled || ev.Kind == sdk.KindException {
			continue
		}
		match := strings.TrimSpace(ev.Title) == title
		if who == room && w.kind == "m365" && !match && !others[title] {
			// Exchange's room rewrote the subject to the organizer's name (and a
			// private copy of the room's booking took it over).
			match = sameDay(ev.Start, day) && strings.HasPrefix(ev.Title, "User ")
		}
		if match {
			out = append(out, ev)
		}
	}
	return out
}

// others are titles of meetings that are looked for by title only (a room's
// rewritten copy of the scenario's main meeting is not taken for one of them).
var others = map[string]bool{"Clash": true}

func sameDay(a, b time.Time) bool {
	a, b = a.UTC(), b.UTC()
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// copyWant is what one person should hold on one side.
type copyWant struct {
	who  string
	side engine.Side
	// n is the number of live copies (0 or 1).
	n int
	// response is the owner's answer, checked when set.
	response sdk.Response
}

// expect checks every want against the meeting titled title starting at start.
func (w *world) expect(step, title string, start time.Time, dur time.Duration, wants ...copyWant) {
	w.t.Helper()
	for _, c := range wants {
		got := w.copies(c.side, c.who, title, start)
		if len(got) != c.n {
			w.t.Errorf("%s: %s's %s holds %d copies of %q, want %d: %s", step, c.who, c.side, len(got), title, c.n, describe(got))
			continue
		}
		if c.n == 0 {
			continue
		}
		ev := got[0]
		if !ev.Start.Equal(start) || !ev.End.Equal(start.Add(dur)) {
			w.t.Errorf("%s: %s's %s copy of %q is at %s-%s, want %s-%s", step, c.who, c.side, title,
				ev.Start.Format(time.RFC3339), ev.End.Format(time.RFC3339), start.Format(time.RFC3339), start.Add(dur).Format(time.RFC3339))
		}
		if c.response != "" && orNone(ev.Response) != c.response {
			w.t.Errorf("%s: %s's %s copy of %q answers %q, want %q", step, c.who, c.side, title, ev.Response, c.response)
		}
	}
}

func orNone(r sdk.Response) sdk.Response {
	if r == "" {
		return sdk.ResponseNone
	}
	return r
}

func describe(evs []sdk.Event) string {
	var parts []string
	for _, ev := range evs {
		state := ""
		if ev.Cancelled {
			state = " cancelled"
		}
		parts = append(parts, fmt.Sprintf("[%s %s %q %s %s corr=%q key=%q org=%v%s]", ev.ID, ev.Kind, ev.Title, ev.Start.Format(time.RFC3339), ev.Response,
			ev.CorrelationID, ev.MeetingKey, ev.IsOrganizer, state))
	}
	return strings.Join(parts, " ")
}

// carolUntouched checks that no link ever wrote an item of Carol's diary: she
// has no link, so her row changes only with the organizer's meeting.
func (w *world) carolUntouched(step, title string, wantRows int) {
	w.t.Helper()
	rows := w.copies(engine.SuperOffice, carol, title, time.Time{})
	if len(rows) != wantRows {
		w.t.Errorf("%s: Carol's diary holds %d rows of %q, want %d: %s", step, len(rows), title, wantRows, describe(rows))
	}
	for _, ev := range w.items(engine.SuperOffice, carol) {
		if w.writes[engine.SuperOffice][ev.ID] {
			w.t.Errorf("%s: a link wrote Carol's row %s", step, ev.ID)
		}
		if ev.CorrelationID != "" {
			w.t.Errorf("%s: Carol's row %s carries a correlation id %q", step, ev.ID, ev.CorrelationID)
		}
	}
}

// --- What users do in SuperOffice (through its API, as the web client would) ---

func (w *world) soCreate(owner string, ev sdk.Event) sdk.Event {
	w.t.Helper()
	w.clk.Advance(time.Minute)
	out, err := w.sop.Create(context.Background(), w.soTarget(owner), ev)
	if err != nil {
		w.t.Fatalf("create in SuperOffice: %v", err)
	}
	return out
}

func (w *world) soGet(owner, id string) sdk.Event {
	w.t.Helper()
	ev, err := w.sop.Get(context.Background(), w.soTarget(owner), id)
	if err != nil {
		w.t.Fatalf("read %s from SuperOffice: %v", id, err)
	}
	return ev
}

func (w *world) soUpdate(owner, id string, fn func(*sdk.Event)) sdk.Event {
	w.t.Helper()
	w.clk.Advance(time.Minute)
	ev := w.soGet(owner, id)
	fn(&ev)
	out, err := w.sop.Update(context.Background(), w.soTarget(owner), ev)
	if err != nil {
		w.t.Fatalf("update in SuperOffice: %v", err)
	}
	return out
}

func (w *world) soDelete(owner, id string) {
	w.t.Helper()
	w.clk.Advance(time.Minute)
	if err := w.sop.Delete(context.Background(), w.soTarget(owner), id, ""); err != nil {
		w.t.Fatalf("delete in SuperOffice: %v", err)
	}
}

// soFind returns the one live row of title in who's diary.
func (w *world) soFind(who, title string) sdk.Event {
	w.t.Helper()
	got := w.copies(engine.SuperOffice, who, title, time.Time{})
	if len(got) != 1 {
		w.t.Fatalf("%s's diary holds %d rows of %q: %s", who, len(got), title, describe(got))
	}
	return got[0]
}

// --- What users do in Outlook / Google Calendar ---

// calMeeting is a meeting a user creates in the calendar.
type calMeeting struct {
	title      string
	start      time.Time
	dur        time.Duration
	attendees  []string // people (mailboxes)
	rooms      []string
	weeklyN    int // a weekly series of n occurrences when > 0
	calendarID string
}

// calCreate creates a meeting as organizer in the calendar and returns its id in
// the organizer's calendar.
func (w *world) calCreate(organizer string, m calMeeting) string {
	w.t.Helper()
	w.clk.Advance(time.Minute)
	switch w.kind {
	case "m365":
		body := map[string]any{"subject": m.title,
			"start": map[string]string{"dateTime": m.start.UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
			"end":   map[string]string{"dateTime": m.start.Add(m.dur).UTC().Format("2006-01-02T15:04:05"), "timeZone": "UTC"}}
		var atts []any
		for _, a := range m.attendees {
			atts = append(atts, map[string]any{"type": "required", "emailAddress": map[string]string{"address": a}})
		}
		for _, a := range m.rooms {
			atts = append(atts, map[string]any{"type": "resource", "emailAddress": map[string]string{"address": a}})
		}
		body["attendees"] = atts
		if m.weeklyN > 0 {
			body["recurrence"] = map[string]any{
				"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []string{strings.ToLower(m.start.Weekday().String())}},
				"range":   map[string]any{"type": "numbered", "startDate": m.start.Format("2006-01-02"), "numberOfOccurrences": m.weeklyN},
			}
		}
		var out map[string]any
		w.graphDo(http.MethodPost, "/v1.0/users/"+w.mailbox[organizer]+"/events", body, &out)
		return out["id"].(string)
	default:
		ev := &gcal.Event{Summary: m.title,
			Start: &gcal.EventDateTime{DateTime: m.start.UTC().Format(time.RFC3339), TimeZone: "UTC"},
			End:   &gcal.EventDateTime{DateTime: m.start.Add(m.dur).UTC().Format(time.RFC3339), TimeZone: "UTC"}}
		for _, a := range m.attendees {
			ev.Attendees = append(ev.Attendees, &gcal.EventAttendee{Email: a})
		}
		for _, a := range m.rooms {
			ev.Attendees = append(ev.Attendees, &gcal.EventAttendee{Email: a, Resource: true})
		}
		if m.weeklyN > 0 {
			ev.Recurrence = []string{fmt.Sprintf("RRULE:FREQ=WEEKLY;COUNT=%d", m.weeklyN)}
		}
		got, err := w.gsvc(organizer).Events.Insert(w.mailbox[organizer], ev).SendUpdates("all").Do()
		if err != nil {
			w.t.Fatalf("create in Google: %v", err)
		}
		return got.Id
	}
}

// calMove moves an item of who's calendar by d.
func (w *world) calMove(who, id string, d time.Duration) {
	w.t.Helper()
	w.clk.Advance(time.Minute)
	switch w.kind {
	case "m365":
		var cur map[string]any
		w.graphDo(http.MethodGet, "/v1.0/users/"+w.mailbox[who]+"/events/"+id, nil, &cur)
		start := graphTime(w.t, cur["start"]).Add(d)
		end := graphTime(w.t, cur["end"]).Add(d)
		w.graphDo(http.MethodPatch, "/v1.0/users/"+w.mailbox[who]+"/events/"+id, map[string]any{
			"start": map[string]string{"dateTime": start.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
			"end":   map[string]string{"dateTime": end.Format("2006-01-02T15:04:05"), "timeZone": "UTC"}}, nil)
	default:
		svc := w.gsvc(who)
		cur, err := svc.Events.Get(w.mailbox[who], id).Do()
		if err != nil {
			w.t.Fatal(err)
		}
		s, _ := time.Parse(time.RFC3339, cur.Start.DateTime)
		e, _ := time.Parse(time.RFC3339, cur.End.DateTime)
		if _, err := svc.Events.Patch(w.mailbox[who], id, &gcal.Event{
			Start: &gcal.EventDateTime{DateTime: s.Add(d).UTC().Format(time.RFC3339), TimeZone: "UTC"},
			End:   &gcal.EventDateTime{DateTime: e.Add(d).UTC().Format(time.RFC3339), TimeZone: "UTC"}}).SendUpdates("all").Do(); err != nil {
			w.t.Fatalf("move in Google: %v", err)
		}
	}
}

// calDecline declines the meeting copy id in who's calendar, telling the organizer.
func (w *world) calDecline(who, id string) {
	w.t.Helper()
	w.clk.Advance(time.Minute)
	switch w.kind {
	case "m365":
		w.graphDo(http.MethodPost, "/v1.0/users/"+w.mailbox[who]+"/events/"+id+"/decline", map[string]any{"sendResponse": true}, nil)
	default:
		svc := w.gsvc(who)
		cur, err := svc.Events.Get(w.mailbox[who], id).Do()
		if err != nil {
			w.t.Fatal(err)
		}
		for _, a := range cur.Attendees {
			if strings.EqualFold(a.Email, w.mailbox[who]) {
				a.ResponseStatus = "declined"
			}
		}
		if _, err := svc.Events.Patch(w.mailbox[who], id, &gcal.Event{Attendees: cur.Attendees}).Do(); err != nil {
			w.t.Fatalf("decline in Google: %v", err)
		}
	}
}

// calDelete deletes (an organizer: cancels) an item of who's calendar.
func (w *world) calDelete(who, id string) {
	w.t.Helper()
	w.clk.Advance(time.Minute)
	switch w.kind {
	case "m365":
		w.graphDo(http.MethodDelete, "/v1.0/users/"+w.mailbox[who]+"/events/"+id, nil, nil)
	default:
		if err := w.gsvc(who).Events.Delete(w.mailbox[who], id).SendUpdates("all").Do(); err != nil {
			w.t.Fatalf("delete in Google: %v", err)
		}
	}
}

// calFind returns the id of the one live copy of title in who's calendar.
func (w *world) calFind(who, title string, day time.Time) string {
	w.t.Helper()
	got := w.copies(engine.Calendar, who, title, day)
	if len(got) != 1 {
		w.t.Fatalf("%s's calendar holds %d copies of %q: %s", who, len(got), title, describe(got))
	}
	return got[0].ID
}

// occurrences returns the ids of a series' occurrences by original start.
func (w *world) occurrences(who, seriesID string, from, to time.Time) map[time.Time]string {
	w.t.Helper()
	out := map[time.Time]string{}
	switch w.kind {
	case "m365":
		var res struct {
			Value []struct {
				ID            string `json:"id"`
				OriginalStart string `json:"originalStart"`
			} `json:"value"`
		}
		w.graphDo(http.MethodGet, "/v1.0/users/"+w.mailbox[who]+"/events/"+seriesID+"/instances?startDateTime="+
			from.UTC().Format(time.RFC3339)+"&endDateTime="+to.UTC().Format(time.RFC3339), nil, &res)
		for _, v := range res.Value {
			os, err := time.Parse(time.RFC3339Nano, v.OriginalStart)
			if err != nil {
				w.t.Fatalf("originalStart %q: %v", v.OriginalStart, err)
			}
			out[os.UTC()] = v.ID
		}
	default:
		res, err := w.gsvc(who).Events.Instances(w.mailbox[who], seriesID).
			TimeMin(from.UTC().Format(time.RFC3339)).TimeMax(to.UTC().Format(time.RFC3339)).Do()
		if err != nil {
			w.t.Fatal(err)
		}
		for _, it := range res.Items {
			os, err := time.Parse(time.RFC3339, it.OriginalStartTime.DateTime)
			if err != nil {
				w.t.Fatal(err)
			}
			out[os.UTC()] = it.Id
		}
	}
	return out
}

func (w *world) gsvc(who string) *gcal.Service {
	w.t.Helper()
	tok, err := w.gws.TokenFor(w.mailbox[who])
	if err != nil {
		w.t.Fatal(err)
	}
	s, err := gcal.NewService(context.Background(), option.WithEndpoint(w.calTS.URL+"/calendar/v3/"),
		option.WithHTTPClient(&http.Client{Transport: bearer{tok: tok}}))
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

// graphDo sends one Graph request as the tenant's admin.
func (w *world) graphDo(method, path string, body, out any) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.calTS.URL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.graph.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", `IdType="ImmutableId"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		w.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			w.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func graphTime(t *testing.T, v any) time.Time {
	t.Helper()
	m, _ := v.(map[string]any)
	s, _ := m["dateTime"].(string)
	ts, err := time.Parse("2006-01-02T15:04:05.9999999", s)
	if err != nil {
		t.Fatalf("Graph time %v: %v", v, err)
	}
	return ts
}

// seeds returns the seeds the matrix runs with: 0 (the fixed order) by default,
// MEETINGS_SEED, or 1..MEETINGS_SEEDS.
func seeds(t *testing.T) []uint64 {
	if v := os.Getenv("MEETINGS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MEETINGS_SEED=%q: %v", v, err)
		}
		return []uint64{n}
	}
	if v := os.Getenv("MEETINGS_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MEETINGS_SEEDS=%q: want a count", v)
		}
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(i + 1)
		}
		return out
	}
	return []uint64{0}
}

// dump logs every item of every person on both sides (MEETINGS_DUMP=1).
func (w *world) dump(step string) {
	if os.Getenv("MEETINGS_DUMP") == "" {
		return
	}
	for _, side := range engine.Sides() {
		for _, who := range []string{alice, bob, carol, room} {
			if side == engine.Calendar && who == carol {
				continue
			}
			w.t.Logf("%s %s %s: %s", step, side, who, describe(w.items(side, who)))
		}
	}
}

// expectSeries checks that Alice, Bob and Room 1 each hold one series of title on
// both sides whose occurrences start at want (nil: no series at all).
func (w *world) expectSeries(step, title string, first time.Time, dur time.Duration, want []time.Time) {
	w.t.Helper()
	for _, side := range engine.Sides() {
		for _, who := range linked {
			evs := w.items(side, who)
			var masters []sdk.Event
			for _, ev := range evs {
				if ev.Kind != sdk.KindMaster || ev.Cancelled {
					continue
				}
				if strings.TrimSpace(ev.Title) == title || side == engine.Calendar && who == room && w.kind == "m365" && sameDay(ev.Start, first) {
					masters = append(masters, ev)
				}
			}
			if want == nil {
				if len(masters) != 0 {
					w.t.Errorf("%s: %s's %s still holds the series: %s", step, who, side, describe(masters))
				}
				continue
			}
			if len(masters) != 1 {
				w.t.Errorf("%s: %s's %s holds %d series of %q, want 1: %s", step, who, side, len(masters), title, describe(evs))
				continue
			}
			got, err := occurrenceStarts(masters[0], evs, first.AddDate(0, 0, 60))
			if err != nil {
				w.t.Errorf("%s: %s's %s series: %v", step, who, side, err)
				continue
			}
			if fmt.Sprint(got) != fmt.Sprint(utc(want)) {
				w.t.Errorf("%s: %s's %s series occurs at %v, want %v\n%s", step, who, side, got, utc(want), describe(evs))
			}
			for _, ev := range evs {
				if ev.Kind == sdk.KindException && ev.SeriesID == masters[0].ID && !ev.Cancelled && ev.End.Sub(ev.Start) != dur {
					w.t.Errorf("%s: %s's %s exception %s lasts %s", step, who, side, ev.ID, ev.End.Sub(ev.Start))
				}
			}
		}
	}
}

func utc(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

// occurrenceStarts expands a master (its RRULE less its EXDATEs) and applies its
// exceptions: the starts a person sees, up to until.
func occurrenceStarts(m sdk.Event, evs []sdk.Event, until time.Time) ([]time.Time, error) {
	loc := time.UTC
	if m.TimeZone != "" {
		if l, err := time.LoadLocation(m.TimeZone); err == nil {
			loc = l
		}
	}
	var rule *rrule.RRule
	ex := map[int64]bool{}
	for _, l := range m.Recurrence {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("recurrence line %q", l)
		}
		switch {
		case strings.HasPrefix(name, "RRULE"):
			opt, err := rrule.StrToROption(value)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", value, err)
			}
			opt.Dtstart = m.Start.In(loc)
			if rule, err = rrule.NewRRule(*opt); err != nil {
				return nil, err
			}
		case strings.HasPrefix(name, "EXDATE"):
			for _, v := range strings.Split(value, ",") {
				t, err := time.Parse("20060102T150405Z", v)
				if err != nil {
					return nil, fmt.Errorf("exdate %q: %w", v, err)
				}
				ex[t.Unix()] = true
			}
		}
	}
	if rule == nil {
		return nil, fmt.Errorf("master %s has no rule: %v", m.ID, m.Recurrence)
	}
	var out []time.Time
	moved := map[int64]sdk.Event{}
	for _, ev := range evs {
		if ev.Kind == sdk.KindException && ev.SeriesID == m.ID {
			moved[ev.OriginalStart.Unix()] = ev
		}
	}
	for _, t := range rule.Between(m.Start.Add(-time.Second), until, true) {
		if ex[t.Unix()] {
			continue
		}
		if x, ok := moved[t.Unix()]; ok {
			if !x.Cancelled {
				out = append(out, x.Start.UTC())
			}
			continue
		}
		out = append(out, t.UTC())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// observer keeps the pairs the engine quarantined.
type observer struct {
	engine.NopObserver
	mu               sync.Mutex
	QuarantinedPairs []string
}

func (o *observer) Quarantined(_, _, pair string) {
	o.mu.Lock()
	o.QuarantinedPairs = append(o.QuarantinedPairs, pair)
	o.mu.Unlock()
}

func (o *observer) quarantined() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.QuarantinedPairs...)
}

// faultRate is MEETINGS_FAULTS (0: no injected failures).
var faultRate = func() float64 {
	f, err := strconv.ParseFloat(os.Getenv("MEETINGS_FAULTS"), 64)
	if err != nil || f < 0 || f > 0.5 {
		return 0
	}
	return f
}()

// setFaults makes each service fail (and throttle) a share of its requests.
func (w *world) setFaults(rate float64) {
	w.t.Helper()
	w.so.SetFaults(sotest.Faults{ServerErrors: rate, Throttle: rate / 2, RetryAfter: 1})
	switch w.kind {
	case "m365":
		body := fmt.Sprintf(`{"server_errors":%g,"throttle":%g,"retry_after":1}`, rate, rate/2)
		resp, err := http.Post(w.calTS.URL+"/_emulator/faults", "application/json", strings.NewReader(body))
		if err != nil {
			w.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			w.t.Fatalf("set Graph faults: %s", resp.Status)
		}
	case "google":
		w.gws.SetFaults(gcaltest.Faults{ServerErrors: rate, Throttle: rate / 2, RetryAfter: 1})
	}
}
