package state

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"synchronizer/daemon/engine"
)

// Concurrent commits (the runs of many links) may share a transaction: each
// still lands whole, and a batch that cannot be written fails alone.
func TestConcurrentCommitsLandWhole(t *testing.T) {
	const links, perLink = 16, 20
	s := boltSyncStore(t, false)().(*SyncStore)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([][]error, links)
	for l := range links {
		errs[l] = make([]error, perLink)
		wg.Add(1)
		go func() {
			defer wg.Done()
			link := fmt.Sprintf("p/l%d", l)
			for i := range perLink {
				b := engine.Batch{PutPairs: []engine.Pair{{ID: fmt.Sprintf("c%d", i),
					SO: engine.Ref{ID: fmt.Sprintf("so-%d-%d", l, i)}, Cal: engine.Ref{ID: fmt.Sprintf("cal-%d-%d", l, i)}}}}
				if i%7 == 3 {
					// Not writable: a cursor for a side that does not exist.
					b.Cursors = map[engine.Side]engine.CursorState{engine.Side("elsewhere"): {Token: "x"}}
				}
				errs[l][i] = s.Commit(ctx, link, b)
			}
		}()
	}
	wg.Wait()
	for l := range links {
		link := fmt.Sprintf("p/l%d", l)
		pairs, err := s.Pairs(ctx, link)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, p := range pairs {
			have[p.ID] = true
		}
		for i := range perLink {
			id, bad := fmt.Sprintf("c%d", i), i%7 == 3
			switch {
			case bad && errs[l][i] == nil:
				t.Errorf("%s %s: a batch with an unknown side was accepted", link, id)
			case bad && have[id]:
				t.Errorf("%s %s: the failed batch was written in part", link, id)
			case !bad && errs[l][i] != nil:
				t.Errorf("%s %s: %v", link, id, errs[l][i])
			case !bad && !have[id]:
				t.Errorf("%s %s: committed but not stored", link, id)
			}
		}
		if p, ok, err := s.PairBySide(ctx, link, engine.SuperOffice, fmt.Sprintf("so-%d-0", l)); err != nil || !ok || p.ID != "c0" {
			t.Errorf("%s: index by superoffice id: %v %v %v", link, p.ID, ok, err)
		}
	}
}
