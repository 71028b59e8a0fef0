package state

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type pushStore interface {
	Store
	PushSubscriptions(ctx context.Context) ([]PushSubscription, error)
	PutPushSubscription(ctx context.Context, s PushSubscription) error
	DeletePushSubscription(ctx context.Context, token string) error
}

func TestPushSubscriptions(t *testing.T) {
	testStores(t, func(t *testing.T, s Store) {
		ps := s.(pushStore)
		ctx := context.Background()
		if got, err := ps.PushSubscriptions(ctx); err != nil || len(got) != 0 {
			t.Fatalf("fresh store: %v, %v", got, err)
		}
		a := PushSubscription{Token: "tok-b", Provider: "m365", Instance: "acme365", Account: "u1",
			URL: "https://sync.example.test/notify/m365/tok-b", Secret: "client-state", ID: "sub1",
			Expires: t0.Add(72 * time.Hour), Extra: map[string]string{"k": "v"}, Obtained: t0,
			Links: []LinkID{{"p", "jane"}}}
		b := PushSubscription{Token: "tok-a", Provider: "superoffice", Instance: "acme", URL: "https://x/notify/superoffice/tok-a", Secret: "hook"}
		for _, sub := range []PushSubscription{a, b} {
			if err := ps.PutPushSubscription(ctx, sub); err != nil {
				t.Fatal(err)
			}
		}
		a.Extra["k"] = "changed after put" // the store keeps its own copy
		got, err := ps.PushSubscriptions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a.Extra["k"] = "v"
		eq := cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })
		if d := cmp.Diff([]PushSubscription{b, a}, got, eq); d != "" {
			t.Fatalf("subscriptions (-want +got):\n%s", d)
		}
		a.ID = "sub2"
		if err := ps.PutPushSubscription(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := ps.DeletePushSubscription(ctx, "tok-a"); err != nil {
			t.Fatal(err)
		}
		if err := ps.DeletePushSubscription(ctx, "absent"); err != nil {
			t.Fatalf("deleting an absent subscription: %v", err)
		}
		got, _ = ps.PushSubscriptions(ctx)
		if len(got) != 1 || got[0].ID != "sub2" {
			t.Fatalf("after replace and delete: %+v", got)
		}
		if err := ps.PutPushSubscription(ctx, PushSubscription{Provider: "x"}); err == nil {
			t.Fatal("a subscription without a token was stored")
		}
	})
}

func TestPushSecretSealedAndKept(t *testing.T) {
	dir := t.TempDir()
	c := testCipher(t, 3)
	s := openTest(t, dir, c)
	ctx := context.Background()
	sub := PushSubscription{Token: "tok", Provider: "google", Instance: "gw", Account: "cal@x", URL: "https://x/notify/google/tok",
		Secret: "channel-token-that-must-not-leak", ID: "ch1", ResourceID: "r1"}
	if err := s.PutPushSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(sub.Secret)) {
		t.Fatal("the subscription secret is stored in clear")
	}
	s = openTest(t, dir, c)
	defer s.Close()
	got, err := s.PushSubscriptions(ctx)
	if err != nil || len(got) != 1 || got[0].Secret != sub.Secret || got[0].ResourceID != "r1" {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
}
