package state

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// onFile reads a link's row as the file holds it, past what waits in memory.
func onFile(t *testing.T, b *Bolt, id LinkID) (Link, bool) {
	t.Helper()
	var l Link
	found := false
	err := b.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketLinks).Get([]byte(id.String()))
		if raw == nil {
			return nil
		}
		var err error
		l, err = b.decodeLink(raw)
		found = err == nil
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, found
}

// A run that changes only the end of a link's last run leaves it in memory for
// a while; everything else about a link is on file when UpdateLink returns,
// and takes what waits with it.
func TestRunEndWaitsInMemory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(dir, Options{Cipher: testCipher(t, 1), Timeout: 200 * time.Millisecond, Now: func() time.Time { return t0 }, Logger: quiet, RunFlush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	jane, bob := LinkID{"p", "jane"}, LinkID{"p", "bob"}
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	ran := func(id LinkID, at time.Time) {
		t.Helper()
		if _, err := b.UpdateLink(ctx, id, func(l *Link) error { l.State, l.LastSync, l.LastError = Active, at, ""; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	ran(jane, t1) // a new row: written
	if l, ok := onFile(t, b, jane); !ok || !l.LastSync.Equal(t1) || l.State != Active {
		t.Fatalf("new row on file: %+v %v", l, ok)
	}
	ran(jane, t2) // only the run's end: waits
	if l, _ := onFile(t, b, jane); !l.LastSync.Equal(t1) {
		t.Fatalf("the run's end was written at once: %v", l.LastSync)
	}
	if l, err := b.Link(ctx, jane); err != nil || !l.LastSync.Equal(t2) {
		t.Fatalf("Link = %v, %v; want the last run's end %v", l.LastSync, err, t2)
	}
	if ls, err := b.Links(ctx); err != nil || len(ls) != 1 || !ls[0].LastSync.Equal(t2) {
		t.Fatalf("Links = %+v, %v", ls, err)
	}

	// Anything else is written before UpdateLink returns, with what waits.
	if _, err := b.UpdateLink(ctx, bob, func(l *Link) error { l.State, l.LastError = Error, "boom"; return nil }); err != nil {
		t.Fatal(err)
	}
	if l, _ := onFile(t, b, jane); !l.LastSync.Equal(t2) {
		t.Fatalf("a write left jane's run end in memory: %v", l.LastSync)
	}
	if l, ok := onFile(t, b, bob); !ok || l.State != Error || l.LastError != "boom" {
		t.Fatalf("bob on file: %+v", l)
	}
	for _, change := range []func(*Link){
		func(l *Link) { l.Items = 42 },
		func(l *Link) { l.LastError = "3 items could not be written" },
		func(l *Link) { l.State = NeedsConsent },
	} {
		if _, err := b.UpdateLink(ctx, jane, func(l *Link) error { change(l); return nil }); err != nil {
			t.Fatal(err)
		}
		mem, _ := b.Link(ctx, jane)
		if file, _ := onFile(t, b, jane); file != mem {
			t.Fatalf("a change beyond the run's end waits in memory:\nfile   %+v\nmemory %+v", file, mem)
		}
	}

	// Close writes what waits; the next start reads it.
	ran(bob, t3)
	if _, err := b.UpdateLink(ctx, bob, func(l *Link) error { l.LastSync = t3.Add(time.Second); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir, testCipher(t, 1))
	defer b.Close()
	if l, err := b.Link(ctx, bob); err != nil || !l.LastSync.Equal(t3.Add(time.Second)) {
		t.Fatalf("after a restart: %v, %v", l.LastSync, err)
	}
	if l, err := b.Link(ctx, jane); err != nil || l.Items != 42 || l.State != NeedsConsent {
		t.Fatalf("after a restart: %+v, %v", l, err)
	}
}

// What waits is written within RunFlush, and a deleted link stays deleted.
func TestRunEndWrittenSoon(t *testing.T) {
	ctx := context.Background()
	b, err := Open(t.TempDir(), Options{Cipher: testCipher(t, 1), Timeout: 200 * time.Millisecond, Now: func() time.Time { return t0 }, Logger: quiet, RunFlush: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ids := []LinkID{{"p", "a"}, {"p", "b"}}
	ran := func(id LinkID) {
		t.Helper()
		if _, err := b.UpdateLink(ctx, id, func(l *Link) error { l.LastSync = t0.Add(time.Hour); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if _, err := b.UpdateLink(ctx, id, func(l *Link) error { l.State = Active; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	ran(ids[1])
	if err := b.DeleteLink(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	ran(ids[0])
	if l, _ := onFile(t, b, ids[0]); !l.LastSync.IsZero() {
		t.Fatalf("written at once: %v", l.LastSync)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := onFile(t, b, ids[0])
		if l.LastSync.Equal(t0.Add(time.Hour)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run's end was not written within 5s (RunFlush 10ms): %v", l.LastSync)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := onFile(t, b, ids[1]); ok {
		t.Fatal("a deleted link came back")
	}
	if _, err := b.Link(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted link: %v", err)
	}
	if ls, err := b.Links(ctx); err != nil || len(ls) != 1 || ls[0].ID != ids[0] {
		t.Fatalf("Links = %+v, %v", ls, err)
	}
}
