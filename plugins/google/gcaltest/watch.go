package gcaltest

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"synchronizer/plugins/internal/pushdeliver"
)

// channel is an events.watch registration.
type channel struct {
	id         string
	resourceID string
	uri        string
	token      string
	address    string
	expiration time.Time
	cal        *calendar
	msg        int64
}

// maxChannelTTL is the longest a channel lives. [unconfirmed: Google does not
// document Calendar's maximum; reports vary up to 7 days.]
const maxChannelTTL = 7 * 24 * time.Hour

// eventsWatch is events.watch: registers a web_hook channel and sends the "sync"
// message at once.
func (c *call) eventsWatch() (*response, *gerr) {
	body, e := readBodyMap(c.r, map[string]bool{"id": true, "type": true, "address": true, "token": true,
		"expiration": true, "params": true, "payload": true, "kind": true, "resourceId": true, "resourceUri": true})
	if e != nil {
		return nil, e
	}
	var ch Channel
	if e := decodeInto(body, &ch); e != nil {
		return nil, e
	}
	switch {
	case ch.ID == "" || len(ch.ID) > 64:
		return nil, errInvalid("id", "Channel id must be 1 to 64 characters.")
	case ch.Type != "web_hook" && ch.Type != "webhook":
		return nil, errInvalid("type", "Invalid channel type: "+ch.Type)
	case len(ch.Token) > 256:
		return nil, errInvalid("token", "Channel token too long.")
	}
	// Google wants HTTPS with a valid certificate; the emulator also takes http
	// (loopback listeners in tests and the demo).
	u, err := url.Parse(ch.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errInvalid("address", "Invalid webhook address.")
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	if old := s.channels[ch.ID]; old != nil {
		return nil, &gerr{code: 400, domain: "global", reason: "channelIdNotUnique", message: "Channel id not unique"}
	}
	now := s.now()
	exp := now.Add(maxChannelTTL)
	if ch.Expiration != "" {
		ms, err := strconv.ParseInt(ch.Expiration, 10, 64)
		if err != nil {
			return nil, errInvalid("expiration", "Invalid expiration.")
		}
		if t := time.UnixMilli(ms); t.Before(exp) {
			exp = t
		}
	}
	if v := ch.Params["ttl"]; v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			if t := now.Add(time.Duration(secs) * time.Second); t.Before(exp) {
				exp = t
			}
		}
	}
	reg := &channel{id: ch.ID, resourceID: randomToken("", 12), token: ch.Token, address: ch.Address, expiration: exp,
		cal: cal, uri: c.base + "/calendar/v3/calendars/" + url.PathEscape(cal.id) + "/events?alt=json"}
	s.channels[ch.ID] = reg
	s.deliverLocked(reg, "sync")
	return jsonResponse(200, Channel{Kind: "api#channel", ID: reg.id, ResourceID: reg.resourceID, ResourceURI: reg.uri,
		Token: reg.token, Expiration: strconv.FormatInt(exp.UnixMilli(), 10)}), nil
}

// channelsStop is channels.stop: 204, or 404 for an unknown channel.
func (c *call) channelsStop() (*response, *gerr) {
	body, e := readBodyMap(c.r, map[string]bool{"id": true, "resourceId": true, "token": true, "kind": true,
		"address": true, "type": true, "expiration": true, "resourceUri": true, "params": true, "payload": true})
	if e != nil {
		return nil, e
	}
	var ch Channel
	if e := decodeInto(body, &ch); e != nil {
		return nil, e
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.channels[ch.ID]
	if reg == nil || reg.resourceID != ch.ResourceID {
		return nil, &gerr{code: 404, domain: "global", reason: "notFound", message: "Channel '" + ch.ID + "' not found for project"}
	}
	if !s.canAccess(c.pr, reg.cal) {
		return nil, errForbidden("Not allowed to stop this channel.")
	}
	delete(s.channels, ch.ID)
	return &response{code: http.StatusNoContent, header: http.Header{}}, nil
}

// notifyLocked queues an "exists" message for every live channel on c.
func (s *Server) notifyLocked(c *calendar) {
	if len(s.channels) == 0 {
		return
	}
	now := s.now()
	for id, ch := range s.channels {
		if !now.Before(ch.expiration) {
			delete(s.channels, id)
			continue
		}
		if ch.cal == c {
			if pushdeliver.Drop(&s.faults.DropNextNotifications, s.faults.DropNotifications, s.rng.Float64) {
				s.notificationsDropped++
				ch.msg++ // the message number moves on, as for a message lost on the way
				continue
			}
			s.deliverLocked(ch, "exists")
		}
	}
}

// ExpireChannels ends every watch channel now, as if its expiration had come.
func (s *Server) ExpireChannels() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireChannelsLocked()
}

func (s *Server) expireChannelsLocked() {
	now := s.now()
	for _, ch := range s.channels {
		if ch.expiration.After(now) {
			ch.expiration = now
		}
	}
}

// Channels returns the ids of the live watch channels, sorted.
func (s *Server) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []string
	for id, ch := range s.channels {
		if now.Before(ch.expiration) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// NotificationsDropped counts the push messages the drop faults ate.
func (s *Server) NotificationsDropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notificationsDropped
}

// deliverLocked queues one message of ch with the next message number.
func (s *Server) deliverLocked(ch *channel, state string) {
	ch.msg++
	h := http.Header{}
	h.Set("X-Goog-Channel-ID", ch.id)
	if ch.token != "" {
		h.Set("X-Goog-Channel-Token", ch.token)
	}
	h.Set("X-Goog-Channel-Expiration", ch.expiration.UTC().Format(time.RFC1123))
	h.Set("X-Goog-Resource-ID", ch.resourceID)
	h.Set("X-Goog-Resource-URI", ch.uri)
	h.Set("X-Goog-Resource-State", state)
	h.Set("X-Goog-Message-Number", strconv.FormatInt(ch.msg, 10))
	if s.push == nil {
		s.push = s.newPushQueue()
	}
	s.push.Enqueue(pushdeliver.Notification{URL: ch.address, Header: h})
}

// maxQueuedPushes bounds the push messages waiting for delivery.
const maxQueuedPushes = 1024

// newPushQueue starts delivery as Google does it: a few attempts with a
// doubling wait, repeated only for answers of 500 and up.
func (s *Server) newPushQueue() *pushdeliver.Queue {
	client := s.opts.PushClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return pushdeliver.New(pushdeliver.Options{
		Client: client, Attempts: 4, Retry: 200 * time.Millisecond,
		Taken:     func(status int) bool { return status < 500 },
		MaxQueued: maxQueuedPushes, Logger: s.log,
		Delivered: func() {
			s.mu.Lock()
			s.stats.notifications++
			s.mu.Unlock()
		},
	})
}
