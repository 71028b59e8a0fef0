// Package tzcache remembers loaded time zones: loading one reads the zone
// database, which a service handling many requests should not do for each.
package tzcache

import (
	"sync"
	"time"
)

// maxNames bounds the names kept; beyond it the cache starts over (names come
// from requests, so they are not trusted to be few).
const maxNames = 1000

// Cache is a cache of time.LoadLocation by name. The zero value is ready.
type Cache struct {
	mu sync.Mutex
	m  map[string]result
}

type result struct {
	loc *time.Location
	err error
}

// Load is time.LoadLocation(name), remembered, failures included.
func (c *Cache) Load(name string) (*time.Location, error) {
	c.mu.Lock()
	r, ok := c.m[name]
	c.mu.Unlock()
	if ok {
		return r.loc, r.err
	}
	loc, err := time.LoadLocation(name)
	c.mu.Lock()
	if c.m == nil || len(c.m) > maxNames {
		c.m = map[string]result{}
	}
	c.m[name] = result{loc, err}
	c.mu.Unlock()
	return loc, err
}
