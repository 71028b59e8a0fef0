package gcaltest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	gcal "google.golang.org/api/calendar/v3"
)

// pushLog keeps the push messages a receiver got.
type pushLog struct {
	mu  sync.Mutex
	got []http.Header
}

func (l *pushLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.got = append(l.got, r.Header.Clone())
	l.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (l *pushLog) states(t *testing.T, n int) []string {
	t.Helper()
	for range 1000 {
		l.mu.Lock()
		if len(l.got) >= n {
			var out []string
			for _, h := range l.got {
				out = append(out, h.Get("X-Goog-Resource-State")+"#"+h.Get("X-Goog-Message-Number"))
			}
			l.mu.Unlock()
			return out
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d push messages arrived", n)
	return nil
}

func TestWatchChannelsDropsAndExpiry(t *testing.T) {
	f := newFixture(t, Options{})
	rv := &pushLog{}
	hook := httptest.NewServer(rv)
	defer hook.Close()
	svc := f.svc(f.userToken(UserEmail(1)))
	ch, err := svc.Events.Watch(UserEmail(1), &gcal.Channel{Id: "chan-1", Type: "web_hook", Address: hook.URL, Token: "tok"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if ch.ResourceId == "" || ch.Expiration == 0 {
		t.Fatalf("channel %+v", ch)
	}
	if got := rv.states(t, 1); got[0] != "sync#1" {
		t.Fatalf("first message %v, want the sync message", got)
	}
	rv.mu.Lock()
	first := rv.got[0]
	rv.mu.Unlock()
	if first.Get("X-Goog-Channel-ID") != "chan-1" || first.Get("X-Goog-Channel-Token") != "tok" || first.Get("X-Goog-Resource-ID") != ch.ResourceId {
		t.Fatalf("headers %v", first)
	}

	f.s.SetFaults(Faults{DropNextNotifications: 1})
	if _, err := svc.Events.Insert(UserEmail(1), timed("dropped", "2024-05-07T10:00:00Z", "2024-05-07T11:00:00Z")).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Events.Insert(UserEmail(1), timed("sent", "2024-05-07T12:00:00Z", "2024-05-07T13:00:00Z")).Do(); err != nil {
		t.Fatal(err)
	}
	if got := rv.states(t, 2); got[1] != "exists#3" || f.s.NotificationsDropped() != 1 {
		t.Fatalf("messages %v, dropped %d: want exists#3 after one lost", got, f.s.NotificationsDropped())
	}

	f.s.SetFaults(Faults{ExpireChannels: true})
	if ids := f.s.Channels(); len(ids) != 0 {
		t.Fatalf("live channels after expiry: %v", ids)
	}
	if _, err := svc.Events.Insert(UserEmail(1), timed("after expiry", "2024-05-07T14:00:00Z", "2024-05-07T15:00:00Z")).Do(); err != nil {
		t.Fatal(err)
	}
	ch2, err := svc.Events.Watch(UserEmail(1), &gcal.Channel{Id: "chan-2", Type: "web_hook", Address: hook.URL, Token: "tok2"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	got := rv.states(t, 3)
	rv.mu.Lock()
	last := rv.got[2]
	rv.mu.Unlock()
	if got[2] != "sync#1" || last.Get("X-Goog-Channel-ID") != "chan-2" {
		t.Fatalf("the expired channel sent a message: %v", got)
	}
	if err := svc.Channels.Stop(&gcal.Channel{Id: "chan-2", ResourceId: ch2.ResourceId}).Do(); err != nil {
		t.Fatal(err)
	}
	if ids := f.s.Channels(); len(ids) != 0 {
		t.Fatalf("channels after stop: %v", ids)
	}
}
