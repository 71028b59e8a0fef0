package state

// The links bucket, decoded, in memory.
//
// Every run of a link ends with UpdateLink, and most of them change nothing
// but the end of the link's last run (Link.LastSync): with thousands of links,
// a write transaction and a file sync per run would be most of an idle run's
// cost. So the rows live decoded in memory (the file is ours alone while it is
// open), a row whose only change is LastSync waits there, and such rows are
// written together: within RunFlush (DefaultRunFlush), with the next write of
// any link row, and at Close. Reads (status, metrics) see them at once. A
// daemon that is killed loses at most the last RunFlush of such times, which
// only say when a link last finished a run; anything else about a link (its
// state, its error, its item count, its activation URL) is on file when
// UpdateLink returns.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultRunFlush is how long a link's LastSync may wait in memory.
const DefaultRunFlush = 10 * time.Second

type linkRows struct {
	mu sync.Mutex
	// rows are decoded rows by key; all says it holds every stored row.
	rows map[string]Link
	all  bool
	// lazy are the rows newer in memory than on file.
	lazy       map[string]bool
	timer      *time.Timer
	flushAfter time.Duration
	closed     bool
}

// rowLocked returns the link's row, from memory or read from the file.
// b.rows.mu must be held.
func (b *Bolt) rowLocked(ctx context.Context, id LinkID) (Link, bool, error) {
	key := id.String()
	if l, ok := b.rows.rows[key]; ok {
		return l, true, nil
	}
	if b.rows.all {
		return Link{}, false, nil
	}
	var l Link
	found := false
	err := b.view(ctx, func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketLinks).Get([]byte(key))
		if raw == nil {
			return nil
		}
		var err error
		l, err = b.decodeLink(raw)
		found = err == nil
		return err
	})
	if err != nil || !found {
		return Link{}, false, err
	}
	b.cacheLocked(key, l)
	return l, true, nil
}

func (b *Bolt) cacheLocked(key string, l Link) {
	if b.rows.rows == nil {
		b.rows.rows = map[string]Link{}
	}
	b.rows.rows[key] = l
}

func (b *Bolt) Links(ctx context.Context) ([]Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	if !b.rows.all {
		read := map[string]Link{}
		err := b.view(ctx, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLinks).ForEach(func(k, v []byte) error {
				l, err := b.decodeLink(v)
				if err != nil {
					return fmt.Errorf("decode link %s: %w", k, err)
				}
				read[string(k)] = l
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("read links: %w", err)
		}
		for k, l := range read {
			if !b.rows.lazy[k] {
				b.cacheLocked(k, l)
			}
		}
		b.rows.all = true
	}
	out := make([]Link, 0, len(b.rows.rows))
	for _, l := range b.rows.rows {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out, nil
}

func (b *Bolt) Link(ctx context.Context, id LinkID) (Link, error) {
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	l, ok, err := b.rowLocked(ctx, id)
	switch {
	case err != nil:
		return Link{}, fmt.Errorf("read link %s: %w", id, err)
	case !ok:
		return Link{}, fmt.Errorf("read link %s: %w", id, ErrNotFound)
	}
	return l, nil
}

func (b *Bolt) UpdateLink(ctx context.Context, id LinkID, fn func(*Link) error) (Link, error) {
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	cur, found, err := b.rowLocked(ctx, id)
	if err != nil {
		return Link{}, fmt.Errorf("update link %s: %w", id, err)
	}
	next, err := applyLinkUpdate(cur, id, b.now(), fn)
	if err != nil {
		return Link{}, fmt.Errorf("update link %s: %w", id, err)
	}
	key := id.String()
	if found && onlyRunEnd(cur, next) {
		if next != cur {
			b.cacheLocked(key, next)
			b.lazyLocked(key)
		}
		return next, nil
	}
	err = b.update(ctx, func(tx *bolt.Tx) error {
		if err := b.putRowsLocked(tx); err != nil {
			return err
		}
		raw, err := b.encodeLink(next)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketLinks).Put([]byte(key), raw)
	})
	if err != nil {
		return Link{}, fmt.Errorf("update link %s: %w", id, err)
	}
	b.cacheLocked(key, next)
	b.writtenLocked()
	return next, nil
}

// onlyRunEnd reports whether next differs from cur in LastSync alone.
func onlyRunEnd(cur, next Link) bool {
	next.LastSync = cur.LastSync
	return next == cur
}

func (b *Bolt) DeleteLink(ctx context.Context, id LinkID) error {
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	key := id.String()
	err := b.update(ctx, func(tx *bolt.Tx) error {
		if err := b.putRowsLocked(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketLinks).Delete([]byte(key)); err != nil {
			return err
		}
		return tx.Bucket(bucketTokens).Delete([]byte(LinkToken(id)))
	})
	if err != nil {
		return fmt.Errorf("delete link %s: %w", id, err)
	}
	delete(b.rows.rows, key)
	b.writtenLocked()
	return nil
}

// lazyLocked marks a row as newer than the file and makes sure it is written
// within flushAfter.
func (b *Bolt) lazyLocked(key string) {
	if b.rows.lazy == nil {
		b.rows.lazy = map[string]bool{}
	}
	b.rows.lazy[key] = true
	if b.rows.timer == nil && !b.rows.closed {
		b.rows.timer = time.AfterFunc(b.rows.flushAfter, b.flushRows)
	}
}

// putRowsLocked writes the rows that wait in memory in tx.
func (b *Bolt) putRowsLocked(tx *bolt.Tx) error {
	bk := tx.Bucket(bucketLinks)
	for key := range b.rows.lazy {
		l, ok := b.rows.rows[key]
		if !ok {
			continue
		}
		raw, err := b.encodeLink(l)
		if err != nil {
			return fmt.Errorf("encode link %s: %w", key, err)
		}
		if err := bk.Put([]byte(key), raw); err != nil {
			return err
		}
	}
	return nil
}

// writtenLocked: every row in memory is on file.
func (b *Bolt) writtenLocked() {
	clear(b.rows.lazy)
	if b.rows.timer != nil {
		b.rows.timer.Stop()
		b.rows.timer = nil
	}
}

// flushRows writes the rows that wait in memory.
func (b *Bolt) flushRows() {
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	b.rows.timer = nil
	if err := b.flushLocked(); err != nil && !b.rows.closed {
		b.log.Warn("cannot write the end times of the links' last runs; trying again", "err", err)
		b.rows.timer = time.AfterFunc(b.rows.flushAfter, b.flushRows)
	}
}

func (b *Bolt) flushLocked() error {
	if len(b.rows.lazy) == 0 || b.rows.closed {
		return nil
	}
	if err := b.db.Update(b.putRowsLocked); err != nil {
		return err
	}
	b.writtenLocked()
	return nil
}

// FlushRuns writes the end times of runs that wait in memory now.
func (b *Bolt) FlushRuns() error {
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	if err := b.flushLocked(); err != nil {
		return fmt.Errorf("write the links' last runs: %w", err)
	}
	return nil
}

// stopRows writes what waits and stops further timed writes (Close).
func (b *Bolt) stopRows() {
	b.rows.mu.Lock()
	defer b.rows.mu.Unlock()
	if err := b.flushLocked(); err != nil && !errors.Is(err, bolt.ErrDatabaseNotOpen) {
		b.log.Warn("cannot write the end times of the links' last runs before closing", "err", err)
	}
	if b.rows.timer != nil {
		b.rows.timer.Stop()
		b.rows.timer = nil
	}
	b.rows.closed = true
}
