package push

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/superoffice/sotest"
)

// A change in any of the three services reaches the other side through its
// notification alone: the scheduler's clock never moves, so no poll runs.
func TestChangesTravelByPush(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	subs := w.r.PushSubscriptions()
	var providers []string
	for _, s := range subs {
		providers = append(providers, s.Provider+"/"+s.Account)
	}
	if got := strings.Join(providers, " "); got != "google/"+gcaltest.UserEmail(2)+" m365/"+subs[1].Account+" superoffice/" {
		t.Fatalf("subscriptions %s", got)
	}
	if len(w.graph.Subscriptions()) != 1 || len(w.gcal.Channels()) != 1 || len(w.so.Webhooks()) != 1 || w.so.Webhooks()[0].State != "Active" {
		t.Fatalf("at the services: graph %v, google %v, superoffice %+v", w.graph.Subscriptions(), w.gcal.Channels(), w.so.Webhooks())
	}

	w.outlookCreate("typed in Outlook", 9)
	waitFor(t, "the Outlook change in USER1's diary", func() bool { return w.has("emu", w.soAccount("USER1"), "typed in Outlook") })

	w.googleCreate("typed in Google Calendar", 10)
	waitFor(t, "the Google change in USER2's diary", func() bool { return w.has("emu", w.soAccount("USER2"), "typed in Google Calendar") })

	// One webhook for the tenant wakes only the link of the associate that changed.
	w.diaryCreate("USER1", "typed in SuperOffice for Outlook", 11)
	waitFor(t, "USER1's diary change in Outlook", func() bool {
		return w.has("emu365", "user1@m365.test", "typed in SuperOffice for Outlook")
	})
	w.diaryCreate("USER2", "typed in SuperOffice for Google", 12)
	waitFor(t, "USER2's diary change in Google", func() bool {
		return w.has("emugw", gcaltest.UserEmail(2), "typed in SuperOffice for Google")
	})

	for _, st := range w.r.Status() {
		if st.Failures > 0 || st.LastError != "" {
			t.Errorf("%s/%s: %+v", st.Profile, st.Link, st)
		}
	}
}

// With every notification lost, or every subscription gone at the services,
// the poll at the interval still brings each change across; the next renewal
// makes new subscriptions and push works again.
func TestPollingStillConverges(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()

	w.post(w.grURL+"/_emulator/faults", "", map[string]any{"drop_notifications": 1})
	w.gcal.SetFaults(gcaltest.Faults{DropNotifications: 1})
	w.so.SetFaults(sotest.Faults{DropNotifications: 1})
	w.outlookCreate("lost notification, Outlook", 9)
	w.googleCreate("lost notification, Google", 10)
	w.diaryCreate("USER1", "lost notification, SuperOffice", 11)
	w.clock.Advance(70 * time.Minute)
	waitFor(t, "the polled changes", func() bool {
		return w.has("emu", w.soAccount("USER1"), "lost notification, Outlook") &&
			w.has("emu", w.soAccount("USER2"), "lost notification, Google") &&
			w.has("emu365", "user1@m365.test", "lost notification, SuperOffice")
	})
	if w.graph.NotificationsDropped() == 0 || w.gcal.NotificationsDropped() == 0 || w.so.NotificationsDropped() == 0 {
		t.Fatalf("nothing was dropped: graph %d, google %d, superoffice %d",
			w.graph.NotificationsDropped(), w.gcal.NotificationsDropped(), w.so.NotificationsDropped())
	}
	w.post(w.grURL+"/_emulator/faults", "", map[string]any{})
	w.gcal.SetFaults(gcaltest.Faults{})
	w.so.SetFaults(sotest.Faults{})

	// The services end every subscription: still polled.
	w.graph.ExpireSubscriptions()
	w.gcal.ExpireChannels()
	w.so.StopWebhooks("Stopped")
	w.outlookCreate("subscription gone, Outlook", 13)
	w.diaryCreate("USER2", "webhook stopped, SuperOffice", 14)
	w.clock.Advance(70 * time.Minute)
	waitFor(t, "the polled changes after the subscriptions ended", func() bool {
		return w.has("emu", w.soAccount("USER1"), "subscription gone, Outlook") &&
			w.has("emugw", gcaltest.UserEmail(2), "webhook stopped, SuperOffice")
	})

	// The manager's next check repairs or replaces them: the webhook is active
	// again, Graph and Google have new ones, and push works without a poll.
	before := map[string]string{}
	for _, s := range w.r.PushSubscriptions() {
		before[s.Provider] = s.ID
	}
	w.clock.Advance(50 * time.Hour)
	waitFor(t, "subscriptions repaired", func() bool {
		hooks := w.so.Webhooks()
		return len(w.graph.Subscriptions()) == 1 && len(w.gcal.Channels()) == 1 && len(hooks) == 1 && hooks[0].State == "Active"
	})
	w.googleCreate("pushed again, Google", 15)
	waitFor(t, "push after the repair", func() bool { return w.has("emu", w.soAccount("USER2"), "pushed again, Google") })
}

// Graph's lifecycle notifications: subscriptionRemoved makes a new
// subscription; reauthorizationRequired renews it at once.
func TestGraphLifecycleNotifications(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	id := w.graph.Subscriptions()[0]
	patches := func() int { return w.graph.Stats().Requests["PATCH /v1.0/subscriptions/{id}"] }
	if err := w.graph.Lifecycle(id, "reauthorizationRequired"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a renewal", func() bool { return patches() == 1 })
	if err := w.graph.Lifecycle(id, "subscriptionRemoved"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new subscription", func() bool {
		ids := w.graph.Subscriptions()
		return len(ids) == 1 && ids[0] != id
	})
	w.outlookCreate("after the removal", 9)
	waitFor(t, "push on the new subscription", func() bool { return w.has("emu", w.soAccount("USER1"), "after the removal") })
}

// Requests that do not carry the subscription's secret are refused by every
// provider's verdict, and an unknown path costs nothing.
func TestForgedNotificationsAreRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start()
	paths := map[string]string{}
	for _, s := range w.r.PushSubscriptions() {
		paths[s.Provider] = s.Path
	}
	cases := []struct {
		name, path, body string
		header           map[string]string
		want             int
	}{
		{"graph, wrong clientState", paths["m365"], `{"value":[{"subscriptionId":"x","clientState":"guess","changeType":"updated"}]}`, nil, http.StatusForbidden},
		{"google, wrong token", paths["google"], "", map[string]string{"X-Goog-Channel-ID": "c", "X-Goog-Channel-Token": "guess", "X-Goog-Resource-State": "exists"}, http.StatusForbidden},
		{"superoffice, wrong signature", paths["superoffice"], `{"Event":"activity.changed","FieldValues":{"associate_id":1}}`,
			map[string]string{"X-SuperOffice-Signature": sotest.Sign("guess", []byte(`{"Event":"activity.changed","FieldValues":{"associate_id":1}}`))}, http.StatusForbidden},
		{"unknown token", "/notify/m365/0123456789abcdef0123456789abcdef0123456789a", `{}`, nil, http.StatusNotFound},
		{"another provider's path", strings.Replace(paths["m365"], "/m365/", "/google/", 1), `{}`, nil, http.StatusNotFound},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, w.notify.URL+c.path, strings.NewReader(c.body))
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	// The Graph validation handshake is answered as Graph wants it.
	resp, err := http.Post(w.notify.URL+paths["m365"]+"?validationToken=hello%20there", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64)
	n, _ := resp.Body.Read(b)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b[:n]) != "hello there" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("validation answer: %d %q %q", resp.StatusCode, b[:n], resp.Header.Get("Content-Type"))
	}
}
