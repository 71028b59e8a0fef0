package state

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testStores runs fn against every Store implementation.
func testStores(t *testing.T, fn func(t *testing.T, s Store)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		s := NewMemory(func() time.Time { return t0 })
		defer s.Close()
		fn(t, s)
	})
	t.Run("bolt", func(t *testing.T) {
		t.Parallel()
		s := openTest(t, t.TempDir(), testCipher(t, 1))
		defer s.Close()
		fn(t, s)
	})
}

func testCipher(t *testing.T, seed byte) *Cipher {
	t.Helper()
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = seed + byte(i)
	}
	c, err := NewCipher(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openTest(t *testing.T, dir string, c *Cipher) *Bolt {
	t.Helper()
	s, err := Open(dir, Options{Cipher: c, Timeout: 200 * time.Millisecond, Now: func() time.Time { return t0 }, Logger: quiet})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestLinks(t *testing.T) {
	testStores(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		id := LinkID{"acme-365", "jane"}
		if _, err := s.Link(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("absent link: err = %v, want ErrNotFound", err)
		}
		l, err := s.UpdateLink(ctx, id, func(l *Link) error {
			l.State = PendingActivation
			l.ActivationURL = "https://sync.example.com/activate/x"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := Link{ID: id, State: PendingActivation, ActivationURL: "https://sync.example.com/activate/x", Changed: t0}
		if diff := cmp.Diff(want, l); diff != "" {
			t.Fatalf("created link (-want +got):\n%s", diff)
		}
		// An error from fn stores nothing.
		boom := errors.New("boom")
		if _, err := s.UpdateLink(ctx, id, func(l *Link) error { l.State = Active; return boom }); !errors.Is(err, boom) {
			t.Fatalf("update err = %v", err)
		}
		// An invalid state is refused.
		if _, err := s.UpdateLink(ctx, id, func(l *Link) error { l.State = "sleeping"; return nil }); err == nil {
			t.Fatal("invalid state accepted")
		}
		got, err := s.Link(ctx, id)
		if err != nil || got.State != PendingActivation {
			t.Fatalf("after failed updates: %+v, %v", got, err)
		}
		if _, err := s.UpdateLink(ctx, LinkID{"acme-365", "bob"}, func(l *Link) error { l.State = Error; l.LastError = "x"; return nil }); err != nil {
			t.Fatal(err)
		}
		links, err := s.Links(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 2 || links[0].ID.Link != "bob" || links[1].ID.Link != "jane" {
			t.Fatalf("links not sorted by id: %+v", links)
		}
		if err := s.PutToken(ctx, LinkToken(id), Token{AccessToken: "a"}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteLink(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Token(ctx, LinkToken(id)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("token of a deleted link: %v", err)
		}
		if err := s.DeleteLink(ctx, id); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
	})
}

func TestTokensRoundTripAndCopy(t *testing.T) {
	testStores(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		tok := Token{AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer", Expiry: t0.Add(time.Hour),
			Scope: "Calendars.ReadWrite", Account: "jane@acme.example", Extra: map[string]string{"system_token": "st"}, Updated: t0}
		key := ConnectionToken("acme")
		if err := s.PutToken(ctx, key, tok); err != nil {
			t.Fatal(err)
		}
		tok.Extra["system_token"] = "changed after put"
		got, err := s.Token(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Extra["system_token"] != "st" || got.RefreshToken != "rt" || !got.Expiry.Equal(t0.Add(time.Hour)) {
			t.Fatalf("token = %+v", got)
		}
		got.Extra["system_token"] = "changed after get"
		again, _ := s.Token(ctx, key)
		if again.Extra["system_token"] != "st" {
			t.Fatal("store shares its map with callers")
		}
		if err := s.DeleteToken(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Token(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted token: %v", err)
		}
	})
}

func TestTenants(t *testing.T) {
	testStores(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if _, err := s.Tenant(ctx, "acme"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("absent tenant: %v", err)
		}
		want := Tenant{Name: "acme", UserLicenses: 50, CheckedAt: t0}
		if err := s.PutTenant(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Tenant(ctx, "acme")
		if err != nil || !got.CheckedAt.Equal(t0) || got.UserLicenses != 50 {
			t.Fatalf("tenant = %+v, %v", got, err)
		}
	})
}

func TestActivations(t *testing.T) {
	testStores(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		jane := LinkID{"p", "jane"}
		a := Activation{Purpose: "user", Link: jane, Created: t0, Expires: t0.Add(7 * 24 * time.Hour)}
		if err := s.PutActivation(ctx, "secret-1", a); err != nil {
			t.Fatal(err)
		}
		if err := s.PutActivation(ctx, "secret-admin", Activation{Purpose: "admin", Connection: "acme", Created: t0, Expires: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			secret string
			at     time.Time
			want   error
		}{
			{"unknown secret", "nope", t0, ErrNotFound},
			{"valid", "secret-1", t0.Add(time.Hour), nil},
			{"expired", "secret-1", t0.Add(7 * 24 * time.Hour), ErrActivationExpired},
		}
		for _, c := range cases {
			_, err := s.Activation(ctx, c.secret, c.at)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		// Exactly one of many concurrent consumers wins.
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.ConsumeActivation(ctx, "secret-1", t0.Add(time.Minute)); err == nil {
					wins.Add(1)
				} else if !errors.Is(err, ErrActivationUsed) {
					t.Errorf("consume: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d consumers won, want exactly 1", wins.Load())
		}
		if _, err := s.Activation(ctx, "secret-1", t0.Add(2*time.Minute)); !errors.Is(err, ErrActivationUsed) {
			t.Fatalf("used activation: %v", err)
		}
		// Revoking a link's activations leaves the admin's.
		if err := s.PutActivation(ctx, "secret-2", a); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeActivations(ctx, jane, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Activation(ctx, "secret-2", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoked activation: %v", err)
		}
		if _, err := s.Activation(ctx, "secret-admin", t0); err != nil {
			t.Fatalf("admin activation lost: %v", err)
		}
		n, err := s.PruneActivations(ctx, t0.Add(2*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("prune = %d, %v; want 1", n, err)
		}
	})
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, err := NewSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret(nil)
	if a == b || len(a) != 43 {
		t.Fatalf("secrets %q %q: want distinct 43-char (256-bit) strings", a, b)
	}
}

func TestCancelledContext(t *testing.T) {
	testStores(t, func(t *testing.T, s Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Links(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}
