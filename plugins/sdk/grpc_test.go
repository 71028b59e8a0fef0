package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "synchronizer/plugins/proto/calendar/v1"
)

// fake is a Provider whose answers the test sets; it remembers what it received.
type fake struct {
	mu       sync.Mutex
	got      []any
	err      error
	records  []RequestRecord
	event    Event
	panicMsg string
}

func (f *fake) seen(ctx context.Context, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, args...)
	for _, r := range f.records {
		ObserveRequest(ctx, r)
	}
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.err
}

func (f *fake) Info(ctx context.Context) (Info, error) {
	return Info{Name: "fake", ProtocolVersion: ProtocolVersion, Capabilities: Capabilities{true, true, true, true, true, true, PushScopeInstance}}, f.seen(ctx)
}
func (f *fake) Configure(ctx context.Context, instance string, settings map[string]string) error {
	return f.seen(ctx, instance, settings)
}
func (f *fake) OAuth(ctx context.Context, req OAuthRequest) (OAuthSpec, error) {
	return OAuthSpec{
		Grant: GrantAuthorizationCode, AuthURL: "http://127.0.0.1/a", TokenURL: "http://127.0.0.1/t",
		ClientID: "cid", ClientSecret: "cs", Scopes: []string{"a", "b"}, Params: map[string]string{"prompt": "consent"},
		PKCE: true, AuthInHeader: true,
	}, f.seen(ctx, req)
}
func (f *fake) Identify(ctx context.Context, t Target, tok TokenInfo) (Account, error) {
	return sampleAccount(), f.seen(ctx, t, tok)
}
func (f *fake) LookupAccount(ctx context.Context, t Target, kind AccountKind, key string) (Account, error) {
	return sampleAccount(), f.seen(ctx, t, kind, key)
}
func (f *fake) Licenses(ctx context.Context, t Target) (Licenses, error) {
	return Licenses{UserLicenses: 50, InUse: 12}, f.seen(ctx, t)
}
func (f *fake) ListChanges(ctx context.Context, t Target, req ChangesRequest) (Changes, error) {
	return Changes{Events: []Event{f.event, f.event}, Removed: []string{"x", "y"}, Full: true, Cursor: "c2", More: true}, f.seen(ctx, t, req)
}
func (f *fake) Get(ctx context.Context, t Target, id string) (Event, error) {
	return f.event, f.seen(ctx, t, id)
}
func (f *fake) Create(ctx context.Context, t Target, ev Event) (Event, error) {
	return ev, f.seen(ctx, t, ev)
}
func (f *fake) Update(ctx context.Context, t Target, ev Event) (Event, error) {
	return ev, f.seen(ctx, t, ev)
}
func (f *fake) Delete(ctx context.Context, t Target, id, version string) error {
	return f.seen(ctx, t, id, version)
}
func (f *fake) FindByCorrelation(ctx context.Context, t Target, c string) ([]Event, error) {
	return []Event{f.event}, f.seen(ctx, t, c)
}

func (f *fake) received() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

func sampleAccount() Account {
	return Account{ID: "17", Email: "jane@example.test", Name: "Jane", Kind: AccountResource, IsAdmin: true, Extra: map[string]string{"system_token": "x"}}
}

// sampleEvent sets every field of Event, in the zone the instants were given in.
func sampleEvent() Event {
	oslo, _ := time.LoadLocation("Europe/Oslo")
	start := time.Date(2024, 3, 31, 1, 30, 0, 0, oslo) // the night clocks go forward
	return Event{
		ID: "id1", Version: "etag-1", ICalUID: "uid@example.test", CorrelationID: "corr",
		Kind: KindException, SeriesID: "master", OriginalStart: start.Add(-24 * time.Hour),
		Recurrence: []string{"RRULE:FREQ=WEEKLY", "EXDATE:20240407T003000Z"}, Cancelled: true,
		Title: "Tittel æøå", Description: "line 1\nline 2", DescriptionHTML: "<p>line</p>", Location: "Room 1",
		Start: start, End: start.Add(90 * time.Minute), TimeZone: "Europe/Oslo", AllDay: true,
		ShowAs: ShowOOF, Privacy: PrivacyPrivate, HasReminder: true, ReminderMinutes: 15, Category: "Meeting",
		Organizer:   Attendee{Email: "boss@example.test", Name: "Boss", Type: AttendeeRequired, Response: ResponseOrganizer, AccountID: "1"},
		Attendees:   []Attendee{{Email: "a@example.test", Type: AttendeeOptional, Response: ResponseTentative}, {Email: "room@example.test", Type: AttendeeResource, Response: ResponseAccepted, AccountID: "r1"}},
		IsOrganizer: true, MeetingKey: "mk", Response: ResponseDeclined,
		Created: start.Add(-time.Hour), Updated: start.Add(-time.Minute),
		Extras: map[string]string{"k": "v"},
	}
}

// loopback serves p over real gRPC on 127.0.0.1 and returns the host's client.
func loopback(t *testing.T, p Provider) *GRPCClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(GRPCServerOptions()...)
	RegisterGRPCServer(srv, p, nil)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), append(GRPCDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return NewGRPCClient(conn)
}

func TestSampleEventSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(sampleEvent())
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("sampleEvent leaves %s empty: set it so the round trip covers it", v.Type().Field(i).Name)
		}
	}
}

func TestEveryFieldCrossesTheBoundary(t *testing.T) {
	ctx := context.Background()
	f := &fake{event: sampleEvent()}
	c := loopback(t, f)
	tg := Target{Instance: "i", Account: "a", Calendar: "c", Credential: Credential{Type: "bearer", Token: "tok"}}
	ev := sampleEvent()
	// Instants compare with Equal; every other field must be identical.
	eq := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

	got, err := c.Create(ctx, tg, ev)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ev, got, eq); d != "" {
		t.Errorf("event after a round trip (-sent +got):\n%s", d)
	}
	if d := cmp.Diff([]any{tg, ev}, f.received(), eq); d != "" {
		t.Errorf("what the plugin received (-want +got):\n%s", d)
	}
	if got.Start.Location() != time.UTC {
		t.Errorf("instants arrive in %v, want UTC", got.Start.Location())
	}

	w := Window{Start: ev.Start.Add(-time.Hour), End: ev.Start.Add(time.Hour)}
	ch, err := c.ListChanges(ctx, tg, ChangesRequest{Cursor: "c1", Window: w, PageSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := Changes{Events: []Event{ev, ev}, Removed: []string{"x", "y"}, Full: true, Cursor: "c2", More: true}
	if d := cmp.Diff(want, ch, eq); d != "" {
		t.Errorf("changes (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{tg, ChangesRequest{Cursor: "c1", Window: w, PageSize: 7}}, f.received(), eq); d != "" {
		t.Errorf("changes request (-want +got):\n%s", d)
	}

	tok := TokenInfo{AccessToken: "at", IDToken: "idt", Scope: "s", Expiry: ev.Start, Extra: map[string]string{"account": "x"}}
	acc, err := c.Identify(ctx, tg, tok)
	if err != nil || !cmp.Equal(acc, sampleAccount()) {
		t.Errorf("Identify = %+v, %v", acc, err)
	}
	if d := cmp.Diff([]any{tg, tok}, f.received(), eq); d != "" {
		t.Errorf("identify request (-want +got):\n%s", d)
	}

	info, err := c.Info(ctx)
	if err != nil || info.Name != "fake" || info.ProtocolVersion != ProtocolVersion || info.Capabilities != (Capabilities{true, true, true, true, true, true, PushScopeInstance}) {
		t.Errorf("Info = %+v, %v", info, err)
	}
	spec, err := c.OAuth(ctx, OAuthRequest{Instance: "i", Purpose: PurposeAdmin, LoginHint: "h", RedirectURL: "http://127.0.0.1/cb"})
	if err != nil || spec.ClientSecret != "cs" || !spec.PKCE || !spec.AuthInHeader || spec.Params["prompt"] != "consent" || len(spec.Scopes) != 2 {
		t.Errorf("OAuth = %+v, %v", spec, err)
	}
	if got := f.received(); !cmp.Equal(got, []any{OAuthRequest{Instance: "i", Purpose: PurposeAdmin, LoginHint: "h", RedirectURL: "http://127.0.0.1/cb"}}) {
		t.Errorf("OAuth request = %+v", got)
	}
	if l, err := c.Licenses(ctx, tg); err != nil || l != (Licenses{50, 12}) {
		t.Errorf("Licenses = %+v, %v", l, err)
	}
	if got := f.received(); !cmp.Equal(got, []any{tg}) {
		t.Errorf("Licenses received %v", got)
	}
	if err := c.Configure(ctx, "inst", map[string]string{"endpoint": "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if got := f.received(); !cmp.Equal(got, []any{"inst", map[string]string{"endpoint": "http://127.0.0.1:1"}}) {
		t.Errorf("Configure received %v", got)
	}
	if err := c.Delete(ctx, tg, "id1", "v9"); err != nil {
		t.Fatal(err)
	}
	if got := f.received(); !cmp.Equal(got, []any{tg, "id1", "v9"}) {
		t.Errorf("Delete received %v", got)
	}
	if evs, err := c.FindByCorrelation(ctx, tg, "corr"); err != nil || len(evs) != 1 || evs[0].CorrelationID != "corr" {
		t.Errorf("FindByCorrelation = %v, %v", evs, err)
	}
}

func TestErrorsKeepTheirMeaning(t *testing.T) {
	ctx := context.Background()
	f := &fake{event: sampleEvent()}
	c := loopback(t, f)
	tests := []struct {
		name  string
		err   error
		is    error
		code  codes.Code
		retry time.Duration
	}{
		{"not found", fmt.Errorf("get x: %w", ErrNotFound), ErrNotFound, codes.NotFound, 0},
		{"precondition", fmt.Errorf("update x: %w", ErrPreconditionFailed), ErrPreconditionFailed, codes.Aborted, 0},
		{"full sync", fmt.Errorf("delta: %w", ErrFullSyncRequired), ErrFullSyncRequired, codes.FailedPrecondition, 0},
		{"unauthenticated", ErrUnauthenticated, ErrUnauthenticated, codes.Unauthenticated, 0},
		{"consent revoked", fmt.Errorf("ticket: %w", ErrConsentRevoked), ErrConsentRevoked, codes.Unauthenticated, 0},
		{"permission", ErrPermissionDenied, ErrPermissionDenied, codes.PermissionDenied, 0},
		{"invalid", fmt.Errorf("bad body: %w", ErrInvalidArgument), ErrInvalidArgument, codes.InvalidArgument, 0},
		{"unsupported", ErrUnsupported, ErrUnsupported, codes.Unimplemented, 0},
		{"throttled", fmt.Errorf("list: %w", &ThrottledError{RetryAfter: 7 * time.Second, Reason: "rateLimitExceeded"}), ErrThrottled, codes.ResourceExhausted, 7 * time.Second},
		{"plain", errors.New("boom"), nil, codes.Unknown, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.err = tc.err
			f.mu.Unlock()
			_, err := c.Get(ctx, Target{}, "x")
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.err.Error() {
				t.Errorf("message = %q, want %q", err.Error(), tc.err.Error())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			for _, other := range []error{ErrNotFound, ErrPreconditionFailed, ErrFullSyncRequired, ErrThrottled, ErrInvalidArgument} {
				if other != tc.is && errors.Is(err, other) {
					t.Errorf("error also matches %v", other)
				}
			}
			if got := status.Code(err); got != tc.code {
				t.Errorf("status code = %v, want %v", got, tc.code)
			}
			d, throttled := RetryAfter(err)
			if throttled != (tc.is == ErrThrottled) || d != tc.retry {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", d, throttled, tc.retry, tc.is == ErrThrottled)
			}
			if tc.is == ErrThrottled {
				var te *ThrottledError
				if !errors.As(err, &te) || te.Reason != "rateLimitExceeded" {
					t.Errorf("errors.As ThrottledError = %+v", te)
				}
			}
		})
	}
}

func TestStatusWithoutDetailFallsBackOnTheCode(t *testing.T) {
	tests := []struct {
		code codes.Code
		is   error
	}{
		{codes.NotFound, ErrNotFound},
		{codes.Aborted, ErrPreconditionFailed},
		{codes.FailedPrecondition, ErrFullSyncRequired},
		{codes.Unauthenticated, ErrUnauthenticated},
		{codes.ResourceExhausted, ErrThrottled},
		{codes.Unimplemented, ErrUnsupported},
		{codes.DeadlineExceeded, context.DeadlineExceeded},
		{codes.Canceled, context.Canceled},
	}
	for _, tc := range tests {
		err := fromStatus(status.Error(tc.code, ""))
		if !errors.Is(err, tc.is) {
			t.Errorf("%v: %v does not match %v", tc.code, err, tc.is)
		}
		if err.Error() == "" {
			t.Errorf("%v: empty message", tc.code)
		}
	}
	if err := fromStatus(status.Error(codes.Unavailable, "transport closed")); status.Code(err) != codes.Unavailable || errors.Is(err, ErrNotFound) {
		t.Errorf("unavailable: %v", err)
	}
}

type recLog struct {
	mu   sync.Mutex
	recs []RequestRecord
}

func (r *recLog) Record(rec RequestRecord) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
}

func TestRequestRecordsTravelBack(t *testing.T) {
	want := []RequestRecord{{Code: 200, Duration: 12 * time.Millisecond}, {Code: 429, Duration: time.Millisecond, Throttled: true}, {Code: 0, Duration: 3 * time.Second}}
	f := &fake{event: sampleEvent(), records: want}
	c := loopback(t, f)
	for _, failing := range []bool{false, true} {
		if failing {
			f.err = &ThrottledError{RetryAfter: time.Second}
		}
		var log recLog
		ctx := WithRecorder(context.Background(), &log)
		_, err := c.ListChanges(ctx, Target{}, ChangesRequest{})
		if (err != nil) != failing {
			t.Fatalf("failing=%v: err = %v", failing, err)
		}
		if !cmp.Equal(log.recs, want) {
			t.Errorf("failing=%v: host recorded %+v, want %+v", failing, log.recs, want)
		}
	}
}

func TestPanicBecomesAnError(t *testing.T) {
	f := &fake{event: sampleEvent(), panicMsg: "nil map"}
	c := loopback(t, f)
	_, err := c.Get(context.Background(), Target{}, "x")
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "panicked in Get") {
		t.Fatalf("err = %v", err)
	}
	f.mu.Lock()
	f.panicMsg = ""
	f.mu.Unlock()
	if _, err := c.Get(context.Background(), Target{}, "x"); err != nil {
		t.Fatalf("the server did not survive the panic: %v", err)
	}
}

func TestInvalidTimestampIsInvalidArgument(t *testing.T) {
	f := &fake{event: sampleEvent()}
	c := loopback(t, f)
	// Send a hand-made request with an out-of-range timestamp.
	_, err := c.c.Create(context.Background(), &pb.CreateRequest{Event: &pb.Event{Start: &timestamppb.Timestamp{Seconds: 1 << 62}}})
	if !errors.Is(fromStatus(err), ErrInvalidArgument) {
		t.Fatalf("err = %v", err)
	}
}

func TestLargePageFitsTheMessageLimit(t *testing.T) {
	big := sampleEvent()
	big.Description = strings.Repeat("x", 3<<20) // two events of 3 MiB: past gRPC's default 4 MiB
	c := loopback(t, &fake{event: big})
	ch, err := c.ListChanges(context.Background(), Target{}, ChangesRequest{})
	if err != nil || len(ch.Events) != 2 {
		t.Fatalf("ListChanges = %d events, %v", len(ch.Events), err)
	}
}

func TestGoPluginWiring(t *testing.T) {
	f := &fake{event: sampleEvent()}
	client, server := plugin.TestPluginGRPCConn(t, false, VersionedPlugins(f)[ProtocolVersion])
	// Deferred calls run last first: the server stops before the client closes,
	// since closing the client first asks the server to stop itself, which
	// would race with this Stop.
	defer client.Close()
	defer server.Stop()
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := raw.(Provider)
	if !ok {
		t.Fatalf("dispensed %T, not a Provider", raw)
	}
	if _, err := p.Get(context.Background(), Target{}, "id1"); err != nil {
		t.Fatal(err)
	}
	f.err = ErrNotFound
	if _, err := p.Get(context.Background(), Target{}, "id1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestPluginLoggerSpeaksTheHostsFormat(t *testing.T) {
	var b strings.Builder
	NewLoggerTo(&b, nil).Warn("slow answer", "status", 503)
	line := b.String()
	for _, want := range []string{`"@level":"warn"`, `"@message":"slow answer"`, `"@timestamp":"`, `"status":503`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %s lacks %s", line, want)
		}
	}
}
