package runner

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

// gated holds every ListChanges until the test lets it go, counting how many
// are in flight at once.
type gated struct {
	*memory.Provider
	mu       sync.Mutex
	inflight int
	most     int
	release  chan struct{}
}

func (g *gated) ListChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	g.mu.Lock()
	g.inflight++
	g.most = max(g.most, g.inflight)
	g.mu.Unlock()
	<-g.release
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
	return sdk.Changes{}, nil
}

func (g *gated) counts() (int, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inflight, g.most
}

// The requests of many runs to one provider instance wait for one of its
// request slots: never more than the limit are in flight.
func TestRequestSlotsBoundInflightCalls(t *testing.T) {
	const limit, calls = 3, 10
	r := &Runner{opts: Options{RequestLimits: map[string]int{"superoffice": limit}}, slots: map[string]chan struct{}{}}
	if r.requestSlots("m365", "acme365") != nil {
		t.Fatal("a provider without a limit got request slots")
	}
	slots := r.requestSlots("superoffice", "acme")
	if slots == nil || cap(slots) != limit || r.requestSlots("superoffice", "acme") != slots || r.requestSlots("superoffice", "beta") == slots {
		t.Fatal("an instance's slots are not its own")
	}
	g := &gated{Provider: memory.New(), release: make(chan struct{})}
	cred := func(context.Context) (sdk.Credential, error) { return sdk.Credential{Type: "bearer", Token: "t"}, nil }
	var wg sync.WaitGroup
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &side{which: engine.SuperOffice, p: g, base: sdk.Target{Instance: "acme"}, credential: cred, slots: slots}
			if _, err := s.ListChanges(context.Background(), sdk.ChangesRequest{}); err != nil {
				t.Error(err)
			}
		}()
	}
	for released := 0; released < calls; released++ {
		want := min(limit, calls-released)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if in, _ := g.counts(); in >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %v calls in flight, want %d", in(g), want)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond) // room for a call past the limit to show
		if in, _ := g.counts(); in != want {
			t.Fatalf("%d calls in flight, want %d (limit %d)", in, want, limit)
		}
		g.release <- struct{}{}
	}
	wg.Wait()
	if _, most := g.counts(); most != limit {
		t.Fatalf("at most %d calls in flight, want %d", most, limit)
	}

	// A call that waits for a slot gives up when its run is cancelled.
	full := make(chan struct{}, 1)
	full <- struct{}{}
	s := &side{which: engine.SuperOffice, p: g, base: sdk.Target{Instance: "acme"}, credential: cred, slots: full}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ListChanges(ctx, sdk.ChangesRequest{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting for a slot after cancel: %v", err)
	}
}

func in(g *gated) int { n, _ := g.counts(); return n }

// admitBelow lets runs start while the live heap is under its bound.
func TestAdmitBelow(t *testing.T) {
	runtime.GC()
	if admitBelow(1)() {
		t.Error("a run was admitted with the live heap over a 1-byte bound")
	}
	if !admitBelow(1 << 50)() {
		t.Error("a run was held with the live heap far under its bound")
	}
}
