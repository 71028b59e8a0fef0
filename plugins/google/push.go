package google

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"synchronizer/plugins/sdk"
)

// Push: Google Calendar watch channels (events.watch) on one calendar.
//
//   - Watch opens a web_hook channel with a fresh id, the host's URL as address
//     and the host's secret as token, asking for the host's expiry (Google
//     decides the real one; the reference plans for at most 7 days).
//   - Channels cannot be renewed: with a current channel, Watch opens a new one
//     (overlapping is allowed) and the host stops the old one with Unwatch
//     (channels.stop with the channel id and resource id).
//   - Notification checks X-Goog-Channel-Token against the secret; the "sync"
//     message that opens a channel is acknowledged without waking anything;
//     "exists" and "not_exists" wake the link, whose run asks events.list with
//     its sync token. The message carries no data to trust anyway.

var _ sdk.Pusher = (*Provider)(nil)

// channelID returns a fresh channel id (Google allows at most 64 characters).
func channelID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("channel id: %w", err)
	}
	return "synchronizer-" + hex.EncodeToString(b), nil
}

// Watch implements sdk.Pusher.
func (p *Provider) Watch(ctx context.Context, t sdk.Target, req sdk.WatchRequest) (sdk.Subscription, error) {
	if req.URL == "" || req.Secret == "" || len(req.Secret) > 256 {
		return sdk.Subscription{}, fmt.Errorf("google: watch: a notification URL and a token of at most 256 characters are needed: %w", sdk.ErrInvalidArgument)
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return sdk.Subscription{}, err
	}
	id, err := channelID()
	if err != nil {
		return sdk.Subscription{}, err
	}
	ch := &calendar.Channel{Id: id, Type: "web_hook", Address: req.URL, Token: req.Secret}
	if !req.Expiry.IsZero() {
		ch.Expiration = req.Expiry.UnixMilli()
	}
	var out *calendar.Channel
	// Not repeated on a transient failure: a channel may have been opened.
	err = c.do(ctx, "watch "+c.calendar, onlyRefused, func(ctx context.Context) error {
		var werr error
		out, werr = c.svc.Events.Watch(c.calendar, ch).Context(ctx).Do(googleapi.QuotaUser(c.quota))
		return werr
	})
	if err != nil {
		return sdk.Subscription{}, fmt.Errorf("google: %w", err)
	}
	if out == nil || out.Id == "" || out.ResourceId == "" {
		return sdk.Subscription{}, fmt.Errorf("google: watch %s: the answer names no channel or resource", c.calendar)
	}
	sub := sdk.Subscription{ID: out.Id, ResourceID: out.ResourceId}
	if out.Expiration > 0 {
		sub.Expires = time.UnixMilli(out.Expiration).UTC()
	}
	return sub, nil
}

// Unwatch implements sdk.Pusher: channels.stop; an unknown channel is gone
// already.
func (p *Provider) Unwatch(ctx context.Context, t sdk.Target, sub sdk.Subscription) error {
	if sub.ID == "" {
		return nil
	}
	c, err := p.connect(t, ScopeEvents)
	if err != nil {
		return err
	}
	err = c.do(ctx, "stop channel of "+c.calendar, idempotent, func(ctx context.Context) error {
		return c.svc.Channels.Stop(&calendar.Channel{Id: sub.ID, ResourceId: sub.ResourceID}).Context(ctx).Do(googleapi.QuotaUser(c.quota))
	})
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("google: %w", err)
	}
	return nil
}

func header(h map[string][]string, name string) string {
	if v := h[http.CanonicalHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Notification implements sdk.Pusher.
func (p *Provider) Notification(_ context.Context, _ string, req sdk.NotificationRequest) (sdk.NotificationResult, error) {
	token := header(req.Headers, "X-Goog-Channel-Token")
	if req.Secret == "" || subtle.ConstantTimeCompare([]byte(token), []byte(req.Secret)) != 1 {
		return sdk.NotificationResult{Status: http.StatusForbidden}, nil
	}
	if header(req.Headers, "X-Goog-Channel-ID") == "" {
		return sdk.NotificationResult{Status: http.StatusBadRequest}, nil
	}
	if n := header(req.Headers, "X-Goog-Message-Number"); n != "" {
		if _, err := strconv.ParseUint(n, 10, 64); err != nil {
			return sdk.NotificationResult{Status: http.StatusBadRequest}, nil
		}
	}
	switch strings.ToLower(header(req.Headers, "X-Goog-Resource-State")) {
	case "sync":
		// The channel is open; nothing changed.
		return sdk.NotificationResult{Status: http.StatusOK}, nil
	case "exists", "not_exists":
		return sdk.NotificationResult{Status: http.StatusOK, Wake: true}, nil
	case "":
		return sdk.NotificationResult{Status: http.StatusBadRequest}, nil
	}
	// A state this provider does not know yet: something happened; look.
	return sdk.NotificationResult{Status: http.StatusOK, Wake: true}, nil
}
