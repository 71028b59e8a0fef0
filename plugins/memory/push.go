package memory

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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/sdk"
)

// Push notifications, shaped like a small real service so the host's push code
// can be tested against it in-process:
//
//   - Watch subscribes to one calendar (the target's). Before it answers, it
//     POSTs a validation request to the URL (?validationToken=T) that must be
//     answered 200 text/plain with T, as Microsoft Graph does. A subscription
//     lives at most MaxSubscriptionLifetime (or the setting
//     "push_max_lifetime"); Watch with a live Current extends it, with an
//     expired or unknown one it makes a new one.
//   - Every write to a watched calendar, through the provider or through a
//     Calendar handle, POSTs {"subscription","account","sequence"} to the URL with
//     X-Memory-Signature: base64(HMAC-SHA256(secret, body)). Deliveries run in
//     their own goroutines, one attempt each.
//   - DropNotifications, ExpireSubscriptions, Lifecycle and PutUnannounced let a
//     test lose notifications, subscriptions and changes.

// MaxSubscriptionLifetime is how long a subscription lives at most by default.
const MaxSubscriptionLifetime = 24 * time.Hour

// SignatureHeader carries a notification's signature.
const SignatureHeader = "X-Memory-Signature"

type pushState struct {
	subs   map[string]*memSub // by id
	seq    int
	drop   int // notifications still to drop
	client *http.Client
	wg     sync.WaitGroup
	stats  PushStats
}

type memSub struct {
	id      string
	key     calKey
	url     string
	secret  string
	expires time.Time
}

// PushStats counts notifications.
type PushStats struct {
	Sent, Delivered, Failed, Dropped int
}

type notice struct {
	Subscription string `json:"subscription"`
	Account      string `json:"account,omitempty"`
	Sequence     uint64 `json:"sequence,omitempty"`
	Lifecycle    string `json:"lifecycle,omitempty"`
}

// SetPushClient replaces the HTTP client that delivers notifications and
// validation requests (nil: one with a 5 s timeout).
func (p *Provider) SetPushClient(c *http.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.push.client = c
}

// DropNotifications makes the next n notifications vanish, as lost ones do.
func (p *Provider) DropNotifications(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.push.drop = n
}

// ExpireSubscriptions ends every subscription now: no more notifications until
// the host makes new ones.
func (p *Provider) ExpireSubscriptions() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for _, s := range p.push.subs {
		s.expires = now
	}
}

// Subscriptions returns the ids of the live subscriptions, sorted.
func (p *Provider) Subscriptions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var out []string
	for id, s := range p.push.subs {
		if now.Before(s.expires) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Lifecycle sends a lifecycle notification for a subscription: "renew",
// "recreate" (which also ends it) or "missed".
func (p *Provider) Lifecycle(id, event string) error {
	switch event {
	case sdk.LifecycleRenew, sdk.LifecycleRecreate, sdk.LifecycleMissed:
	default:
		return fmt.Errorf("memory lifecycle: unknown event %q", event)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.push.subs[id]
	if s == nil {
		return fmt.Errorf("memory lifecycle: no subscription %q", id)
	}
	p.sendLocked(s, notice{Subscription: s.id, Lifecycle: event})
	if event == sdk.LifecycleRecreate {
		delete(p.push.subs, id)
	}
	return nil
}

// WaitNotifications waits until every notification sent so far was delivered or
// failed.
func (p *Provider) WaitNotifications() { p.push.wg.Wait() }

// PushStats returns the notification counters.
func (p *Provider) PushStats() PushStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.push.stats
}

// PutUnannounced stores ev like Calendar.Put, except that the change reaches
// neither the incremental feed nor any subscription: a change a service lost.
// Only a full read finds it.
func (c *Calendar) PutUnannounced(ev sdk.Event) sdk.Event {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	cal := c.p.cal(c.key)
	var old uint64
	if s, ok := cal.events[ev.ID]; ok && ev.ID != "" {
		old = s.seq
	}
	changed := cal.changed
	cal.changed = nil
	out := cal.put(ev, c.p.now())
	cal.changed = changed
	cal.events[out.ID].seq = old
	return out
}

// changedLocked notifies the subscriptions of calendar k. p.mu is held.
func (p *Provider) changedLocked(k calKey) {
	if len(p.push.subs) == 0 {
		return
	}
	now := p.now()
	seq := p.calendars[k].seq
	ids := make([]string, 0, len(p.push.subs))
	for id := range p.push.subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := p.push.subs[id]
		if s.key == k && now.Before(s.expires) {
			p.sendLocked(s, notice{Subscription: s.id, Account: k.account, Sequence: seq})
		}
	}
}

// sendLocked delivers one notice in the background. p.mu is held.
func (p *Provider) sendLocked(s *memSub, n notice) {
	if p.push.drop > 0 {
		p.push.drop--
		p.push.stats.Dropped++
		return
	}
	p.push.stats.Sent++
	body, _ := json.Marshal(n)
	client := p.pushClient()
	target, secret := s.url, s.secret
	p.push.wg.Add(1)
	go func() {
		defer p.push.wg.Done()
		ok := deliver(client, target, secret, body)
		p.mu.Lock()
		if ok {
			p.push.stats.Delivered++
		} else {
			p.push.stats.Failed++
		}
		p.mu.Unlock()
	}()
}

func (p *Provider) pushClient() *http.Client {
	if p.push.client != nil {
		return p.push.client
	}
	return &http.Client{Timeout: 5 * time.Second}
}

// Sign is the X-Memory-Signature of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func deliver(client *http.Client, target, secret string, body []byte) bool {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// validateURL runs the validation handshake against target.
func validateURL(ctx context.Context, client *http.Client, target, token string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("notification URL %q is not an absolute http(s) URL: %w", target, sdk.ErrInvalidArgument)
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return fmt.Errorf("validation request: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("validation request to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || string(b) != token {
		return fmt.Errorf("validation request to %s: answered %d %q without the token: %w", u.Host, resp.StatusCode, resp.Header.Get("Content-Type"), sdk.ErrInvalidArgument)
	}
	return nil
}

func (p *Provider) maxLifetime(instance string) time.Duration {
	if v := p.settings[instance]["push_max_lifetime"]; v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return MaxSubscriptionLifetime
}

// Watch implements sdk.Pusher.
func (p *Provider) Watch(ctx context.Context, t sdk.Target, req sdk.WatchRequest) (sdk.Subscription, error) {
	var out sdk.Subscription
	err := p.call(ctx, "Watch", t, true, func() error {
		if req.Secret == "" {
			return fmt.Errorf("memory watch: no secret: %w", sdk.ErrInvalidArgument)
		}
		k := calKey{t.Instance, t.Account, t.Calendar}
		p.mu.Lock()
		now := p.now()
		limit := now.Add(p.maxLifetime(t.Instance))
		exp := req.Expiry
		if exp.IsZero() || exp.After(limit) {
			exp = limit
		}
		if cur := p.push.subs[req.Current.ID]; cur != nil && cur.key == k && now.Before(cur.expires) {
			cur.expires, cur.url, cur.secret = exp, req.URL, req.Secret
			out = sdk.Subscription{ID: cur.id, Expires: exp}
			p.mu.Unlock()
			return nil
		}
		p.push.seq++
		token := "v" + strconv.Itoa(p.push.seq)
		client := p.pushClient()
		p.mu.Unlock()
		if err := validateURL(ctx, client, req.URL, token); err != nil {
			return fmt.Errorf("memory watch %s: %w", t.Account, err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.push.subs == nil {
			p.push.subs = map[string]*memSub{}
		}
		s := &memSub{id: fmt.Sprintf("memsub-%d", p.push.seq), key: k, url: req.URL, secret: req.Secret, expires: exp}
		p.cal(k) // the calendar must exist to be watched
		p.push.subs[s.id] = s
		out = sdk.Subscription{ID: s.id, Expires: exp}
		return nil
	})
	return out, err
}

// Unwatch implements sdk.Pusher.
func (p *Provider) Unwatch(ctx context.Context, t sdk.Target, sub sdk.Subscription) error {
	return p.call(ctx, "Unwatch", t, true, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.push.subs, sub.ID)
		return nil
	})
}

// Notification implements sdk.Pusher: the validation handshake is echoed; a
// notice must carry the subscription secret's signature.
func (p *Provider) Notification(ctx context.Context, instance string, req sdk.NotificationRequest) (sdk.NotificationResult, error) {
	var out sdk.NotificationResult
	err := p.call(ctx, "Notification", sdk.Target{Instance: instance}, false, func() error {
		q, _ := url.ParseQuery(req.Query)
		if tok := q.Get("validationToken"); tok != "" {
			out = sdk.NotificationResult{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(tok)}
			return nil
		}
		sig := ""
		if v := req.Headers[SignatureHeader]; len(v) > 0 {
			sig = v[0]
		}
		if req.Secret == "" || !hmac.Equal([]byte(sig), []byte(Sign(req.Secret, req.Body))) {
			out = sdk.NotificationResult{Status: http.StatusForbidden}
			return nil
		}
		var n notice
		if err := json.Unmarshal(req.Body, &n); err != nil || n.Subscription == "" {
			out = sdk.NotificationResult{Status: http.StatusBadRequest}
			return nil
		}
		out = sdk.NotificationResult{Status: http.StatusAccepted, Wake: n.Lifecycle == "" || n.Lifecycle == sdk.LifecycleMissed, Lifecycle: n.Lifecycle}
		return nil
	})
	return out, err
}
