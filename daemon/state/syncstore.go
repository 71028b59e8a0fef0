package state

// The sync engine's part of state.db, in the buckets bolt.go reserves for it.
// Every link has a bucket of its own in each, named by its key ("profile/link"),
// so a link is dropped by deleting three buckets:
//
//	pairs/
//	  <profile>/<link>/          bucket
//	    p/                       <pair id>          JSON engine.Pair
//	    so/                      <superoffice id>   pair id (index)
//	    cal/                     <calendar id>      pair id (index)
//	cursors/
//	  <profile>/<link>/          bucket
//	    superoffice | calendar   JSON engine.CursorState
//	intents/
//	  <profile>/<link>/          bucket
//	    <pair id>                JSON engine.Intent
//
// The correlation id of a pair is its id, so the p bucket is the correlation
// index. A Batch is one write transaction; reads copy out by decoding.
//
// The meeting registry of each profile (engine.MeetingStore) lives beside them in
// a bucket made on first use, so files from before it need no migration (an
// absent bucket is an empty registry):
//
//	meetings/
//	  <profile>/                 bucket
//	    m/                       <meeting id>       JSON engine.Meeting
//	    so/                      <superoffice key>  meeting id (index)
//	    cal/                     <calendar key>     meeting id (index)

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"synchronizer/daemon/engine"
)

var (
	subPairs = []byte("p")
	subSO    = []byte("so")
	subCal   = []byte("cal")
)

// SyncStore is the engine's Store on the state file.
type SyncStore struct {
	db *bolt.DB
	gc *groupCommit
}

var (
	_ engine.Store        = (*SyncStore)(nil)
	_ engine.MeetingStore = (*SyncStore)(nil)
)

// SyncStore returns the engine's store on this file. It lives as long as b.
func (b *Bolt) SyncStore() *SyncStore { return &SyncStore{db: b.db, gc: &groupCommit{}} }

func indexName(s engine.Side) []byte {
	if s == engine.SuperOffice {
		return subSO
	}
	return subCal
}

func (s *SyncStore) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// linkBucket returns link's bucket in root, or nil when it has none.
func linkBucket(tx *bolt.Tx, root []byte, link string) *bolt.Bucket {
	r := tx.Bucket(root)
	if r == nil {
		return nil
	}
	return r.Bucket([]byte(link))
}

func decodePair(raw []byte) (engine.Pair, error) {
	var p engine.Pair
	if err := json.Unmarshal(raw, &p); err != nil {
		return engine.Pair{}, fmt.Errorf("%w: pair: %v", ErrCorrupt, err)
	}
	return p, nil
}

// Pairs implements engine.Store.
func (s *SyncStore) Pairs(ctx context.Context, link string) ([]engine.Pair, error) {
	var out []engine.Pair
	err := s.view(ctx, func(tx *bolt.Tx) error {
		lb := linkBucket(tx, bucketPairs, link)
		if lb == nil || lb.Bucket(subPairs) == nil {
			return nil
		}
		return lb.Bucket(subPairs).ForEach(func(k, v []byte) error {
			p, err := decodePair(v)
			if err != nil {
				return fmt.Errorf("pair %s: %w", k, err)
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read pairs of %s: %w", link, err)
	}
	return out, nil
}

// PairBySide implements engine.Store.
func (s *SyncStore) PairBySide(ctx context.Context, link string, side engine.Side, id string) (engine.Pair, bool, error) {
	if id == "" || !side.Valid() {
		return engine.Pair{}, false, nil
	}
	var p engine.Pair
	found := false
	err := s.view(ctx, func(tx *bolt.Tx) error {
		lb := linkBucket(tx, bucketPairs, link)
		if lb == nil {
			return nil
		}
		ib, pb := lb.Bucket(indexName(side)), lb.Bucket(subPairs)
		if ib == nil || pb == nil {
			return nil
		}
		pid := ib.Get([]byte(id))
		if pid == nil {
			return nil
		}
		raw := pb.Get(pid)
		if raw == nil {
			return fmt.Errorf("%w: index %s/%s points at missing pair %s", ErrCorrupt, side, id, pid)
		}
		var err error
		p, err = decodePair(raw)
		found = err == nil
		return err
	})
	if err != nil {
		return engine.Pair{}, false, fmt.Errorf("find pair of %s item %s in %s: %w", side, id, link, err)
	}
	return p, found, nil
}

// PairByCorrelation implements engine.Store.
func (s *SyncStore) PairByCorrelation(ctx context.Context, link, corr string) (engine.Pair, bool, error) {
	if corr == "" {
		return engine.Pair{}, false, nil
	}
	var p engine.Pair
	found := false
	err := s.view(ctx, func(tx *bolt.Tx) error {
		lb := linkBucket(tx, bucketPairs, link)
		if lb == nil || lb.Bucket(subPairs) == nil {
			return nil
		}
		raw := lb.Bucket(subPairs).Get([]byte(corr))
		if raw == nil {
			return nil
		}
		var err error
		p, err = decodePair(raw)
		found = err == nil
		return err
	})
	if err != nil {
		return engine.Pair{}, false, fmt.Errorf("find pair %s in %s: %w", corr, link, err)
	}
	return p, found, nil
}

// Intents implements engine.Store.
func (s *SyncStore) Intents(ctx context.Context, link string) ([]engine.Intent, error) {
	var out []engine.Intent
	err := s.view(ctx, func(tx *bolt.Tx) error {
		lb := linkBucket(tx, bucketIntents, link)
		if lb == nil {
			return nil
		}
		return lb.ForEach(func(k, v []byte) error {
			var in engine.Intent
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("%w: intent %s: %v", ErrCorrupt, k, err)
			}
			out = append(out, in)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read intents of %s: %w", link, err)
	}
	return out, nil
}

// Cursor implements engine.Store.
func (s *SyncStore) Cursor(ctx context.Context, link string, side engine.Side) (engine.CursorState, bool, error) {
	var c engine.CursorState
	found := false
	err := s.view(ctx, func(tx *bolt.Tx) error {
		lb := linkBucket(tx, bucketCursors, link)
		if lb == nil {
			return nil
		}
		raw := lb.Get([]byte(side))
		if raw == nil {
			return nil
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("%w: cursor: %v", ErrCorrupt, err)
		}
		found = true
		return nil
	})
	if err != nil {
		return engine.CursorState{}, false, fmt.Errorf("read %s cursor of %s: %w", side, link, err)
	}
	return c, found, nil
}

// Commit implements engine.Store: the whole batch in one write transaction
// (shared with the batches of concurrent calls, see groupCommit).
func (s *SyncStore) Commit(ctx context.Context, link string, b engine.Batch) error {
	if link == "" {
		return errors.New("commit sync state: empty link key")
	}
	for _, p := range b.PutPairs {
		if p.ID == "" {
			return fmt.Errorf("commit sync state of %s: pair without id", link)
		}
	}
	for _, in := range b.PutIntents {
		if in.ID == "" {
			return fmt.Errorf("commit sync state of %s: intent without id", link)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.gc.commit(s.db, link, b); err != nil {
		return fmt.Errorf("commit sync state of %s: %w", link, err)
	}
	return nil
}

// applyBatch writes one link's batch in tx.
func applyBatch(tx *bolt.Tx, link string, b engine.Batch) error {
	if len(b.PutPairs) > 0 || len(b.DeletePairs) > 0 {
		lb, err := ensure(tx, bucketPairs, link)
		if err != nil {
			return err
		}
		pb, err := lb.CreateBucketIfNotExists(subPairs)
		if err != nil {
			return err
		}
		var idx [2]*bolt.Bucket
		for i, side := range engine.Sides() {
			if idx[i], err = lb.CreateBucketIfNotExists(indexName(side)); err != nil {
				return err
			}
		}
		for _, id := range b.DeletePairs {
			if err := unindex(pb, idx, []byte(id)); err != nil {
				return err
			}
			if err := pb.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for _, p := range b.PutPairs {
			key := []byte(p.ID)
			if err := unindex(pb, idx, key); err != nil {
				return err
			}
			raw, err := json.Marshal(p)
			if err != nil {
				return fmt.Errorf("encode pair %s: %w", p.ID, err)
			}
			if err := pb.Put(key, raw); err != nil {
				return err
			}
			for i, ref := range []engine.Ref{p.SO, p.Cal} {
				if ref.ID != "" {
					if err := idx[i].Put([]byte(ref.ID), key); err != nil {
						return err
					}
				}
			}
		}
	}
	if len(b.PutIntents) > 0 || len(b.DeleteIntents) > 0 {
		ib, err := ensure(tx, bucketIntents, link)
		if err != nil {
			return err
		}
		for _, id := range b.DeleteIntents {
			if err := ib.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for _, in := range b.PutIntents {
			raw, err := json.Marshal(in)
			if err != nil {
				return fmt.Errorf("encode intent %s: %w", in.ID, err)
			}
			if err := ib.Put([]byte(in.ID), raw); err != nil {
				return err
			}
		}
	}
	if len(b.Cursors) > 0 {
		cb, err := ensure(tx, bucketCursors, link)
		if err != nil {
			return err
		}
		for side, c := range b.Cursors {
			if !side.Valid() {
				return fmt.Errorf("cursor for unknown side %q", side)
			}
			raw, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("encode cursor: %w", err)
			}
			if err := cb.Put([]byte(side), raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// groupCommit writes the batches of concurrent Commit calls (the runs of
// different links) in one write transaction, and so with one sync of the file,
// instead of one each. There is no timer: a batch that finds no write in
// progress is written at once; those that arrive meanwhile wait for it and go
// together in the next transaction. Each caller returns once its batch is on
// disk, as before; a crash loses only batches whose callers have not returned.
type groupCommit struct {
	mu      sync.Mutex
	pending []*pendingBatch
	writing bool
}

type pendingBatch struct {
	link string
	b    engine.Batch
	done chan error
}

func (g *groupCommit) commit(db *bolt.DB, link string, b engine.Batch) error {
	p := &pendingBatch{link: link, b: b, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, p)
	lead := !g.writing
	g.writing = true
	g.mu.Unlock()
	if lead {
		g.write(db)
	}
	return <-p.done
}

// write writes what is pending, and hands on to a new writer while more
// arrived meanwhile, so that its own caller returns after one transaction.
func (g *groupCommit) write(db *bolt.DB) {
	g.mu.Lock()
	group := g.pending
	g.pending = nil
	g.mu.Unlock()
	err := db.Update(func(tx *bolt.Tx) error {
		for _, p := range group {
			if err := applyBatch(tx, p.link, p.b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		// One batch spoiled the transaction: write each on its own, so the
		// others succeed and the failure reaches only its own caller.
		for _, p := range group {
			p.done <- db.Update(func(tx *bolt.Tx) error { return applyBatch(tx, p.link, p.b) })
		}
	} else {
		for _, p := range group {
			p.done <- err
		}
	}
	g.mu.Lock()
	if len(g.pending) == 0 {
		g.writing = false
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go g.write(db)
}

// ensure returns link's bucket in root, creating it.
func ensure(tx *bolt.Tx, root []byte, link string) (*bolt.Bucket, error) {
	r := tx.Bucket(root)
	if r == nil {
		return nil, fmt.Errorf("%w: bucket %s is missing", ErrCorrupt, root)
	}
	return r.CreateBucketIfNotExists([]byte(link))
}

// unindex removes the index entries of the stored pair key (if any) that point
// at it.
func unindex(pb *bolt.Bucket, idx [2]*bolt.Bucket, key []byte) error {
	raw := pb.Get(key)
	if raw == nil {
		return nil
	}
	// Only the two ids are needed: decoding into this leaves the rest unread.
	var old struct {
		SO struct {
			ID string `json:"id"`
		} `json:"so"`
		Cal struct {
			ID string `json:"id"`
		} `json:"cal"`
	}
	if err := json.Unmarshal(raw, &old); err != nil {
		return fmt.Errorf("%w: pair: %v", ErrCorrupt, err)
	}
	for i, id := range [2]string{old.SO.ID, old.Cal.ID} {
		if id == "" {
			continue
		}
		if cur := idx[i].Get([]byte(id)); cur != nil && string(cur) == string(key) {
			if err := idx[i].Delete([]byte(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

// DropLink implements engine.Store.
func (s *SyncStore) DropLink(ctx context.Context, link string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, root := range [][]byte{bucketPairs, bucketCursors, bucketIntents} {
			r := tx.Bucket(root)
			if r == nil || r.Bucket([]byte(link)) == nil {
				continue
			}
			if err := r.DeleteBucket([]byte(link)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop sync state of %s: %w", link, err)
	}
	return nil
}

// PairCount returns the number of pairs link keeps (for status).
func (s *SyncStore) PairCount(ctx context.Context, link string) (int, error) {
	n := 0
	err := s.view(ctx, func(tx *bolt.Tx) error {
		lb := linkBucket(tx, bucketPairs, link)
		if lb != nil && lb.Bucket(subPairs) != nil {
			n = lb.Bucket(subPairs).Stats().KeyN
		}
		return nil
	})
	return n, err
}

var (
	bucketMeetings = []byte("meetings")
	subMeetings    = []byte("m")
)

// MeetingByKey implements engine.MeetingStore.
func (s *SyncStore) MeetingByKey(ctx context.Context, profile string, side engine.Side, key string) (engine.Meeting, bool, error) {
	var m engine.Meeting
	found := false
	if key == "" || !side.Valid() {
		return m, false, nil
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		pb := linkBucket(tx, bucketMeetings, profile)
		if pb == nil || pb.Bucket(indexName(side)) == nil || pb.Bucket(subMeetings) == nil {
			return nil
		}
		id := pb.Bucket(indexName(side)).Get([]byte(key))
		if id == nil {
			return nil
		}
		raw := pb.Bucket(subMeetings).Get(id)
		if raw == nil {
			return fmt.Errorf("%w: meeting index %s/%s points at missing meeting %s", ErrCorrupt, side, key, id)
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%w: meeting %s: %v", ErrCorrupt, id, err)
		}
		found = true
		return nil
	})
	if err != nil {
		return engine.Meeting{}, false, fmt.Errorf("read meeting %s/%s of %s: %w", side, key, profile, err)
	}
	return m, found, nil
}

// PutMeeting implements engine.MeetingStore.
func (s *SyncStore) PutMeeting(ctx context.Context, profile string, m engine.Meeting) error {
	if profile == "" || m.ID == "" {
		return fmt.Errorf("put meeting: empty profile or meeting id")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode meeting %s: %w", m.ID, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketMeetings)
		if err != nil {
			return err
		}
		pb, err := root.CreateBucketIfNotExists([]byte(profile))
		if err != nil {
			return err
		}
		mb, err := pb.CreateBucketIfNotExists(subMeetings)
		if err != nil {
			return err
		}
		if err := unindexMeeting(pb, mb, []byte(m.ID)); err != nil {
			return err
		}
		if err := mb.Put([]byte(m.ID), raw); err != nil {
			return err
		}
		for _, side := range engine.Sides() {
			if k := m.Key(side); k != "" {
				ib, err := pb.CreateBucketIfNotExists(indexName(side))
				if err != nil {
					return err
				}
				if err := ib.Put([]byte(k), []byte(m.ID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put meeting %s of %s: %w", m.ID, profile, err)
	}
	return nil
}

// DeleteMeeting implements engine.MeetingStore.
func (s *SyncStore) DeleteMeeting(ctx context.Context, profile, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		pb := linkBucket(tx, bucketMeetings, profile)
		if pb == nil || pb.Bucket(subMeetings) == nil {
			return nil
		}
		mb := pb.Bucket(subMeetings)
		if err := unindexMeeting(pb, mb, []byte(id)); err != nil {
			return err
		}
		return mb.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete meeting %s of %s: %w", id, profile, err)
	}
	return nil
}

// DropMeetings forgets a profile's meeting registry (the profile left the config).
func (s *SyncStore) DropMeetings(ctx context.Context, profile string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketMeetings)
		if root == nil || root.Bucket([]byte(profile)) == nil {
			return nil
		}
		return root.DeleteBucket([]byte(profile))
	})
	if err != nil {
		return fmt.Errorf("drop meetings of %s: %w", profile, err)
	}
	return nil
}

// unindexMeeting removes the index entries of the stored meeting id, if any.
func unindexMeeting(pb, mb *bolt.Bucket, id []byte) error {
	raw := mb.Get(id)
	if raw == nil {
		return nil
	}
	var old engine.Meeting
	if err := json.Unmarshal(raw, &old); err != nil {
		return fmt.Errorf("%w: meeting %s: %v", ErrCorrupt, id, err)
	}
	for _, side := range engine.Sides() {
		k := old.Key(side)
		ib := pb.Bucket(indexName(side))
		if k == "" || ib == nil {
			continue
		}
		if cur := ib.Get([]byte(k)); cur != nil && string(cur) == string(id) {
			if err := ib.Delete([]byte(k)); err != nil {
				return err
			}
		}
	}
	return nil
}
