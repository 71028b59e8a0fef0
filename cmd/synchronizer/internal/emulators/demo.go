package emulators

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Names of the `run -dev` demo.
const (
	DemoTenant        = "demo"
	DemoM365          = "demo365"
	DemoGoogle        = "demogw"
	DemoM365Profile   = "demo-m365"
	DemoGoogleProfile = "demo-google"
	// DemoPendingProfile and DemoPendingLink name the one link the demo leaves
	// waiting for a person to open its activation link.
	DemoPendingProfile = DemoGoogleProfile
	DemoPendingLink    = "user4"
	// DemoUsers and DemoResources are how many accounts of each kind the demo
	// creates (each profile links half of them).
	DemoUsers     = 4
	DemoResources = 2
)

// DemoLayout is the `run -dev` configuration: tenant demo with profiles demo-m365
// (USER1, USER2, ROOM1 with user1@m365.test, user2@m365.test, room1@m365.test) and
// demo-google (USER3, USER4, ROOM2 with user3@google.test, user4@google.test,
// room2@resource.google.test). The profiles link different people so that each
// appointment has one way through the demo.
func DemoLayout() Layout {
	return Layout{Tenant: DemoTenant, M365: DemoM365, Google: DemoGoogle, Profiles: []Profile{
		{Name: DemoM365Profile, Calendar: DemoM365, Links: []Link{
			{Name: "user1", Kind: "user", Associate: SuperOfficeUser(1), Mailbox: M365User(1)},
			{Name: "user2", Kind: "user", Associate: SuperOfficeUser(2), Mailbox: M365User(2)},
			{Name: "room1", Kind: "resource", Associate: SuperOfficeResource(1), Mailbox: M365Room(1)},
		}},
		{Name: DemoGoogleProfile, Calendar: DemoGoogle, Links: []Link{
			{Name: "user3", Kind: "user", Associate: SuperOfficeUser(3), Mailbox: GoogleUser(3)},
			{Name: "user4", Kind: "user", Associate: SuperOfficeUser(4), Mailbox: GoogleUser(4)},
			{Name: "room2", Kind: "resource", Associate: SuperOfficeResource(2), Mailbox: GoogleResource(2)},
		}},
	}}
}

// demoZone is where the demo's appointments are planned.
const demoZone = "Europe/Oslo"

// SeedDemo fills both sides of every link of layout with a small, readable set:
// for people a single appointment, an all-day one, a private one and a weekly
// series with a moved and a cancelled occurrence; for rooms one booking. Singles
// go in through each service's own API with its admin token (as a client would
// write them); the series come from each emulator's seeder. ids are the
// SuperOffice associate ids Populate returned; now is the demo's clock.
func (c *Cluster) SeedDemo(ctx context.Context, layout Layout, ids map[string]int, now time.Time) error {
	loc, err := time.LoadLocation(demoZone)
	if err != nil {
		return fmt.Errorf("seed demo: %w", err)
	}
	day := func(n int) time.Time {
		y, m, d := now.In(loc).AddDate(0, 0, n).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	cl := &apiClient{http: &http.Client{Timeout: 30 * time.Second}}
	info := c.Info()
	for _, p := range layout.Profiles {
		google := p.Calendar == layout.Google
		for _, l := range p.Links {
			id, ok := ids[l.Associate]
			if !ok {
				return fmt.Errorf("seed demo: no SuperOffice associate %s", l.Associate)
			}
			var so, cal []demoItem
			if l.Kind == "resource" {
				so = []demoItem{{title: "Board meeting", start: day(2).Add(13 * time.Hour), end: day(2).Add(15 * time.Hour)}}
				cal = []demoItem{{title: "Facilities check", start: day(3).Add(8 * time.Hour), end: day(3).Add(9 * time.Hour)}}
			} else {
				so = []demoItem{
					{title: "Customer visit", location: "Customer office", start: day(1).Add(10 * time.Hour), end: day(1).Add(11 * time.Hour)},
					{title: "Trade fair", allDay: true, start: day(6), end: day(8)},
					{title: "Dentist", private: true, start: day(2).Add(15 * time.Hour), end: day(2).Add(16 * time.Hour)},
				}
				cal = []demoItem{
					{title: "Project review", location: "Teams", start: day(1).Add(13 * time.Hour), end: day(1).Add(14*time.Hour + 30*time.Minute)},
					{title: "Conference", allDay: true, start: day(9), end: day(10)},
					{title: "Doctor", private: true, start: day(3).Add(11 * time.Hour), end: day(3).Add(12 * time.Hour)},
				}
				// Weekly series with a moved and a cancelled occurrence.
				if err := c.SuperOffice.SeedEvents(l.Associate, 10, int64(id)); err != nil {
					return fmt.Errorf("seed demo series of %s: %w", l.Associate, err)
				}
				var err error
				if google {
					err = c.Google.SeedEvents(l.Mailbox, 3, 1)
				} else {
					err = c.M365.SeedEvents(l.Mailbox, 1, 1)
				}
				if err != nil {
					return fmt.Errorf("seed demo series of %s: %w", l.Mailbox, err)
				}
			}
			for _, it := range so {
				if err := cl.superOffice(ctx, info.SuperOffice, id, it, loc); err != nil {
					return fmt.Errorf("seed demo: %s in the diary of %s: %w", it.title, l.Associate, err)
				}
			}
			for _, it := range cal {
				var err error
				if google {
					err = cl.google(ctx, info.Google, l.Mailbox, it)
				} else {
					err = cl.m365(ctx, info.M365, l.Mailbox, it)
				}
				if err != nil {
					return fmt.Errorf("seed demo: %s in the calendar of %s: %w", it.title, l.Mailbox, err)
				}
			}
		}
	}
	return nil
}

// demoItem is one appointment of the demo. All-day items run from start's day to
// the day before end's (end exclusive).
type demoItem struct {
	title, location string
	start, end      time.Time
	allDay, private bool
}

type apiClient struct {
	http *http.Client
}

func (c *apiClient) superOffice(ctx context.Context, svc Service, associate int, it demoItem, loc *time.Location) error {
	const layout = "2006-01-02T15:04:05"
	start, end := it.start.In(loc), it.end.In(loc)
	if it.allDay {
		end = end.AddDate(0, 0, -1).Add(23*time.Hour + 59*time.Minute)
	}
	body := map[string]any{
		"Associate":     map[string]any{"AssociateId": associate},
		"Title":         it.title,
		"Description":   it.title + "\nA demo appointment written in SuperOffice.",
		"Location":      it.location,
		"StartDate":     start.Format(layout),
		"EndDate":       end.Format(layout),
		"IsAlldayEvent": it.allDay,
	}
	if it.private {
		body["Private"] = "PrivateUser"
	}
	return PostJSON(ctx, c.http, svc.URL+"/v1/Appointment", svc.Token, body)
}

func (c *apiClient) m365(ctx context.Context, svc Service, mailbox string, it demoItem) error {
	const layout = "2006-01-02T15:04:05"
	body := map[string]any{
		"subject":  it.title,
		"body":     map[string]any{"contentType": "text", "content": "A demo event written in Microsoft 365."},
		"start":    map[string]any{"dateTime": it.start.Format(layout), "timeZone": demoZone},
		"end":      map[string]any{"dateTime": it.end.Format(layout), "timeZone": demoZone},
		"isAllDay": it.allDay,
	}
	if it.location != "" {
		body["location"] = map[string]any{"displayName": it.location}
	}
	if it.private {
		body["sensitivity"] = "private"
	}
	return PostJSON(ctx, c.http, svc.URL+"/users/"+url.PathEscape(mailbox)+"/events", svc.Token, body)
}

func (c *apiClient) google(ctx context.Context, svc Service, calendar string, it demoItem) error {
	body := map[string]any{
		"summary":     it.title,
		"description": "A demo event written in Google Calendar.",
	}
	if it.allDay {
		body["start"] = map[string]any{"date": it.start.Format(time.DateOnly)}
		body["end"] = map[string]any{"date": it.end.Format(time.DateOnly)}
	} else {
		body["start"] = map[string]any{"dateTime": it.start.Format(time.RFC3339), "timeZone": demoZone}
		body["end"] = map[string]any{"dateTime": it.end.Format(time.RFC3339), "timeZone": demoZone}
	}
	if it.location != "" {
		body["location"] = it.location
	}
	if it.private {
		body["visibility"] = "private"
	}
	return PostJSON(ctx, c.http, svc.URL+"/calendars/"+url.PathEscape(calendar)+"/events?sendUpdates=none", svc.Token, body)
}
