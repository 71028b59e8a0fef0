package push

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// PathPrefix is where notifications arrive on the consent listener.
const PathPrefix = "/notify/"

// Handler serves POST /notify/{provider}/{token}. Unknown paths get 404 and
// cost no plugin call; the plugin's verdict on a known one is answered as is.
func (m *Manager) Handler() http.Handler {
	return http.HandlerFunc(m.serveNotification)
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func (m *Manager) serveNotification(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	provider, token, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || provider == "" || token == "" || strings.Contains(token, "/") {
		plain(w, http.StatusNotFound, "not found\n")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		plain(w, http.StatusMethodNotAllowed, "method not allowed\n")
		return
	}
	m.mu.Lock()
	loaded := m.loaded
	e := m.tokens[token]
	var rec state.PushSubscription
	found := false
	if e != nil && e.provider == provider {
		rec, found = e.record(token)
	}
	m.mu.Unlock()
	if !loaded {
		// The stored subscriptions are not read yet: the service retries.
		w.Header().Set("Retry-After", "5")
		plain(w, http.StatusServiceUnavailable, "starting\n")
		return
	}
	if !found {
		m.log.Debug("notification for an unknown subscription refused", "provider", provider)
		plain(w, http.StatusNotFound, "not found\n")
		return
	}
	select {
	case m.inflight <- struct{}{}:
		defer func() { <-m.inflight }()
	default:
		w.Header().Set("Retry-After", "1")
		plain(w, http.StatusServiceUnavailable, "busy\n")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.opts.MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			plain(w, http.StatusRequestEntityTooLarge, "body too large\n")
			return
		}
		plain(w, http.StatusBadRequest, "cannot read the body\n")
		return
	}
	p, err := m.opts.Pushers(provider)
	if err != nil {
		m.log.Warn("notification not judged: no plugin", "provider", provider, "err", err)
		plain(w, http.StatusServiceUnavailable, "unavailable\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.opts.NotifyTimeout)
	defer cancel()
	res, err := p.Notification(ctx, e.instance, sdk.NotificationRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Headers: r.Header.Clone(), Body: body,
		Secret: rec.Secret, Subscription: subscriptionOf(rec), Account: rec.Account,
	})
	if err != nil {
		// 5xx: the services retry later.
		m.log.Warn("notification not judged", "provider", provider, "instance", e.instance, "err", redact(err, rec))
		w.Header().Set("Retry-After", "5")
		plain(w, http.StatusServiceUnavailable, "unavailable\n")
		return
	}
	code := res.Status
	if code == 0 {
		code = http.StatusAccepted
	}
	if code < 200 || code > 599 {
		code = http.StatusInternalServerError
	}
	if res.ContentType != "" {
		w.Header().Set("Content-Type", res.ContentType)
	}
	w.WriteHeader(code)
	_, _ = w.Write(res.Body)
	if code >= 300 {
		m.log.Info("notification refused", "provider", provider, "instance", e.instance, "account", rec.Account, "status", code)
		return
	}
	m.act(e, rec, res)
}

// record returns the record of token among e's current, pending and replaced
// ones. m.mu is held.
func (e *entry) record(token string) (state.PushSubscription, bool) {
	if e.rec.Token == token {
		return e.rec, true
	}
	if e.pending != nil && e.pending.Token == token {
		return *e.pending, true
	}
	for _, r := range e.stale {
		if r.Token == token {
			return r, true
		}
	}
	return state.PushSubscription{}, false
}

// act wakes the links a verdict concerns and schedules lifecycle work.
func (m *Manager) act(e *entry, rec state.PushSubscription, res sdk.NotificationResult) {
	m.mu.Lock()
	var links []state.LinkID
	if res.Wake || res.Lifecycle == sdk.LifecycleMissed {
		links = m.wakeListLocked(e, rec, res.Accounts)
	}
	switch res.Lifecycle {
	case sdk.LifecycleRenew:
		if e.want == "" {
			e.want = sdk.LifecycleRenew
		}
	case sdk.LifecycleRecreate:
		e.want = sdk.LifecycleRecreate
	}
	m.mu.Unlock()
	if res.Lifecycle != "" {
		m.log.Info("push lifecycle notification", "provider", e.provider, "instance", e.instance, "account", e.account, "event", res.Lifecycle)
		m.wakeLoop()
	}
	for _, id := range links {
		m.opts.Wake(id)
	}
}

// wakeListLocked returns the links to wake for a notification on e: the links
// bound to it (on an instance-wide subscription, only those on accounts), or,
// before any is bound in this process, the links stored with the subscription.
func (m *Manager) wakeListLocked(e *entry, rec state.PushSubscription, accounts []string) []state.LinkID {
	var out []state.LinkID
	for id := range m.byKey[e.key] {
		if e.account == "" && len(accounts) > 0 && !slices.Contains(accounts, m.binds[id][e.key].Account) {
			continue
		}
		out = append(out, id)
	}
	if len(m.byKey[e.key]) == 0 {
		for _, id := range rec.Links {
			if !m.retainKnown || m.retained[id] {
				out = append(out, id)
			}
		}
	}
	sortLinks(out)
	return out
}
