package sotest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/pushdeliver"
	"synchronizer/plugins/superoffice/internal/wire"
)

// maxQueued bounds the events waiting for one webhook.
const maxQueued = 10_000

// maxConsecutiveErrors stops a webhook: 3 cycles of 3 attempts.
const maxConsecutiveErrors = 9

type webhook struct {
	id          int
	name        string
	events      []string
	target      string
	secret      string
	state       string
	typ         string
	headers     map[string]string
	description string
	registered  time.Time
	updated     time.Time
	regBy       int
	updBy       int
	calls       int
	errors      int
	consecutive int
	lastError   string
	queue       []*delivery
}

type delivery struct {
	event   string
	eventID string
	body    []byte
}

func (h *webhook) wants(event string) bool {
	for _, e := range h.events {
		if strings.EqualFold(e, event) || e == "*" {
			return true
		}
	}
	return false
}

// webhookRunner delivers queued events in the background: one goroutine,
// started on the first event, stopped by Server.Close.
type webhookRunner struct {
	s       *Server
	once    sync.Once
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	started bool
	mu      sync.Mutex
	ctx     context.Context // cancelled by close
	cancel  context.CancelFunc
}

func newWebhookRunner(s *Server) *webhookRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &webhookRunner{s: s, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, cancel: cancel}
}

func (r *webhookRunner) kick() {
	r.mu.Lock()
	if !r.started {
		select {
		case <-r.stop:
			r.mu.Unlock()
			return
		default:
		}
		r.started = true
		go r.loop()
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *webhookRunner) close() {
	r.once.Do(func() {
		r.mu.Lock()
		started := r.started
		close(r.stop)
		r.cancel()
		r.mu.Unlock()
		if started {
			<-r.done
		}
	})
}

func (r *webhookRunner) loop() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		}
		for {
			h, d := r.next()
			if d == nil {
				break
			}
			if !r.deliver(h, d) {
				return
			}
		}
	}
}

func (r *webhookRunner) next() (int, *delivery) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range sortedKeys(s.st.hooks) {
		h := s.st.hooks[id]
		if h.state == "Active" && len(h.queue) > 0 {
			d := h.queue[0]
			h.queue = h.queue[1:]
			return id, d
		}
	}
	return 0, nil
}

// deliver runs one delivery cycle; it returns false when the runner is stopping.
func (r *webhookRunner) deliver(id int, d *delivery) bool {
	s := r.s
	for attempt, wait := range s.opts.WebhookRetryDelays {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-r.stop:
				t.Stop()
				return false
			case <-t.C:
			}
		}
		s.mu.Lock()
		h := s.st.hooks[id]
		if h == nil || h.state != "Active" {
			s.mu.Unlock()
			return true
		}
		target, secret, headers := h.target, h.secret, h.headers
		s.st.hookDeliveries++
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
		err := post(ctx, s.opts.WebhookClient, target, secret, headers, d.event, d.eventID, attempt, d.body, false)
		cancel()
		s.mu.Lock()
		h = s.st.hooks[id]
		if h == nil {
			s.mu.Unlock()
			return true
		}
		h.calls++
		if err == nil {
			h.consecutive = 0
			s.mu.Unlock()
			return true
		}
		s.st.hookFailures++
		h.errors++
		h.consecutive++
		h.lastError = err.Error()
		if h.consecutive >= maxConsecutiveErrors {
			h.state = "TooManyErrors"
			h.queue = append(h.queue, d)
			s.mu.Unlock()
			s.logger.Warn("webhook stopped after too many errors", "webhook", h.name, "error", err)
			return true
		}
		s.mu.Unlock()
	}
	// The cycle failed: the event goes to the back of the queue.
	s.mu.Lock()
	if h := s.st.hooks[id]; h != nil {
		h.queue = append(h.queue, d)
	}
	s.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

// post sends one webhook request: only a 200 counts as delivered.
func post(ctx context.Context, client *http.Client, target, secret string, headers map[string]string, event, eventID string, retry int, body []byte, test bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "NetServer-Webhook/11.10")
	req.Header.Set("X-SuperOffice-Event", event)
	req.Header.Set("X-SuperOffice-EventId", eventID)
	req.Header.Set("X-SuperOffice-Retry", strconv.Itoa(retry))
	if test {
		req.Header.Set("X-Hook-Test", "true")
	}
	if secret != "" {
		req.Header.Set("X-SuperOffice-Signature", Sign(secret, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", target, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d", target, resp.StatusCode)
	}
	return nil
}

// Sign is the X-SuperOffice-Signature of a body: base64(HMAC-SHA256(secret, body)).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) newEventID() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(s.st.rng.Uint32())
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) enqueueLocked(event string, pk int, entity string, by int, changes []string, fields, values map[string]any) {
	if len(s.st.hooks) == 0 {
		return
	}
	ctxID := s.opts.ContextID
	if s.opts.Onsite {
		ctxID = "Default"
	}
	queued := false
	for _, id := range sortedKeys(s.st.hooks) {
		h := s.st.hooks[id]
		if !h.wants(event) || h.state != "Active" {
			continue
		}
		if f := &s.st.faults; pushdeliver.Drop(&f.DropNextNotifications, f.DropNotifications, s.st.rng.Float64) {
			s.st.hookDropped++
			continue
		}
		eid := s.newEventID()
		p := wire.WebhookPayload{EventId: eid, Timestamp: s.now().UTC().Format("2006-01-02T15:04:05.00Z"),
			Changes: changes, Event: event, PrimaryKey: pk, Entity: entity, ContextIdentifier: ctxID,
			ChangedByAssociateId: by, WebhookName: h.name, FieldValues: fields, Values: values}
		if p.Changes == nil {
			p.Changes = []string{}
		}
		body, _ := json.Marshal(p)
		if len(h.queue) >= maxQueued {
			h.queue = h.queue[1:] // a stopped receiver loses the oldest events first
		}
		h.queue = append(h.queue, &delivery{event: event, eventID: eid, body: body})
		queued = true
	}
	if queued {
		s.hooks.kick()
	}
}

func (s *Server) apptFields(a *appt) map[string]any {
	return map[string]any{"associate_id": a.assoc, "mother_id": a.mother, "type": a.typ, "status": a.status,
		"private": a.private, "do_by": fmtLocal(a.start, zone{loc: s.loc}), "endDate": fmtLocal(a.end, zone{loc: s.loc}),
		"updated": fmtUTC(a.updated, zone{loc: time.UTC}), "contact_id": 0, "person_id": a.personID,
		"project_id": 0, "sale_id": 0, "task_idx": a.task, "recurrenceRuleId": a.rule, "modified_appointment_fields": 0}
}

// notifyLocked queues the webhook events of a write.
func (s *Server) notifyLocked(log changeLog) {
	for _, a := range log.created {
		if s.st.appts[a.id] == nil {
			continue
		}
		s.enqueueLocked("activity.created", a.id, "activity", a.regBy, []string{"appointment_id"}, s.apptFields(a), nil)
	}
	for _, ch := range log.changed {
		if s.st.appts[ch.cur.id] == nil {
			continue
		}
		s.enqueueLocked("activity.changed", ch.cur.id, "activity", ch.cur.updBy, changedColumns(ch.old, ch.cur), s.apptFields(ch.cur), nil)
	}
	for _, a := range log.deleted {
		vals := map[string]any{"appointment_id": a.id, "contact_id": 0, "person_id": a.personID, "associate_id": a.assoc}
		s.enqueueLocked("activity.deleted", a.id, "activity", a.updBy, []string{}, s.apptFields(a), vals)
	}
}

func (s *Server) notifyAssociateLocked(event string, a *associate) {
	s.enqueueLocked(event, a.id, "associate", 1, []string{"name"},
		map[string]any{"associate_id": a.id, "name": a.name, "type": a.kind, "deleted": a.deleted}, nil)
}

func (s *Server) hookCarrier(h *webhook, base string) wire.Webhook {
	z := zone{loc: time.UTC}
	out := wire.Webhook{WebhookId: wire.FlexInt(h.id), Name: h.name, Events: append([]string{}, h.events...),
		TargetUrl: h.target, Secret: h.secret, State: h.state, Type: h.typ, Headers: h.headers,
		Properties: map[string]any{}, Registered: fmtUTC(h.registered, z), Updated: fmtUTC(h.updated, z),
		Description: h.description, NotifyVia: "None", NotifyWhen: "None", TotalCalls: h.calls, TotalErrors: h.errors,
		ConsecutiveErrors: h.consecutive, LastError: h.lastError}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	if base != "" {
		out.Links_ = map[string]string{"Self": base + "/v1/Webhook/" + strconv.Itoa(h.id)}
	}
	return out
}

// validTarget allows HTTPS anywhere and plain HTTP to loopback only (the real
// service demands HTTPS with a valid certificate).
func validTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("TargetUrl %q is not an absolute URL", target)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "127.0.0.1" || h == "localhost" || h == "::1" {
			return nil
		}
	}
	return fmt.Errorf("TargetUrl must use HTTPS")
}

func (c *call) testWebhook(target, secret string, headers map[string]string, name string) error {
	c.s.mu.Lock()
	eid := c.s.newEventID()
	c.s.mu.Unlock()
	p := wire.WebhookPayload{EventId: eid, Timestamp: c.s.now().UTC().Format("2006-01-02T15:04:05.00Z"), Changes: []string{},
		Event: "test", PrimaryKey: 0, Entity: "test", ContextIdentifier: c.s.opts.ContextID,
		ChangedByAssociateId: c.me.id, WebhookName: name, FieldValues: map[string]any{}}
	body, _ := json.Marshal(p)
	ctx, cancel := context.WithTimeout(c.r.Context(), 10*time.Second)
	defer cancel()
	return post(ctx, c.s.opts.WebhookClient, target, secret, headers, "test", eid, 0, body, true)
}

func (c *call) webhookDefault() {
	c.json(http.StatusOK, wire.Webhook{Events: []string{}, State: "Active", Type: "webhook", Headers: map[string]string{},
		Properties: map[string]any{}, Registered: wire.ZeroDate, Updated: wire.ZeroDate, NotifyVia: "None", NotifyWhen: "None"})
}

func (c *call) webhookList() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := []wire.Webhook{}
	for _, id := range sortedKeys(c.s.st.hooks) {
		h := c.s.st.hooks[id]
		if f := c.q.Get("namefilter"); f != "" && !strings.Contains(strings.ToLower(h.name), strings.ToLower(f)) {
			continue
		}
		if f := c.q.Get("eventfilter"); f != "" && !h.wants(f) {
			continue
		}
		if f := c.q.Get("statusfilter"); f != "" && !strings.EqualFold(f, h.state) {
			continue
		}
		out = append(out, c.s.hookCarrier(h, ""))
	}
	c.json(http.StatusOK, out)
}

func (c *call) webhookPost() {
	var in wire.Webhook
	if !c.body(&in, true) {
		return
	}
	if err := validTarget(in.TargetUrl); err != nil {
		c.err(http.StatusBadRequest, "SoValidationException", err.Error())
		return
	}
	if len(in.Events) == 0 {
		c.err(http.StatusBadRequest, "SoValidationException", "Events must not be empty")
		return
	}
	// Saving sends a test event that must be answered 200.
	if err := c.testWebhook(in.TargetUrl, in.Secret, in.Headers, in.Name); err != nil {
		c.err(http.StatusBadRequest, "WebhookTestFailed", "The webhook test call failed: "+err.Error())
		return
	}
	now := c.s.now()
	c.s.mu.Lock()
	h := &webhook{id: c.s.st.nextHook, name: in.Name, events: in.Events, target: in.TargetUrl, secret: in.Secret,
		state: "Active", typ: in.Type, headers: in.Headers, description: in.Description,
		registered: now, updated: now, regBy: c.me.id, updBy: c.me.id}
	if h.typ == "" {
		h.typ = "webhook"
	}
	if canonical(in.State, "Stopped") != "" {
		h.state = "Stopped"
	}
	c.s.st.nextHook++
	c.s.st.hooks[h.id] = h
	out := c.s.hookCarrier(h, c.base)
	c.s.mu.Unlock()
	c.json(http.StatusOK, out)
}

func (c *call) webhookTest() {
	var in wire.Webhook
	if !c.body(&in, true) {
		return
	}
	if err := validTarget(in.TargetUrl); err != nil {
		c.json(http.StatusOK, wire.WebhookResult{Success: false, Message: err.Error()})
		return
	}
	if err := c.testWebhook(in.TargetUrl, in.Secret, in.Headers, in.Name); err != nil {
		c.json(http.StatusOK, wire.WebhookResult{Success: false, Message: err.Error()})
		return
	}
	c.json(http.StatusOK, wire.WebhookResult{Success: true, Message: "OK"})
}

func (c *call) hook() (*webhook, bool) {
	id, ok := c.pathInt("id")
	if !ok {
		return nil, false
	}
	h := c.s.st.hooks[id]
	if h == nil {
		c.notFound("Webhook", id)
		return nil, false
	}
	return h, true
}

func (c *call) webhookGet() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if h, ok := c.hook(); ok {
		c.json(http.StatusOK, c.s.hookCarrier(h, c.base))
	}
}

func (c *call) webhookPut() {
	var in wire.Webhook
	if !c.body(&in, true) {
		return
	}
	if in.TargetUrl != "" {
		if err := validTarget(in.TargetUrl); err != nil {
			c.err(http.StatusBadRequest, "SoValidationException", err.Error())
			return
		}
	}
	c.s.mu.Lock()
	h, ok := c.hook()
	if !ok {
		c.s.mu.Unlock()
		return
	}
	if in.Name != "" {
		h.name = in.Name
	}
	if len(in.Events) > 0 {
		h.events = in.Events
	}
	if in.TargetUrl != "" {
		h.target = in.TargetUrl
	}
	h.secret = in.Secret
	if in.Headers != nil {
		h.headers = in.Headers
	}
	resume := false
	if st := canonical(in.State, "Active", "Stopped"); st != "" {
		resume = st == "Active" && h.state != "Active"
		h.state = st
		if st == "Active" {
			h.consecutive = 0
		}
	}
	h.updated, h.updBy = c.s.now(), c.me.id
	out := c.s.hookCarrier(h, c.base)
	pending := len(h.queue) > 0
	c.s.mu.Unlock()
	if resume && pending {
		c.s.hooks.kick()
	}
	c.json(http.StatusOK, out)
}

func (c *call) webhookDelete() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if h, ok := c.hook(); ok {
		delete(c.s.st.hooks, h.id)
		c.w.WriteHeader(http.StatusNoContent)
	}
}

func (c *call) webhookLastError() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if h, ok := c.hook(); ok {
		c.json(http.StatusOK, h.lastError)
	}
}

// StopWebhooks puts every webhook in state ("Stopped" or "TooManyErrors"): it
// delivers nothing until a PUT sets it Active again.
func (s *Server) StopWebhooks(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.st.hooks {
		h.state = state
	}
}

// WebhookInfo is what Webhooks reports about one webhook.
type WebhookInfo struct {
	ID        int
	Name      string
	State     string
	TargetURL string
}

// Webhooks lists the registered webhooks by id.
func (s *Server) Webhooks() []WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []WebhookInfo
	for _, id := range sortedKeys(s.st.hooks) {
		h := s.st.hooks[id]
		out = append(out, WebhookInfo{ID: h.id, Name: h.name, State: h.state, TargetURL: h.target})
	}
	return out
}

// NotificationsDropped counts the webhook events the drop faults ate.
func (s *Server) NotificationsDropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.hookDropped
}
