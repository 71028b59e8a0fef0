package graphtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"synchronizer/plugins/internal/pushdeliver"
)

// Change notifications: POST /subscriptions validates the notificationUrl (and the
// lifecycleNotificationUrl) with the validationToken handshake before answering 201;
// afterwards each create/update/delete in the subscribed mailbox is POSTed there,
// redelivered with backoff until the receiver answers 2xx.

const maxSubscriptionMinutes = 10080

type subscription struct {
	id              string
	resource        string
	changeTypes     []string
	notificationURL string
	lifecycleURL    string
	clientState     string
	expires         time.Time
	appID           string
	creatorID       string
	user            *user
	cal             *calendar // nil = every calendar
	immutable       bool
}

func (s *Server) subscriptionJSON(sub *subscription) map[string]any {
	var life any
	if sub.lifecycleURL != "" {
		life = sub.lifecycleURL
	}
	return map[string]any{
		"id":                        sub.id,
		"resource":                  sub.resource,
		"applicationId":             sub.appID,
		"changeType":                strings.Join(sub.changeTypes, ","),
		"clientState":               sub.clientState,
		"notificationUrl":           sub.notificationURL,
		"lifecycleNotificationUrl":  life,
		"expirationDateTime":        sub.expires.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"creatorId":                 sub.creatorID,
		"includeResourceData":       false,
		"latestSupportedTlsVersion": "v1_2",
		"notificationContentType":   nil,
	}
}

// parseSubscriptionResource resolves "/users/{id}/events", "me/events",
// "/users/{id}/calendars/{cal}/events" and the /calendar/events form.
func (s *Server) parseSubscriptionResource(p *principal, res string) (*user, *calendar, *apiError) {
	bad := errf(http.StatusBadRequest, "ExtensionError", "Operation: Create; Exception: [Status Code: BadRequest; Reason: The resource '%s' is not supported for subscriptions.]", res)
	segs := splitPath(res)
	if len(segs) == 0 {
		return nil, nil, bad
	}
	var u *user
	switch strings.ToLower(segs[0]) {
	case "me":
		u = p.user
		segs = segs[1:]
	case "users":
		if len(segs) < 2 {
			return nil, nil, bad
		}
		u = s.lookupUserLocked(segs[1])
		segs = segs[2:]
	}
	if u == nil {
		return nil, nil, bad
	}
	lower := make([]string, len(segs))
	for i, sg := range segs {
		lower[i] = strings.ToLower(sg)
	}
	switch {
	case slices.Equal(lower, []string{"events"}):
		return u, nil, nil
	case slices.Equal(lower, []string{"calendar", "events"}):
		return u, u.calendars[0], nil
	case len(lower) == 3 && lower[0] == "calendars" && lower[2] == "events":
		for _, c := range u.calendars {
			if c.id == segs[1] {
				return u, c, nil
			}
		}
	}
	return nil, nil, bad
}

// validateEndpoint runs the validationToken handshake against a notification URL.
func (s *Server) validateEndpoint(ctx context.Context, target string) error {
	s.mu.Lock()
	token := "Validation: Testing client application reachability for subscription Request-Id: " + s.randomToken(16)
	s.mu.Unlock()
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("not an absolute http(s) URL")
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	if !strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/plain") {
		return fmt.Errorf("answered Content-Type %q, not text/plain", resp.Header.Get("Content-Type"))
	}
	if string(b) != token {
		return fmt.Errorf("did not echo the validation token")
	}
	return nil
}

func (s *Server) createSubscription(rc *reqCtx) (int, any, *apiError) {
	body, err := readJSONBody(rc.r)
	if err != nil {
		return 0, nil, err
	}
	var req struct {
		ChangeType               string `json:"changeType"`
		NotificationURL          string `json:"notificationUrl"`
		LifecycleNotificationURL string `json:"lifecycleNotificationUrl"`
		Resource                 string `json:"resource"`
		ExpirationDateTime       string `json:"expirationDateTime"`
		ClientState              string `json:"clientState"`
		IncludeResourceData      bool   `json:"includeResourceData"`
	}
	b, _ := json.Marshal(body)
	if e := json.Unmarshal(b, &req); e != nil {
		return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "The subscription is not valid.")
	}
	var types []string
	for _, t := range strings.Split(req.ChangeType, ",") {
		t = strings.TrimSpace(t)
		if t != "created" && t != "updated" && t != "deleted" {
			return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "changeType '%s' is not valid: use created, updated or deleted.", t)
		}
		types = append(types, t)
	}
	if len(req.ClientState) > 128 {
		return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "clientState can be at most 128 characters.")
	}
	if req.IncludeResourceData {
		return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "includeResourceData needs an encryption certificate, which this service does not support.")
	}
	exp, perr := time.Parse(time.RFC3339Nano, req.ExpirationDateTime)
	now := s.now()
	if perr != nil || !exp.After(now) {
		return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "expirationDateTime must be a date-time in the future.")
	}
	if exp.After(now.Add(maxSubscriptionMinutes * time.Minute)) {
		return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "Subscription expiration can only be %d minutes in the future.", maxSubscriptionMinutes)
	}
	s.mu.Lock()
	u, cal, aerr := s.parseSubscriptionResource(rc.prin, req.Resource)
	if aerr == nil {
		aerr = s.mailboxAccess(rc, u, false)
	}
	count := 0
	for _, sub := range s.subs {
		if u != nil && sub.user == u {
			count++
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return 0, nil, aerr
	}
	if count >= 1000 {
		return 0, nil, errf(http.StatusForbidden, "ExtensionError", "The mailbox already has the maximum of 1000 subscriptions.")
	}
	for _, target := range []string{req.NotificationURL, req.LifecycleNotificationURL} {
		if target == "" {
			continue
		}
		if e := s.validateEndpoint(rc.r.Context(), target); e != nil {
			return 0, nil, errf(http.StatusBadRequest, "ValidationError", "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. (%v)", e)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subSeq++
	creator := ""
	if rc.prin.user != nil {
		creator = rc.prin.user.ID
	}
	sub := &subscription{
		id: s.guid("subscription", s.subSeq), resource: req.Resource, changeTypes: types,
		notificationURL: req.NotificationURL, lifecycleURL: req.LifecycleNotificationURL,
		clientState: req.ClientState, expires: exp, appID: rc.prin.appID, creatorID: creator,
		user: u, cal: cal, immutable: rc.prefer.immutableIDs,
	}
	s.subs[sub.id] = sub
	out := s.subscriptionJSON(sub)
	out["@odata.context"] = rc.base + "/v1.0/$metadata#subscriptions/$entity"
	return http.StatusCreated, out, nil
}

// routeSubscriptions serves GET /subscriptions and /subscriptions/{id} (GET, PATCH,
// DELETE) and POST /subscriptions/{id}/reauthorize; the caller holds s.mu.
func (s *Server) routeSubscriptions(rc *reqCtx, rest []string) (int, any, *apiError) {
	m := rc.r.Method
	if len(rest) == 0 {
		if m != http.MethodGet {
			return 0, nil, methodNotAllowed()
		}
		var vals []any
		ids := make([]string, 0, len(s.subs))
		for id := range s.subs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if sub := s.subs[id]; !s.now().Before(sub.expires) {
				delete(s.subs, id)
				continue
			}
			if sub := s.subs[id]; rc.prin.admin || sub.appID == rc.prin.appID {
				vals = append(vals, s.subscriptionJSON(sub))
			}
		}
		return http.StatusOK, map[string]any{"@odata.context": rc.base + "/v1.0/$metadata#subscriptions", "value": nonNilAny(vals)}, nil
	}
	sub := s.subs[rest[0]]
	if sub != nil && !s.now().Before(sub.expires) {
		// Graph deletes a subscription when it expires.
		delete(s.subs, sub.id)
		sub = nil
	}
	if sub == nil || !(rc.prin.admin || sub.appID == rc.prin.appID) {
		return 0, nil, errf(http.StatusNotFound, "ResourceNotFound", "The object was not found.")
	}
	if len(rest) == 2 && rest[1] == "reauthorize" && m == http.MethodPost {
		return http.StatusNoContent, nil, nil
	}
	if len(rest) != 1 {
		return 0, nil, badSegment(rest)
	}
	switch m {
	case http.MethodGet:
		return http.StatusOK, s.subscriptionJSON(sub), nil
	case http.MethodDelete:
		delete(s.subs, sub.id)
		return http.StatusNoContent, nil, nil
	case http.MethodPatch:
		body, err := readJSONBody(rc.r)
		if err != nil {
			return 0, nil, err
		}
		var v string
		if raw, ok := body["expirationDateTime"]; ok {
			_ = json.Unmarshal(raw, &v)
			exp, perr := time.Parse(time.RFC3339Nano, v)
			now := s.now()
			if perr != nil || !exp.After(now) {
				return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "expirationDateTime must be a date-time in the future.")
			}
			if exp.After(now.Add(maxSubscriptionMinutes * time.Minute)) {
				return 0, nil, errf(http.StatusBadRequest, "InvalidRequest", "Subscription expiration can only be %d minutes in the future.", maxSubscriptionMinutes)
			}
			sub.expires = exp
		}
		return http.StatusOK, s.subscriptionJSON(sub), nil
	}
	return 0, nil, methodNotAllowed()
}

func nonNilAny(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// notifyLocked queues the notifications a change in e's mailbox triggers.
func (s *Server) notifyLocked(e *event, change string) {
	if len(s.subs) == 0 {
		return
	}
	owner := e.cal.owner
	now := s.now()
	for _, sub := range s.subs {
		if sub.user != owner || (sub.cal != nil && sub.cal != e.cal) || !slices.Contains(sub.changeTypes, change) || now.After(sub.expires) {
			continue
		}
		id := s.encodeItemID(itemRef{key: e.key}, sub.immutable, owner.gen)
		res := "Users/" + owner.ID + "/Events/" + id
		payload := map[string]any{"value": []any{map[string]any{
			"subscriptionId":                 sub.id,
			"subscriptionExpirationDateTime": sub.expires.UTC().Format(time.RFC3339),
			"changeType":                     change,
			"resource":                       res,
			"resourceData": map[string]any{
				"@odata.type": "#Microsoft.Graph.Event",
				"@odata.id":   res,
				"@odata.etag": etagOf(s.changeKey(e.key, e.version)),
				"id":          id,
			},
			"clientState": sub.clientState,
			"tenantId":    s.tenantID,
		}}}
		if pushdeliver.Drop(&s.faults.DropNextNotifications, s.faults.DropNotifications, s.rng.Float64) {
			s.notificationsDropped++
			continue
		}
		b, _ := json.Marshal(payload)
		s.notifyURL(sub.notificationURL, b)
	}
}

// ExpireSubscriptions ends every subscription now, as if their expiry had come.
func (s *Server) ExpireSubscriptions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireSubscriptionsLocked()
}

func (s *Server) expireSubscriptionsLocked() {
	now := s.now()
	for _, sub := range s.subs {
		if sub.expires.After(now) {
			sub.expires = now
		}
	}
}

// Subscriptions returns the ids of the live subscriptions, sorted.
func (s *Server) Subscriptions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []string
	for id, sub := range s.subs {
		if now.Before(sub.expires) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// NotificationsDropped counts the change notifications the drop faults ate.
func (s *Server) NotificationsDropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notificationsDropped
}

// Lifecycle sends a lifecycle notification (reauthorizationRequired,
// subscriptionRemoved or missed) for a subscription; subscriptionRemoved also deletes it.
func (s *Server) Lifecycle(subscriptionID, event string) error {
	switch event {
	case "reauthorizationRequired", "subscriptionRemoved", "missed":
	default:
		return fmt.Errorf("lifecycle: unknown event %q", event)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subscriptionID]
	if sub == nil {
		return fmt.Errorf("lifecycle: no subscription %q", subscriptionID)
	}
	if sub.lifecycleURL == "" {
		return fmt.Errorf("lifecycle: subscription %q has no lifecycleNotificationUrl", subscriptionID)
	}
	b, _ := json.Marshal(map[string]any{"value": []any{map[string]any{
		"subscriptionId":                 sub.id,
		"subscriptionExpirationDateTime": sub.expires.UTC().Format(time.RFC3339),
		"tenantId":                       s.tenantID,
		"clientState":                    sub.clientState,
		"lifecycleEvent":                 event,
	}}})
	s.notifyURL(sub.lifecycleURL, b)
	if event == "subscriptionRemoved" {
		delete(s.subs, sub.id)
	}
	return nil
}

// maxQueuedNotifications bounds the notifications waiting for delivery.
const maxQueuedNotifications = 10000

// notifyURL queues one notification body for target.
func (s *Server) notifyURL(target string, body []byte) {
	s.notifier.Enqueue(pushdeliver.Notification{URL: target, Body: body,
		Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}})
}
