package gcaltest

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"
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
			if s.dropNotificationLocked() {
				ch.msg++ // the message number moves on, as for a message lost on the way
				continue
			}
			s.deliverLocked(ch, "exists")
		}
	}
}

// dropNotificationLocked draws whether an "exists" message is lost (faults
// drop_next_notifications and drop_notifications).
func (s *Server) dropNotificationLocked() bool {
	if s.faults.DropNextNotifications > 0 {
		s.faults.DropNextNotifications--
		s.notificationsDropped++
		return true
	}
	if s.faults.DropNotifications > 0 && s.rng.Float64() < s.faults.DropNotifications {
		s.notificationsDropped++
		return true
	}
	return false
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

// notification is one push message.
type notification struct {
	address string
	header  http.Header
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
		s.push = newPusher(s.opts.PushClient, s)
	}
	s.push.enqueue(notification{address: ch.address, header: h})
}

// pusher delivers notifications from one goroutine, with a bounded queue (a full
// queue drops messages, as real notifications can be lost) and a few retries on
// 5xx answers.
type pusher struct {
	client *http.Client
	s      *Server
	queue  chan notification
	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func newPusher(client *http.Client, s *Server) *pusher {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pusher{client: client, s: s, queue: make(chan notification, 1024), ctx: ctx, cancel: cancel}
	p.done.Add(1)
	go p.run()
	return p
}

func (p *pusher) enqueue(n notification) {
	select {
	case p.queue <- n:
	default:
		p.s.log.Warn("push queue full; notification dropped", "address", n.address)
	}
}

func (p *pusher) stop() {
	p.cancel()
	p.done.Wait()
}

func (p *pusher) run() {
	defer p.done.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case n := <-p.queue:
			p.send(n)
		}
	}
}

func (p *pusher) send(n notification) {
	backoff := 200 * time.Millisecond
	for attempt := 0; attempt < 4; attempt++ {
		req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, n.address, nil)
		if err != nil {
			return
		}
		req.Header = n.header.Clone()
		resp, err := p.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				p.s.mu.Lock()
				p.s.stats.notifications++
				p.s.mu.Unlock()
				return
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff *= 2
	}
}
