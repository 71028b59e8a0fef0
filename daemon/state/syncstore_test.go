package state

import (
	"context"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
)

// boltSyncStore opens a fresh state file and returns its engine store. Tests that
// commit thousands of times skip fsync (NoSync), which changes durability, not
// what a transaction does.
func boltSyncStore(t *testing.T, noSync bool) func() engine.Store {
	return func() engine.Store {
		b := openTest(t, t.TempDir(), testCipher(t, 1))
		b.db.NoSync = noSync
		t.Cleanup(func() { b.Close() })
		return b.SyncStore()
	}
}

func TestSyncStoreConformance(t *testing.T) {
	enginetest.StoreConformance(t, boltSyncStore(t, false))
}

// TestSyncStoreModel runs the engine's randomized model test with injected
// crashes against the bbolt store (SYNC_SOAK_SEEDS, SYNC_SEED as there).
func TestSyncStoreModel(t *testing.T) {
	enginetest.Model(t, boltSyncStore(t, true))
}

func TestSyncStoreCrashAtEveryStep(t *testing.T) {
	enginetest.CrashAtEveryStep(t, boltSyncStore(t, true))
}

func TestSyncStoreInitialSyncCrashes(t *testing.T) {
	enginetest.InitialSyncCrashes(t, boltSyncStore(t, true), 2000)
}

// TestSyncStoreSurvivesReopen syncs, closes the file as a stopped daemon would,
// reopens it and syncs on: nothing is created twice, and the state read back is
// what was written.
func TestSyncStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, testCipher(t, 1))
	h := enginetest.NewHarnessWith(t, engine.Policy{}, b.SyncStore())
	for i := range 40 {
		h.SO.Put(enginetest.Single("item", enginetest.T0.Add(time.Duration(i)*time.Hour)))
	}
	h.Run()
	before := h.Pairs()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir, testCipher(t, 1))
	defer b.Close()
	h.Store = b.SyncStore()
	h.Cfg.Store = h.Store
	h.Rebuild()
	h.Ops.Reset()
	res := h.Run()
	if len(res.Done) != 0 || h.Ops.Writes() != 0 || h.Pairs() != before || before != 40 {
		t.Fatalf("after reopen: done %v, writes %d, pairs %d (before %d)", res.Done, h.Ops.Writes(), h.Pairs(), before)
	}
	if n, err := b.SyncStore().PairCount(context.Background(), h.Link.Key); err != nil || n != 40 {
		t.Fatalf("PairCount = %d, %v", n, err)
	}
	h.RequireSame()
}

// BenchmarkSyncStorePairs10k reads a link's 10,000 pairs, what a run with any
// change does before planning.
func BenchmarkSyncStorePairs10k(b *testing.B) {
	st := openBench(b)
	ctx := context.Background()
	var batch engine.Batch
	for i := range 10000 {
		id := engine.CorrelationFor(engine.SuperOffice, time.Duration(i).String())
		batch.PutPairs = append(batch.PutPairs, engine.Pair{ID: id, Kind: "single", Origin: engine.SuperOffice,
			SO:  engine.Ref{ID: "so" + id, Version: "2024-05-06T07:00:00", Hash: "0123456789abcdef0123456789abcdef", Start: enginetest.T0, End: enginetest.T0.Add(time.Hour)},
			Cal: engine.Ref{ID: "cal" + id, Version: "\"3456789\"", Hash: "0123456789abcdef0123456789abcdef", Start: enginetest.T0, End: enginetest.T0.Add(time.Hour)}})
	}
	if err := st.Commit(ctx, "p/l", batch); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ps, err := st.Pairs(ctx, "p/l")
		if err != nil || len(ps) != 10000 {
			b.Fatalf("%d pairs, %v", len(ps), err)
		}
	}
}

func openBench(b *testing.B) *SyncStore {
	key := make([]byte, KeySize)
	c, err := NewCipher(key, nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(b.TempDir(), Options{Cipher: c, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s.SyncStore()
}
