package providertest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/memory"
	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
)

// memoryHarness is the suite's harness for the in-memory provider; wrap lets a
// test put a deliberately broken provider in front of it.
func memoryHarness(t *testing.T, wrap func(sdk.Provider) sdk.Provider) providertest.Harness {
	mem := memory.New()
	mem.RequireToken("acme", "good")
	var inner sdk.Provider = mem
	if wrap != nil {
		inner = wrap(mem)
	}
	var mu sync.Mutex
	n := 0
	return providertest.Harness{
		Provider: providertest.OverGRPC(t, inner),
		Instance: "acme",
		Settings: map[string]string{"user_licenses": "10"},
		NewTarget: func(*testing.T) sdk.Target {
			mu.Lock()
			defer mu.Unlock()
			n++
			return sdk.Target{Instance: "acme", Account: fmt.Sprintf("user%d@example.test", n),
				Credential: sdk.Credential{Type: "bearer", Token: "good"}}
		},
		Attendees: []sdk.Attendee{
			{Email: "jane@example.test", Name: "Jane", Type: sdk.AttendeeRequired, Response: sdk.ResponseAccepted},
			{Email: "room1@example.test", Name: "Room 1", Type: sdk.AttendeeResource, Response: sdk.ResponseAccepted},
		},
		Category:      "Meeting",
		OutOfBand:     memoryOutOfBand{mem},
		ExpireCursors: func(*testing.T) { mem.ExpireCursors() },
		Throttle: func(_ *testing.T, tg sdk.Target) (time.Duration, func()) {
			mem.SetHook(func(_ context.Context, _ string, t sdk.Target, phase string) error {
				if phase == "before" && t.Account == tg.Account {
					return &sdk.ThrottledError{RetryAfter: 7 * time.Second, Reason: "test"}
				}
				return nil
			})
			return 7 * time.Second, func() { mem.SetHook(nil) }
		},
		BadCredential: func(_ *testing.T, tg sdk.Target) sdk.Target {
			tg.Credential.Token = "revoked"
			return tg
		},
		Skip: map[string]string{
			"BadResponses": "the memory provider keeps its calendars in process: no service answers it, so none can be broken",
		},
	}
}

type memoryOutOfBand struct{ p *memory.Provider }

func (m memoryOutOfBand) Put(_ *testing.T, tg sdk.Target, ev sdk.Event) sdk.Event {
	return m.p.CalendarOf(tg).Put(ev)
}

func (m memoryOutOfBand) Remove(t *testing.T, tg sdk.Target, id string) {
	if !m.p.CalendarOf(tg).Remove(id) {
		t.Fatalf("out-of-band remove: no item %s", id)
	}
}

func TestMemoryProviderConforms(t *testing.T) {
	providertest.Run(t, memoryHarness(t, nil))
}

// brokenEnv selects a broken provider for TestBrokenProviderHelper.
const brokenEnv = "PROVIDERTEST_BROKEN"

// broken is the memory provider with one deliberate bug.
type broken struct {
	sdk.Provider
	mode string
}

func (b broken) ListChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	ch, err := b.Provider.ListChanges(ctx, t, req)
	switch {
	case b.mode == "swallows-expiry" && errors.Is(err, sdk.ErrFullSyncRequired):
		req.Cursor = ""
		return b.Provider.ListChanges(ctx, t, req)
	case b.mode == "drops-removed":
		ch.Removed = nil
	case b.mode == "loses-location":
		for i := range ch.Events {
			ch.Events[i].Location = ""
		}
	}
	return ch, b.untyped(err)
}

func (b broken) Get(ctx context.Context, t sdk.Target, id string) (sdk.Event, error) {
	ev, err := b.Provider.Get(ctx, t, id)
	if b.mode == "loses-location" {
		ev.Location = ""
	}
	return ev, b.untyped(err)
}

func (b broken) Create(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	if loc, err := time.LoadLocation(ev.TimeZone); b.mode == "naive-times" && err == nil && !ev.AllDay {
		// Keeps the local wall clock as if it were UTC.
		wall := func(x time.Time) time.Time {
			x = x.In(loc)
			return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), 0, 0, time.UTC)
		}
		ev.Start, ev.End = wall(ev.Start), wall(ev.End)
	}
	return b.Provider.Create(ctx, t, ev)
}

func (b broken) Update(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	if b.mode == "ignores-precondition" {
		ev.Version = ""
	}
	return b.Provider.Update(ctx, t, ev)
}

func (b broken) Delete(ctx context.Context, t sdk.Target, id, version string) error {
	if b.mode == "ignores-precondition" {
		version = ""
	}
	return b.Provider.Delete(ctx, t, id, version)
}

func (b broken) untyped(err error) error {
	if err != nil && b.mode == "untyped-throttle" && errors.Is(err, sdk.ErrThrottled) {
		return errors.New(err.Error())
	}
	return err
}

// TestBrokenProviderHelper runs the suite against the broken provider named in
// PROVIDERTEST_BROKEN; TestBrokenProvidersFailTheSuite runs it in a child process
// and expects it to fail.
func TestBrokenProviderHelper(t *testing.T) {
	mode := os.Getenv(brokenEnv)
	if mode == "" {
		t.Skip("run by TestBrokenProvidersFailTheSuite")
	}
	h := memoryHarness(t, func(p sdk.Provider) sdk.Provider {
		return broken{Provider: p, mode: mode}
	})
	// The memory provider makes no HTTP requests, so it reports no request records:
	// an HTTP provider that forgot sdk.InstrumentedTransport.
	h.MakesHTTPRequests = mode == "unrecorded"
	providertest.Run(t, h)
}

// TestBrokenProvidersFailTheSuite is the suite's own negative test: each
// deliberately broken provider must fail the check that guards against its bug.
func TestBrokenProvidersFailTheSuite(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode, check string
		// passes is a check that must still pass.
		passes string
	}{
		{"ignores-precondition", "Precondition", ""},
		{"drops-removed", "Incremental", ""},
		{"loses-location", "RoundTrip/single", ""},
		{"swallows-expiry", "ExpiredCursor", ""},
		{"untyped-throttle", "Throttled", ""},
		{"naive-times", "RoundTrip/dst-europe", ""},
		// Every check that calls the service wants request records; Info calls none.
		{"unrecorded", "RoundTrip/update", "Info"},
		{"unrecorded", "Paging", "Info"},
	}
	for _, tc := range tests {
		t.Run(tc.mode+"/"+tc.check, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestBrokenProviderHelper$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tc.mode)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a provider that %s (err %v):\n%s", tc.mode, err, tail(out))
			}
			if want := "--- FAIL: TestBrokenProviderHelper/" + tc.check + " "; !strings.Contains(string(out), want) {
				t.Fatalf("the suite did not fail %s for a provider that %s:\n%s", tc.check, tc.mode, tail(out))
			}
			if tc.passes != "" {
				if want := "--- PASS: TestBrokenProviderHelper/" + tc.passes + " "; !strings.Contains(string(out), want) {
					t.Fatalf("the suite failed %s for a provider that %s, which that check does not care about:\n%s", tc.passes, tc.mode, tail(out))
				}
			}
		})
	}
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}
