package engine_test

import (
	"testing"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
)

func memStore() engine.Store { return engine.NewMemStore() }

// TestModel is the randomized model test (enginetest.Model) over MemStore.
// SYNC_SOAK_SEEDS=N runs N seeds; SYNC_SEED=S replays one.
func TestModel(t *testing.T) { enginetest.Model(t, memStore) }

func TestCrashAtEveryStep(t *testing.T) { enginetest.CrashAtEveryStep(t, memStore) }

// The same over a provider that tags a new item in a second request: every crash
// between the two is exercised too.
func TestCrashAtEveryStepTwoStepCreate(t *testing.T) {
	enginetest.CrashAtEveryStepWith(t, memStore, enginetest.TwoStepCreate)
}

func TestInitialSyncCrashesTwoStepCreate(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 500
	}
	enginetest.InitialSyncCrashesWith(t, memStore, n, enginetest.TwoStepCreate)
}

func TestInitialSyncCrashes(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	enginetest.InitialSyncCrashes(t, memStore, n)
}

func TestMemStoreConformance(t *testing.T) { enginetest.StoreConformance(t, memStore) }
