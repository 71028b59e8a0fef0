package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// account is one link's two sides as the emulators know them.
type account struct {
	Profile, Link string
	Kind          string // user | resource
	// Associate is the SuperOffice associate id of the diary.
	Associate int
	// Calendar is the calendar system (sideM365 or sideGoogle) and Mailbox the
	// mailbox or calendar id there.
	Calendar, Mailbox string
}

func (a account) String() string { return a.Profile + "/" + a.Link }

// occurrence is one item (or one occurrence of a series) as a listing shows it,
// reduced to what every side keeps exactly: its time and its title.
type occurrence struct {
	ID    string
	Title string
	// Timed items: Start and End in UTC. All-day items: Day0 is the first day and
	// Day1 the day after the last (YYYY-MM-DD).
	Start, End time.Time
	AllDay     bool
	Day0, Day1 string
	// Meeting: the item has participants (a SuperOffice booking row, attendees
	// in Graph or Google).
	Meeting bool
}

// key identifies an occurrence's place in time, the part of an item the mapping
// keeps on every side whatever the privacy policy does to its title.
func (o occurrence) key() string {
	if o.AllDay {
		return "D " + o.Day0 + " " + o.Day1
	}
	return "T " + o.Start.UTC().Format(time.RFC3339) + " " + o.End.UTC().Format(time.RFC3339)
}

// sides reads and writes items through the emulators' APIs with their admin
// tokens.
type sides struct {
	c    *client
	svcs Services

	mu       sync.Mutex
	soZone   string // SuperOffice's base zone code, once read
	soTokens map[int]soToken
}

// soToken is a diary owner's own access token.
type soToken struct {
	token string
	until time.Time
}

// soTokenFor returns the access token of a diary's owner, so that a change the
// benchmark makes in SuperOffice is that person's own, as when they edit their
// diary: the tenant's webhook then names them as the one who changed it. (A
// change made as the system user, the identity the daemon itself acts as, is
// taken for the daemon's own write and wakes nothing; polling finds it.) The
// emulator hands out such tokens on /_emulator/token; one it refuses (no such
// person) falls back to the system user's token.
func (s *sides) soTokenFor(ctx context.Context, a account) string {
	svc := s.svcs.SuperOffice
	now := time.Now()
	s.mu.Lock()
	t, ok := s.soTokens[a.Associate]
	s.mu.Unlock()
	if ok && now.Before(t.until) {
		return t.token
	}
	var res struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	root, err := svc.root()
	if err != nil {
		return svc.Token
	}
	_, err = s.c.do(ctx, request{method: http.MethodPost, url: root + "/_emulator/token", token: svc.Token,
		body: map[string]any{"associate": strconv.Itoa(a.Associate)}}, &res)
	if err != nil || res.AccessToken == "" {
		return svc.Token
	}
	life := time.Duration(max(res.ExpiresIn, 120)) * time.Second
	s.mu.Lock()
	if s.soTokens == nil {
		s.soTokens = map[int]soToken{}
	}
	s.soTokens[a.Associate] = soToken{token: res.AccessToken, until: now.Add(life - time.Minute)}
	s.mu.Unlock()
	return res.AccessToken
}

// soZoneUTC makes SuperOffice read and write wall clock in UTC; with
// includeTZOffset its answers carry the offset.
const (
	soZoneUTC       = "UTC"
	soZoneUTCOffset = "UTC,includeTZOffset"
)

// list reads the occurrences of an account's side ("superoffice" or its
// calendar) that overlap [from, to).
func (s *sides) list(ctx context.Context, a account, side string, from, to time.Time) ([]occurrence, error) {
	var out []occurrence
	var err error
	switch side {
	case sideSuperOffice:
		out, err = s.listSuperOffice(ctx, a.Associate, from, to)
	case sideM365:
		out, err = s.listM365(ctx, a.Mailbox, from, to)
	case sideGoogle:
		out, err = s.listGoogle(ctx, a.Mailbox, from, to)
	default:
		err = fmt.Errorf("unknown side %q", side)
	}
	if err != nil {
		return nil, fmt.Errorf("list %s of %s: %w", side, a, err)
	}
	return out, nil
}

func (s *sides) listSuperOffice(ctx context.Context, associate int, from, to time.Time) ([]occurrence, error) {
	zone, err := s.superOfficeZone(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		AppointmentID int    `json:"AppointmentId"`
		StartDate     string `json:"StartDate"`
		EndDate       string `json:"EndDate"`
		Title         string `json:"Title"`
		IsAlldayEvent bool   `json:"IsAlldayEvent"`
		MotherID      int    `json:"MotherId"`
	}
	svc := s.svcs.SuperOffice
	_, err = s.c.do(ctx, request{method: http.MethodPost, url: svc.URL + "/v1/Agents/Appointment/GetAssociateDiary",
		token: svc.Token, header: map[string]string{"SO-TimeZone": zone + ",includeTZOffset"},
		body: map[string]any{"AssociateId": associate, "StartTime": from.UTC().Format(time.RFC3339),
			"EndTime": to.UTC().Format(time.RFC3339), "Count": 0}}, &rows)
	if err != nil {
		return nil, err
	}
	out := make([]occurrence, 0, len(rows))
	for _, r := range rows {
		start, err1 := time.Parse(time.RFC3339, r.StartDate)
		end, err2 := time.Parse(time.RFC3339, r.EndDate)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("appointment %d: times %q, %q are not RFC 3339", r.AppointmentID, r.StartDate, r.EndDate)
		}
		o := occurrence{ID: strconv.Itoa(r.AppointmentID), Title: r.Title, Start: start.UTC(), End: end.UTC(), Meeting: r.MotherID != 0}
		if r.IsAlldayEvent {
			o.AllDay = true
			o.Day0, o.Day1 = soAllDay(start, end)
		}
		out = append(out, o)
	}
	return out, nil
}

// superOfficeZone is the installation's base zone code ("NO"), asked once:
// SuperOffice keeps all-day rows as local midnight to 23:59 there, so their
// days are read in it.
func (s *sides) superOfficeZone(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.soZone != "" {
		return s.soZone, nil
	}
	var tz struct {
		Code string `json:"TZLocationCode"`
	}
	svc := s.svcs.SuperOffice
	if _, err := s.c.do(ctx, request{method: http.MethodGet, url: svc.URL + "/v1/TimeZone/base", token: svc.Token}, &tz); err != nil {
		return "", fmt.Errorf("read SuperOffice's base time zone: %w", err)
	}
	s.soZone = cmp.Or(strings.TrimSpace(tz.Code), soZoneUTC)
	return s.soZone, nil
}

// soAllDay turns an all-day row, answered as wall clock in the installation's
// zone with its offset (local midnight of the first day to 23:59, or midnight,
// of the last), into its first day and the day after its last.
func soAllDay(start, end time.Time) (string, string) {
	d0 := start.Format(time.DateOnly)
	last := end
	if end.Hour() != 0 || end.Minute() != 0 || end.Equal(start) {
		last = end.AddDate(0, 0, 1)
	}
	return d0, last.Format(time.DateOnly)
}

// graphTime is a Graph dateTimeTimeZone answered in UTC (the default zone).
type graphTime struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

func (g graphTime) parse() (time.Time, error) {
	if g.TimeZone != "" && g.TimeZone != "UTC" {
		return time.Time{}, fmt.Errorf("time %s is in %s, want UTC", g.DateTime, g.TimeZone)
	}
	return time.Parse("2006-01-02T15:04:05.9999999", g.DateTime)
}

func (s *sides) listM365(ctx context.Context, mailbox string, from, to time.Time) ([]occurrence, error) {
	svc := s.svcs.M365
	next := svc.URL + "/users/" + url.PathEscape(mailbox) + "/calendar/calendarView?" + url.Values{
		"startDateTime": {from.UTC().Format(time.RFC3339)}, "endDateTime": {to.UTC().Format(time.RFC3339)},
		"$top": {"1000"}, "$select": {"id,subject,start,end,isAllDay,isCancelled,attendees"}}.Encode()
	var out []occurrence
	for pages := 0; next != ""; pages++ {
		if pages > 10000 {
			return nil, fmt.Errorf("more than 10,000 pages")
		}
		var page struct {
			Value []struct {
				ID          string    `json:"id"`
				Subject     string    `json:"subject"`
				Start       graphTime `json:"start"`
				End         graphTime `json:"end"`
				IsAllDay    bool      `json:"isAllDay"`
				IsCancelled bool      `json:"isCancelled"`
				Attendees   []any     `json:"attendees"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if _, err := s.c.do(ctx, request{method: http.MethodGet, url: next, token: svc.Token}, &page); err != nil {
			return nil, err
		}
		for _, e := range page.Value {
			if e.IsCancelled {
				continue
			}
			start, err1 := e.Start.parse()
			end, err2 := e.End.parse()
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("event %s: %w", e.ID, firstErr(err1, err2))
			}
			o := occurrence{ID: e.ID, Title: e.Subject, Start: start, End: end, Meeting: len(e.Attendees) > 0}
			if e.IsAllDay {
				o.AllDay, o.Day0, o.Day1 = true, start.Format(time.DateOnly), end.Format(time.DateOnly)
			}
			out = append(out, o)
		}
		next = page.Next
	}
	return out, nil
}

// googleTime is an event's start or end: dateTime for timed events, date for
// all-day ones.
type googleTime struct {
	DateTime string `json:"dateTime,omitempty"`
	Date     string `json:"date,omitempty"`
}

func (s *sides) listGoogle(ctx context.Context, calendar string, from, to time.Time) ([]occurrence, error) {
	svc := s.svcs.Google
	base := svc.URL + "/calendars/" + url.PathEscape(calendar) + "/events?"
	q := url.Values{"timeMin": {from.UTC().Format(time.RFC3339)}, "timeMax": {to.UTC().Format(time.RFC3339)},
		"singleEvents": {"true"}, "maxResults": {"2500"}}
	var out []occurrence
	for pages := 0; ; pages++ {
		if pages > 10000 {
			return nil, fmt.Errorf("more than 10,000 pages")
		}
		var page struct {
			Items []struct {
				ID        string     `json:"id"`
				Summary   string     `json:"summary"`
				Status    string     `json:"status"`
				Start     googleTime `json:"start"`
				End       googleTime `json:"end"`
				Attendees []any      `json:"attendees"`
			} `json:"items"`
			Next string `json:"nextPageToken"`
		}
		if _, err := s.c.do(ctx, request{method: http.MethodGet, url: base + q.Encode(), token: svc.Token}, &page); err != nil {
			return nil, err
		}
		for _, e := range page.Items {
			if e.Status == "cancelled" {
				continue
			}
			o := occurrence{ID: e.ID, Title: e.Summary, Meeting: len(e.Attendees) > 0}
			if e.Start.Date != "" {
				o.AllDay, o.Day0, o.Day1 = true, e.Start.Date, e.End.Date
			} else {
				start, err1 := time.Parse(time.RFC3339, e.Start.DateTime)
				end, err2 := time.Parse(time.RFC3339, e.End.DateTime)
				if err1 != nil || err2 != nil {
					return nil, fmt.Errorf("event %s: %w", e.ID, firstErr(err1, err2))
				}
				o.Start, o.End = start.UTC(), end.UTC()
			}
			out = append(out, o)
		}
		if page.Next == "" {
			return out, nil
		}
		q.Set("pageToken", page.Next)
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// create writes a timed item on one side of an account and returns its id.
func (s *sides) create(ctx context.Context, a account, side, title string, start, end time.Time) (string, error) {
	const wall = "2006-01-02T15:04:05"
	var id string
	var err error
	switch side {
	case sideSuperOffice:
		svc := s.svcs.SuperOffice
		var res struct {
			AppointmentID int `json:"AppointmentId"`
		}
		_, err = s.c.do(ctx, request{method: http.MethodPost, url: svc.URL + "/v1/Appointment", token: s.soTokenFor(ctx, a),
			header: map[string]string{"SO-TimeZone": soZoneUTC},
			body: map[string]any{"Associate": map[string]any{"AssociateId": a.Associate}, "Title": title,
				"Description": "Written by the benchmark.", "StartDate": start.UTC().Format(wall), "EndDate": end.UTC().Format(wall)}}, &res)
		if err == nil && res.AppointmentID == 0 {
			err = fmt.Errorf("the answer has no AppointmentId")
		}
		id = strconv.Itoa(res.AppointmentID)
	case sideM365:
		svc := s.svcs.M365
		var res struct {
			ID string `json:"id"`
		}
		_, err = s.c.do(ctx, request{method: http.MethodPost, url: svc.URL + "/users/" + url.PathEscape(a.Mailbox) + "/events", token: svc.Token,
			body: map[string]any{"subject": title, "body": map[string]any{"contentType": "text", "content": "Written by the benchmark."},
				"start": graphTime{DateTime: start.UTC().Format(wall), TimeZone: "UTC"},
				"end":   graphTime{DateTime: end.UTC().Format(wall), TimeZone: "UTC"}}}, &res)
		if err == nil && res.ID == "" {
			err = fmt.Errorf("the answer has no id")
		}
		id = res.ID
	case sideGoogle:
		svc := s.svcs.Google
		var res struct {
			ID string `json:"id"`
		}
		_, err = s.c.do(ctx, request{method: http.MethodPost, url: svc.URL + "/calendars/" + url.PathEscape(a.Mailbox) + "/events?sendUpdates=none", token: svc.Token,
			body: map[string]any{"summary": title, "description": "Written by the benchmark.",
				"start": googleTime{DateTime: start.UTC().Format(time.RFC3339)}, "end": googleTime{DateTime: end.UTC().Format(time.RFC3339)}}}, &res)
		if err == nil && res.ID == "" {
			err = fmt.Errorf("the answer has no id")
		}
		id = res.ID
	default:
		err = fmt.Errorf("unknown side %q", side)
	}
	if err != nil {
		return "", fmt.Errorf("create %q on %s of %s: %w", title, side, a, err)
	}
	return id, nil
}

// retitle changes an item's title on one side.
func (s *sides) retitle(ctx context.Context, a account, side, id, title string) error {
	var err error
	switch side {
	case sideSuperOffice:
		// REST PUT takes the whole entity: read it, change the title, write it back.
		svc := s.svcs.SuperOffice
		u := svc.URL + "/v1/Appointment/" + url.PathEscape(id)
		hdr := map[string]string{"SO-TimeZone": soZoneUTC}
		token := s.soTokenFor(ctx, a)
		var entity map[string]any
		if _, err = s.c.do(ctx, request{method: http.MethodGet, url: u, token: token, header: hdr}, &entity); err == nil {
			entity["Title"] = title
			_, err = s.c.do(ctx, request{method: http.MethodPut, url: u, token: token, header: hdr, body: entity}, nil)
		}
	case sideM365:
		svc := s.svcs.M365
		_, err = s.c.do(ctx, request{method: http.MethodPatch, url: svc.URL + "/users/" + url.PathEscape(a.Mailbox) + "/events/" + url.PathEscape(id),
			token: svc.Token, body: map[string]any{"subject": title}}, nil)
	case sideGoogle:
		svc := s.svcs.Google
		_, err = s.c.do(ctx, request{method: http.MethodPatch, url: svc.URL + "/calendars/" + url.PathEscape(a.Mailbox) + "/events/" + url.PathEscape(id) + "?sendUpdates=none",
			token: svc.Token, body: map[string]any{"summary": title}}, nil)
	default:
		err = fmt.Errorf("unknown side %q", side)
	}
	if err != nil {
		return fmt.Errorf("retitle %s on %s of %s: %w", id, side, a, err)
	}
	return nil
}

// remove deletes an item on one side.
func (s *sides) remove(ctx context.Context, a account, side, id string) error {
	var u, token string
	switch side {
	case sideSuperOffice:
		u, token = s.svcs.SuperOffice.URL+"/v1/Appointment/"+url.PathEscape(id), s.soTokenFor(ctx, a)
	case sideM365:
		u, token = s.svcs.M365.URL+"/users/"+url.PathEscape(a.Mailbox)+"/events/"+url.PathEscape(id), s.svcs.M365.Token
	case sideGoogle:
		u, token = s.svcs.Google.URL+"/calendars/"+url.PathEscape(a.Mailbox)+"/events/"+url.PathEscape(id)+"?sendUpdates=none", s.svcs.Google.Token
	default:
		return fmt.Errorf("unknown side %q", side)
	}
	status, err := s.c.do(ctx, request{method: http.MethodDelete, url: u, token: token}, nil)
	if err != nil && status != http.StatusNotFound && status != http.StatusGone {
		return fmt.Errorf("delete %s on %s of %s: %w", id, side, a, err)
	}
	return nil
}

// benchTitle marks the items the benchmark writes, so the comparison can tell
// them from the seeded ones.
const benchTitlePrefix = "bench "

func isBenchTitle(t string) bool { return strings.HasPrefix(t, benchTitlePrefix) }
