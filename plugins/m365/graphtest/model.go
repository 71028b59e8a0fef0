package graphtest

import (
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// event is one stored calendar item: a single instance, a series master, or an
// exception (kept inside its master). Occurrences are not stored: they are computed
// from the master's recurrence (see eventView).
type event struct {
	key    uint64
	cal    *calendar
	typ    string // singleInstance | seriesMaster | exception
	master *event // exceptions
	// origStart is the original start of an exception's occurrence.
	origStart time.Time
	uidKey    uint64 // the unique part of iCalUId (the organizer's key on copies)

	seq      uint64 // mailbox change counter at the last change (delta)
	version  uint64 // write counter (changeKey)
	created  time.Time
	modified time.Time

	transactionID string

	subject  string
	bodyType string // text | html
	body     string
	location string

	// start and end are instants; all-day items keep midnight UTC of their dates,
	// because Exchange treats them as floating dates.
	start, end     time.Time
	startTZ, endTZ string // originalStartTimeZone / originalEndTimeZone
	allDay         bool

	showAs, sensitivity, importance string
	reminderOn                      bool
	reminderMin                     int
	categories                      []string

	attendees             []attendee
	organizer             emailAddress
	isOrganizer           bool
	response              string
	responseTime          time.Time
	responseRequested     bool
	cancelled             bool
	hideAttendees         bool
	allowNewTimeProposals bool
	isOnlineMeeting       bool

	rec          *recurrence
	exceptions   map[int64]*event // by original start (unix seconds)
	cancelledOcc map[int64]uint64 // original start (unix seconds) -> seq of the deletion

	props []prop
	exts  []extension

	orgKey uint64   // on a meeting copy: the organizer's item
	copies []uint64 // on an organizer's meeting: the attendees' copies
}

type prop struct{ id, value string }

type extension struct {
	name string
	data map[string]any
}

type emailAddress struct{ name, address string }

type attendee struct {
	typ      string // required | optional | resource
	name     string
	address  string
	response string
	time     time.Time
}

// owner is the mailbox the item lives in.
func (e *event) owner() *user {
	if e.master != nil {
		return e.master.cal.owner
	}
	return e.cal.owner
}

func (e *event) top() *event {
	if e.master != nil {
		return e.master
	}
	return e
}

// eventView is one item as a listing shows it: a stored item or a computed
// occurrence of a master.
type eventView struct {
	ev        *event // the stored item; for an occurrence, its master
	occ       bool
	origStart time.Time
	start     time.Time
	end       time.Time
}

func viewOf(e *event) *eventView {
	return &eventView{ev: e, origStart: e.origStart, start: e.start, end: e.end}
}

func (v *eventView) typ() string {
	if v.occ {
		return "occurrence"
	}
	return v.ev.typ
}

func (v *eventView) ref() itemRef {
	switch {
	case v.occ:
		return itemRef{key: v.ev.key, occ: v.origStart.Unix()}
	case v.ev.master != nil:
		return itemRef{key: v.ev.master.key, occ: v.ev.origStart.Unix()}
	}
	return itemRef{key: v.ev.key}
}

func (v *eventView) icalUID() string {
	top := v.ev.top()
	uk := top.uidKey
	if uk == 0 {
		uk = top.key
	}
	var inst time.Time
	if v.occ || v.ev.master != nil {
		inst = v.origStart
		if top.rec != nil && !top.allDay {
			inst = inst.In(top.rec.loc)
		}
	}
	return icalUID(uk, nil, inst)
}

func (s *Server) itemID(rc *reqCtx, ref itemRef, owner *user) string {
	return s.encodeItemID(ref, rc.prefer.immutableIDs, owner.gen)
}

// --- JSON shapes ---

type jsonDTZ struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type jsonEmail struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

type jsonRecipient struct {
	EmailAddress jsonEmail `json:"emailAddress"`
}

type jsonStatus struct {
	Response string `json:"response"`
	Time     string `json:"time"`
}

type jsonAttendee struct {
	Type         string     `json:"type"`
	Status       jsonStatus `json:"status"`
	EmailAddress jsonEmail  `json:"emailAddress"`
}

type jsonBody struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

type jsonLocation struct {
	DisplayName  string  `json:"displayName"`
	LocationType string  `json:"locationType"`
	UniqueID     *string `json:"uniqueId,omitempty"`
	UniqueIDType string  `json:"uniqueIdType"`
}

type jsonPattern struct {
	Type           string   `json:"type"`
	Interval       int      `json:"interval"`
	Month          int      `json:"month"`
	DayOfMonth     int      `json:"dayOfMonth"`
	DaysOfWeek     []string `json:"daysOfWeek"`
	FirstDayOfWeek string   `json:"firstDayOfWeek"`
	Index          string   `json:"index"`
}

type jsonRange struct {
	Type                string `json:"type"`
	StartDate           string `json:"startDate"`
	EndDate             string `json:"endDate"`
	RecurrenceTimeZone  string `json:"recurrenceTimeZone"`
	NumberOfOccurrences int    `json:"numberOfOccurrences"`
}

type jsonRecurrence struct {
	Pattern jsonPattern `json:"pattern"`
	Range   jsonRange   `json:"range"`
}

type jsonProp struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

type jsonEvent struct {
	ODataContext          string           `json:"@odata.context,omitempty"`
	ODataType             string           `json:"@odata.type,omitempty"`
	ETag                  string           `json:"@odata.etag"`
	ID                    string           `json:"id"`
	CreatedDateTime       string           `json:"createdDateTime"`
	LastModifiedDateTime  string           `json:"lastModifiedDateTime"`
	ChangeKey             string           `json:"changeKey"`
	Categories            []string         `json:"categories"`
	TransactionID         *string          `json:"transactionId"`
	OriginalStartTimeZone string           `json:"originalStartTimeZone"`
	OriginalEndTimeZone   string           `json:"originalEndTimeZone"`
	ICalUID               string           `json:"iCalUId"`
	ReminderMinutes       int              `json:"reminderMinutesBeforeStart"`
	IsReminderOn          bool             `json:"isReminderOn"`
	HasAttachments        bool             `json:"hasAttachments"`
	Subject               string           `json:"subject"`
	BodyPreview           string           `json:"bodyPreview"`
	Importance            string           `json:"importance"`
	Sensitivity           string           `json:"sensitivity"`
	OriginalStart         string           `json:"originalStart,omitempty"`
	IsAllDay              bool             `json:"isAllDay"`
	IsCancelled           bool             `json:"isCancelled"`
	IsOrganizer           bool             `json:"isOrganizer"`
	ResponseRequested     bool             `json:"responseRequested"`
	SeriesMasterID        *string          `json:"seriesMasterId"`
	ShowAs                string           `json:"showAs"`
	Type                  string           `json:"type"`
	WebLink               string           `json:"webLink"`
	OnlineMeetingURL      *string          `json:"onlineMeetingUrl"`
	IsOnlineMeeting       bool             `json:"isOnlineMeeting"`
	OnlineMeetingProvider string           `json:"onlineMeetingProvider"`
	AllowNewTimeProposals bool             `json:"allowNewTimeProposals"`
	OccurrenceID          *string          `json:"occurrenceId"`
	IsDraft               bool             `json:"isDraft"`
	HideAttendees         bool             `json:"hideAttendees"`
	ResponseStatus        jsonStatus       `json:"responseStatus"`
	Body                  jsonBody         `json:"body"`
	Start                 jsonDTZ          `json:"start"`
	End                   jsonDTZ          `json:"end"`
	Location              jsonLocation     `json:"location"`
	Locations             []jsonLocation   `json:"locations"`
	Recurrence            *jsonRecurrence  `json:"recurrence"`
	Attendees             []jsonAttendee   `json:"attendees"`
	Organizer             jsonRecipient    `json:"organizer"`
	OnlineMeeting         any              `json:"onlineMeeting"`
	SVEPContext           string           `json:"singleValueExtendedProperties@odata.context,omitempty"`
	SingleValueProps      []jsonProp       `json:"singleValueExtendedProperties,omitempty"`
	ExtensionsContext     string           `json:"extensions@odata.context,omitempty"`
	Extensions            []map[string]any `json:"extensions,omitempty"`
}

// jsonStub is an occurrence as calendarView/delta lists it: no subject, no iCalUId.
type jsonStub struct {
	ODataType      string  `json:"@odata.type"`
	ETag           string  `json:"@odata.etag"`
	ID             string  `json:"id"`
	Type           string  `json:"type"`
	SeriesMasterID string  `json:"seriesMasterId"`
	Start          jsonDTZ `json:"start"`
	End            jsonDTZ `json:"end"`
}

type jsonRemoved struct {
	ODataType string            `json:"@odata.type"`
	ID        string            `json:"id"`
	Removed   map[string]string `json:"@removed"`
}

const graphDateTime = "2006-01-02T15:04:05.0000000"

func formatDTZ(t time.Time, allDay bool, p prefer) jsonDTZ {
	if allDay {
		u := t.UTC()
		return jsonDTZ{DateTime: time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC).Format(graphDateTime), TimeZone: p.zoneLabel()}
	}
	return jsonDTZ{DateTime: t.In(p.loc).Format(graphDateTime), TimeZone: p.zoneLabel()}
}

func formatStamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

var (
	tagRe   = regexp.MustCompile(`(?s)<[^>]*>`)
	breakRe = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>`)
	headRe  = regexp.MustCompile(`(?is)<head>.*?</head>`)
)

// htmlToText is how Exchange renders an HTML body for outlook.body-content-type="text".
func htmlToText(h string) string {
	h = headRe.ReplaceAllString(h, "")
	h = breakRe.ReplaceAllString(h, "\n")
	h = tagRe.ReplaceAllString(h, "")
	h = html.UnescapeString(h)
	lines := strings.Split(strings.ReplaceAll(h, "\r\n", "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t")
	}
	return strings.Trim(strings.Join(lines, "\r\n"), "\r\n")
}

func textToHTML(t string) string {
	if t == "" {
		return ""
	}
	esc := strings.ReplaceAll(html.EscapeString(t), "\n", "<br>\r\n")
	return wrapHTML(esc)
}

func wrapHTML(inner string) string {
	if strings.Contains(strings.ToLower(inner), "<html") {
		return inner
	}
	return "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n" + inner + "\r\n</body>\r\n</html>\r\n"
}

func (e *event) textBody() string {
	if e.bodyType == "html" {
		return htmlToText(e.body)
	}
	return e.body
}

// render builds the JSON of one item as the request asked for it.
func (s *Server) render(rc *reqCtx, v *eventView, exp expandSpec) *jsonEvent {
	e := v.ev
	owner := e.owner()
	top := e.top()
	id := s.itemID(rc, v.ref(), owner)
	version := e.version
	ckKey := e.key
	if v.occ {
		ckKey = e.key
	}
	if e.master != nil {
		ckKey = e.master.key ^ uint64(e.origStart.Unix())<<1
	}
	ck := s.changeKey(ckKey, version)
	out := &jsonEvent{
		ETag:                  etagOf(ck),
		ID:                    id,
		CreatedDateTime:       formatStamp(e.created),
		LastModifiedDateTime:  formatStamp(e.modified),
		ChangeKey:             ck,
		Categories:            nonNil(e.categories),
		OriginalStartTimeZone: e.startTZ,
		OriginalEndTimeZone:   e.endTZ,
		ICalUID:               v.icalUID(),
		ReminderMinutes:       e.reminderMin,
		IsReminderOn:          e.reminderOn,
		Subject:               e.subject,
		Importance:            e.importance,
		Sensitivity:           e.sensitivity,
		IsAllDay:              e.allDay,
		IsCancelled:           e.cancelled,
		IsOrganizer:           e.isOrganizer,
		ResponseRequested:     e.responseRequested,
		ShowAs:                e.showAs,
		Type:                  v.typ(),
		WebLink:               "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(id) + "&exvsurl=1&path=/calendar/item",
		IsOnlineMeeting:       e.isOnlineMeeting,
		OnlineMeetingProvider: "unknown",
		AllowNewTimeProposals: e.allowNewTimeProposals,
		HideAttendees:         e.hideAttendees,
		ResponseStatus:        jsonStatus{Response: e.response, Time: "0001-01-01T00:00:00Z"},
		Start:                 formatDTZ(v.start, e.allDay, rc.prefer),
		End:                   formatDTZ(v.end, e.allDay, rc.prefer),
		Locations:             []jsonLocation{},
		Attendees:             []jsonAttendee{},
		Organizer:             jsonRecipient{EmailAddress: jsonEmail{Name: e.organizer.name, Address: e.organizer.address}},
	}
	if e.transactionID != "" && !v.occ && e.master == nil {
		tid := e.transactionID
		out.TransactionID = &tid
	}
	if !e.responseTime.IsZero() {
		out.ResponseStatus.Time = formatStamp(e.responseTime)
	}
	text := e.textBody()
	out.BodyPreview = preview(text)
	if rc.prefer.textBody {
		out.Body = jsonBody{ContentType: "text", Content: text}
	} else if e.bodyType == "html" {
		out.Body = jsonBody{ContentType: "html", Content: wrapHTML(e.body)}
	} else {
		out.Body = jsonBody{ContentType: "html", Content: textToHTML(e.body)}
	}
	out.Location = jsonLocation{DisplayName: e.location, LocationType: "default", UniqueIDType: "unknown"}
	if e.location != "" {
		uid := e.location
		out.Location.UniqueID = &uid
		out.Location.UniqueIDType = "private"
		out.Locations = []jsonLocation{out.Location}
	}
	if v.occ || e.master != nil {
		mid := s.itemID(rc, itemRef{key: top.key}, owner)
		out.SeriesMasterID = &mid
		out.OriginalStart = v.origStart.UTC().Format("2006-01-02T15:04:05Z")
	}
	if e.typ == "seriesMaster" && !v.occ && e.rec != nil {
		r := e.rec.toJSON()
		out.Recurrence = &r
	}
	for _, a := range e.attendees {
		st := jsonStatus{Response: a.response, Time: "0001-01-01T00:00:00Z"}
		if !a.time.IsZero() {
			st.Time = formatStamp(a.time)
		}
		out.Attendees = append(out.Attendees, jsonAttendee{Type: a.typ, Status: st, EmailAddress: jsonEmail{Name: a.name, Address: a.address}})
	}
	if len(exp.props) > 0 {
		out.SVEPContext = rc.base + "/v1.0/$metadata#users('" + owner.ID + "')/events('" + id + "')/singleValueExtendedProperties"
		src := e
		if v.occ {
			src = e // occurrences show the master's properties
		}
		for _, want := range exp.props {
			cw := canonicalPropID(want)
			for _, p := range src.props {
				if canonicalPropID(p.id) == cw {
					out.SingleValueProps = append(out.SingleValueProps, jsonProp{ID: p.id, Value: p.value})
				}
			}
		}
		if out.SingleValueProps == nil {
			out.SVEPContext = ""
		}
	}
	if exp.wantExt {
		out.ExtensionsContext = rc.base + "/v1.0/$metadata#users('" + owner.ID + "')/events('" + id + "')/extensions"
		out.Extensions = []map[string]any{}
		for _, x := range e.exts {
			if exp.allExt || slices.ContainsFunc(exp.extensions, func(w string) bool { return extMatches(x.name, w) }) {
				out.Extensions = append(out.Extensions, x.json())
			}
		}
	}
	return out
}

func (s *Server) renderStub(rc *reqCtx, v *eventView) *jsonStub {
	owner := v.ev.owner()
	ck := s.changeKey(v.ev.key, v.ev.version)
	return &jsonStub{
		ODataType:      "#microsoft.graph.event",
		ETag:           etagOf(ck),
		ID:             s.itemID(rc, v.ref(), owner),
		Type:           "occurrence",
		SeriesMasterID: s.itemID(rc, itemRef{key: v.ev.key}, owner),
		Start:          formatDTZ(v.start, v.ev.allDay, rc.prefer),
		End:            formatDTZ(v.end, v.ev.allDay, rc.prefer),
	}
}

func preview(t string) string {
	t = strings.Join(strings.Fields(t), " ")
	r := []rune(t)
	if len(r) > 255 {
		r = r[:255]
	}
	return string(r)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const extPrefix = "Microsoft.OutlookServices.OpenTypeExtension."

func extMatches(name, want string) bool {
	return strings.EqualFold(name, want) || strings.EqualFold(extPrefix+name, want)
}

func (x extension) json() map[string]any {
	m := map[string]any{
		"@odata.type":   "#microsoft.graph.openTypeExtension",
		"id":            extPrefix + x.name,
		"extensionName": x.name,
	}
	for k, v := range x.data {
		m[k] = v
	}
	return m
}
