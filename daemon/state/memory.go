package state

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Memory is a Store kept in memory: for tests and the embedded demo. It keeps
// the same semantics as Bolt (copies in and out, single-use activations) but
// nothing survives the process.
type Memory struct {
	now func() time.Time

	mu          sync.Mutex
	links       map[LinkID]Link
	tenants     map[string]Tenant
	tokens      map[TokenKey]Token
	activations map[string]Activation
	push        map[string]PushSubscription // push.go
	closed      bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store; now stamps Changed (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{
		now:         now,
		links:       map[LinkID]Link{},
		tenants:     map[string]Tenant{},
		tokens:      map[TokenKey]Token{},
		activations: map[string]Activation{},
	}
}

func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	return nil
}

func (m *Memory) Links(ctx context.Context) ([]Link, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	out := make([]Link, 0, len(m.links))
	for _, l := range m.links {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out, nil
}

func (m *Memory) Link(ctx context.Context, id LinkID) (Link, error) {
	if err := m.lock(ctx); err != nil {
		return Link{}, err
	}
	defer m.mu.Unlock()
	l, ok := m.links[id]
	if !ok {
		return Link{}, ErrNotFound
	}
	return l, nil
}

func (m *Memory) UpdateLink(ctx context.Context, id LinkID, fn func(*Link) error) (Link, error) {
	if err := m.lock(ctx); err != nil {
		return Link{}, err
	}
	defer m.mu.Unlock()
	l, err := applyLinkUpdate(m.links[id], id, m.now(), fn)
	if err != nil {
		return Link{}, err
	}
	m.links[id] = l
	return l, nil
}

func (m *Memory) DeleteLink(ctx context.Context, id LinkID) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.links, id)
	delete(m.tokens, LinkToken(id))
	return nil
}

func (m *Memory) Tenant(ctx context.Context, name string) (Tenant, error) {
	if err := m.lock(ctx); err != nil {
		return Tenant{}, err
	}
	defer m.mu.Unlock()
	t, ok := m.tenants[name]
	if !ok {
		return Tenant{}, ErrNotFound
	}
	return t, nil
}

func (m *Memory) PutTenant(ctx context.Context, t Tenant) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.tenants[t.Name] = t
	return nil
}

func (m *Memory) Token(ctx context.Context, key TokenKey) (Token, error) {
	if err := m.lock(ctx); err != nil {
		return Token{}, err
	}
	defer m.mu.Unlock()
	t, ok := m.tokens[key]
	if !ok {
		return Token{}, ErrNotFound
	}
	return t.clone(), nil
}

func (m *Memory) PutToken(ctx context.Context, key TokenKey, tok Token) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.tokens[key] = tok.clone()
	return nil
}

func (m *Memory) DeleteToken(ctx context.Context, key TokenKey) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.tokens, key)
	return nil
}

func (m *Memory) PutActivation(ctx context.Context, secret string, a Activation) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.activations[string(secretKey(secret))] = a
	return nil
}

func (m *Memory) Activation(ctx context.Context, secret string, now time.Time) (Activation, error) {
	if err := m.lock(ctx); err != nil {
		return Activation{}, err
	}
	defer m.mu.Unlock()
	a, ok := m.activations[string(secretKey(secret))]
	if !ok {
		return Activation{}, ErrNotFound
	}
	if err := checkActivation(a, now); err != nil {
		return Activation{}, err
	}
	return a, nil
}

func (m *Memory) ConsumeActivation(ctx context.Context, secret string, now time.Time) (Activation, error) {
	if err := m.lock(ctx); err != nil {
		return Activation{}, err
	}
	defer m.mu.Unlock()
	k := string(secretKey(secret))
	a, ok := m.activations[k]
	if !ok {
		return Activation{}, ErrNotFound
	}
	if err := checkActivation(a, now); err != nil {
		return Activation{}, err
	}
	a.Used = now
	m.activations[k] = a
	return a, nil
}

func (m *Memory) RevokeActivations(ctx context.Context, link LinkID, connection string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	for k, a := range m.activations {
		if matchesRevoke(a, link, connection) {
			delete(m.activations, k)
		}
	}
	return nil
}

func (m *Memory) PruneActivations(ctx context.Context, cutoff time.Time) (int, error) {
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	n := 0
	for k, a := range m.activations {
		if a.Expires.Before(cutoff) || (!a.Used.IsZero() && a.Used.Before(cutoff)) {
			delete(m.activations, k)
			n++
		}
	}
	return n, nil
}

func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
