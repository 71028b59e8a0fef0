package sdk

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "synchronizer/plugins/proto/calendar/v1"
)

// Conversions between the Go contract and its wire form. Every field of the Go
// types travels; the only normalisations are that instants arrive in UTC and that
// empty slices and maps arrive as nil.

func tsToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsFromPB(ts *timestamppb.Timestamp, field string) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, fmt.Errorf("field %s: %w: %w", field, ErrInvalidArgument, err)
	}
	return ts.AsTime(), nil
}

func durToPB(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func durFromPB(d *durationpb.Duration) time.Duration {
	if d == nil || d.CheckValid() != nil {
		return 0
	}
	return d.AsDuration()
}

func clampInt32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < math.MinInt32:
		return math.MinInt32
	}
	return int32(n)
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func targetToPB(t Target) *pb.Target {
	return &pb.Target{
		Instance: t.Instance,
		Account:  t.Account,
		Calendar: t.Calendar,
		Credential: &pb.Credential{
			Type:  t.Credential.Type,
			Token: t.Credential.Token,
		},
	}
}

func targetFromPB(t *pb.Target) Target {
	if t == nil {
		return Target{}
	}
	return Target{
		Instance: t.GetInstance(),
		Account:  t.GetAccount(),
		Calendar: t.GetCalendar(),
		Credential: Credential{
			Type:  t.GetCredential().GetType(),
			Token: t.GetCredential().GetToken(),
		},
	}
}

func attendeeToPB(a Attendee) *pb.Attendee {
	if a == (Attendee{}) {
		return nil
	}
	return &pb.Attendee{
		Email:     a.Email,
		Name:      a.Name,
		Type:      string(a.Type),
		Response:  string(a.Response),
		AccountId: a.AccountID,
	}
}

func attendeeFromPB(a *pb.Attendee) Attendee {
	if a == nil {
		return Attendee{}
	}
	return Attendee{
		Email:     a.GetEmail(),
		Name:      a.GetName(),
		Type:      AttendeeType(a.GetType()),
		Response:  Response(a.GetResponse()),
		AccountID: a.GetAccountId(),
	}
}

// eventToPB converts an event to its wire form.
func eventToPB(ev Event) *pb.Event {
	out := &pb.Event{
		Id:              ev.ID,
		Version:         ev.Version,
		IcalUid:         ev.ICalUID,
		CorrelationId:   ev.CorrelationID,
		Kind:            string(ev.Kind),
		SeriesId:        ev.SeriesID,
		OriginalStart:   tsToPB(ev.OriginalStart),
		Recurrence:      cloneStrings(ev.Recurrence),
		Cancelled:       ev.Cancelled,
		Title:           ev.Title,
		Description:     ev.Description,
		DescriptionHtml: ev.DescriptionHTML,
		Location:        ev.Location,
		Start:           tsToPB(ev.Start),
		End:             tsToPB(ev.End),
		TimeZone:        ev.TimeZone,
		AllDay:          ev.AllDay,
		ShowAs:          string(ev.ShowAs),
		Privacy:         string(ev.Privacy),
		HasReminder:     ev.HasReminder,
		ReminderMinutes: clampInt32(ev.ReminderMinutes),
		Category:        ev.Category,
		Organizer:       attendeeToPB(ev.Organizer),
		IsOrganizer:     ev.IsOrganizer,
		MeetingKey:      ev.MeetingKey,
		Response:        string(ev.Response),
		Created:         tsToPB(ev.Created),
		Updated:         tsToPB(ev.Updated),
		Extras:          cloneMap(ev.Extras),
	}
	for _, a := range ev.Attendees {
		pa := attendeeToPB(a)
		if pa == nil {
			pa = &pb.Attendee{}
		}
		out.Attendees = append(out.Attendees, pa)
	}
	return out
}

// eventFromPB converts an event from its wire form. It fails only on timestamps
// outside the representable range.
func eventFromPB(ev *pb.Event) (Event, error) {
	if ev == nil {
		return Event{}, fmt.Errorf("missing event: %w", ErrInvalidArgument)
	}
	out := Event{
		ID:              ev.GetId(),
		Version:         ev.GetVersion(),
		ICalUID:         ev.GetIcalUid(),
		CorrelationID:   ev.GetCorrelationId(),
		Kind:            EventKind(ev.GetKind()),
		SeriesID:        ev.GetSeriesId(),
		Recurrence:      cloneStrings(ev.GetRecurrence()),
		Cancelled:       ev.GetCancelled(),
		Title:           ev.GetTitle(),
		Description:     ev.GetDescription(),
		DescriptionHTML: ev.GetDescriptionHtml(),
		Location:        ev.GetLocation(),
		TimeZone:        ev.GetTimeZone(),
		AllDay:          ev.GetAllDay(),
		ShowAs:          ShowAs(ev.GetShowAs()),
		Privacy:         Privacy(ev.GetPrivacy()),
		HasReminder:     ev.GetHasReminder(),
		ReminderMinutes: int(ev.GetReminderMinutes()),
		Category:        ev.GetCategory(),
		Organizer:       attendeeFromPB(ev.GetOrganizer()),
		IsOrganizer:     ev.GetIsOrganizer(),
		MeetingKey:      ev.GetMeetingKey(),
		Response:        Response(ev.GetResponse()),
		Extras:          cloneMap(ev.GetExtras()),
	}
	for _, a := range ev.GetAttendees() {
		out.Attendees = append(out.Attendees, attendeeFromPB(a))
	}
	var err error
	for _, f := range []struct {
		dst  *time.Time
		src  *timestamppb.Timestamp
		name string
	}{
		{&out.OriginalStart, ev.GetOriginalStart(), "original_start"},
		{&out.Start, ev.GetStart(), "start"},
		{&out.End, ev.GetEnd(), "end"},
		{&out.Created, ev.GetCreated(), "created"},
		{&out.Updated, ev.GetUpdated(), "updated"},
	} {
		if *f.dst, err = tsFromPB(f.src, f.name); err != nil {
			return Event{}, fmt.Errorf("event %s: %w", ev.GetId(), err)
		}
	}
	return out, nil
}

func eventsToPB(evs []Event) []*pb.Event {
	out := make([]*pb.Event, 0, len(evs))
	for _, ev := range evs {
		out = append(out, eventToPB(ev))
	}
	return out
}

func eventsFromPB(evs []*pb.Event) ([]Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	out := make([]Event, 0, len(evs))
	for _, ev := range evs {
		e, err := eventFromPB(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func accountToPB(a Account) *pb.Account {
	return &pb.Account{
		Id:      a.ID,
		Email:   a.Email,
		Name:    a.Name,
		Kind:    string(a.Kind),
		IsAdmin: a.IsAdmin,
		Extra:   cloneMap(a.Extra),
	}
}

func accountFromPB(a *pb.Account) Account {
	if a == nil {
		return Account{}
	}
	return Account{
		ID:      a.GetId(),
		Email:   a.GetEmail(),
		Name:    a.GetName(),
		Kind:    AccountKind(a.GetKind()),
		IsAdmin: a.GetIsAdmin(),
		Extra:   cloneMap(a.GetExtra()),
	}
}

func windowToPB(w Window) *pb.Window {
	return &pb.Window{Start: tsToPB(w.Start), End: tsToPB(w.End)}
}

func windowFromPB(w *pb.Window) (Window, error) {
	var out Window
	var err error
	if out.Start, err = tsFromPB(w.GetStart(), "window.start"); err != nil {
		return Window{}, err
	}
	if out.End, err = tsFromPB(w.GetEnd(), "window.end"); err != nil {
		return Window{}, err
	}
	return out, nil
}

func capabilitiesToPB(c Capabilities) *pb.Capabilities {
	return &pb.Capabilities{
		IncrementalChanges: c.IncrementalChanges,
		Push:               c.Push,
		Recurrence:         c.Recurrence,
		CorrelationLookup:  c.CorrelationLookup,
		Directory:          c.Directory,
		Licenses:           c.Licenses,
		PushScope:          string(c.PushScope),
	}
}

func capabilitiesFromPB(c *pb.Capabilities) Capabilities {
	return Capabilities{
		IncrementalChanges: c.GetIncrementalChanges(),
		Push:               c.GetPush(),
		Recurrence:         c.GetRecurrence(),
		CorrelationLookup:  c.GetCorrelationLookup(),
		Directory:          c.GetDirectory(),
		Licenses:           c.GetLicenses(),
		PushScope:          PushScope(c.GetPushScope()),
	}
}

func oauthSpecToPB(s OAuthSpec) *pb.OAuthResponse {
	return &pb.OAuthResponse{
		Grant:        string(s.Grant),
		AuthUrl:      s.AuthURL,
		TokenUrl:     s.TokenURL,
		ClientId:     s.ClientID,
		ClientSecret: s.ClientSecret,
		Scopes:       cloneStrings(s.Scopes),
		Params:       cloneMap(s.Params),
		Pkce:         s.PKCE,
		AuthInHeader: s.AuthInHeader,
	}
}

func oauthSpecFromPB(s *pb.OAuthResponse) OAuthSpec {
	return OAuthSpec{
		Grant:        Grant(s.GetGrant()),
		AuthURL:      s.GetAuthUrl(),
		TokenURL:     s.GetTokenUrl(),
		ClientID:     s.GetClientId(),
		ClientSecret: s.GetClientSecret(),
		Scopes:       cloneStrings(s.GetScopes()),
		Params:       cloneMap(s.GetParams()),
		PKCE:         s.GetPkce(),
		AuthInHeader: s.GetAuthInHeader(),
	}
}

func tokenToPB(t TokenInfo) *pb.TokenInfo {
	return &pb.TokenInfo{
		AccessToken: t.AccessToken,
		IdToken:     t.IDToken,
		Scope:       t.Scope,
		Expiry:      tsToPB(t.Expiry),
		Extra:       cloneMap(t.Extra),
	}
}

func tokenFromPB(t *pb.TokenInfo) (TokenInfo, error) {
	exp, err := tsFromPB(t.GetExpiry(), "token.expiry")
	if err != nil {
		return TokenInfo{}, err
	}
	return TokenInfo{
		AccessToken: t.GetAccessToken(),
		IDToken:     t.GetIdToken(),
		Scope:       t.GetScope(),
		Expiry:      exp,
		Extra:       cloneMap(t.GetExtra()),
	}, nil
}

func recordsToPB(rs []RequestRecord) *pb.CallReport {
	out := &pb.CallReport{}
	for _, r := range rs {
		out.Requests = append(out.Requests, &pb.RequestRecord{
			Code:      clampInt32(r.Code),
			Duration:  durToPB(r.Duration),
			Throttled: r.Throttled,
		})
	}
	return out
}

func recordsFromPB(rep *pb.CallReport) []RequestRecord {
	out := make([]RequestRecord, 0, len(rep.GetRequests()))
	for _, r := range rep.GetRequests() {
		out = append(out, RequestRecord{
			Code:      int(r.GetCode()),
			Duration:  durFromPB(r.GetDuration()),
			Throttled: r.GetThrottled(),
		})
	}
	return out
}
