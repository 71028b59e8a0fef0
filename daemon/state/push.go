package state

// Change subscriptions (daemon/push), in a bucket made on first use so files
// from before it need no migration (an absent bucket holds no subscription):
//
//	push/
//	  <path token>   JSON PushSubscription; its Secret sealed like a token
//	                 (AAD "push/"+token)
//
// The path token is the unguessable last segment of the subscription's
// notification URL (public_url/notify/<provider>/<token>); the services know
// it, so it is stored in clear as the key. The secret the service echoes or
// signs with is what proves a notification, and never leaves the file unsealed.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketPush = []byte("push")

// PushSubscription is one change subscription the daemon holds with a provider.
type PushSubscription struct {
	// Token is the path token of its notification URL: the key.
	Token string `json:"token"`
	// Source names what it watches: provider, instance and (for a subscription
	// per account) the account.
	Provider string `json:"provider"`
	Instance string `json:"instance"`
	Account  string `json:"account,omitempty"`
	// URL is the notification URL registered with the service.
	URL string `json:"url"`
	// Secret is what the service echoes or signs with. Sealed at rest.
	Secret string `json:"-"`
	// ID, ResourceID, Expires and Extra are the provider's subscription
	// (sdk.Subscription); Expires is zero when it does not expire.
	ID         string            `json:"id,omitempty"`
	ResourceID string            `json:"resource_id,omitempty"`
	Expires    time.Time         `json:"expires,omitzero"`
	Extra      map[string]string `json:"extra,omitempty"`
	// Obtained is when it was created or last renewed.
	Obtained time.Time `json:"obtained,omitzero"`
	// Links are the links it served when last stored, so that one whose links
	// all left the configuration is removed even before they run again.
	Links []LinkID `json:"links,omitempty"`
}

func (s PushSubscription) clone() PushSubscription {
	s.Extra = maps.Clone(s.Extra)
	s.Links = slices.Clone(s.Links)
	return s
}

type storedPush struct {
	PushSubscription
	SealedSecret []byte `json:"sealed_secret,omitempty"`
}

func pushAAD(token string) []byte { return []byte("push/" + token) }

// PushSubscriptions returns every stored subscription, sorted by token.
func (b *Bolt) PushSubscriptions(ctx context.Context) ([]PushSubscription, error) {
	var raw [][]byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketPush)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, v []byte) error {
			raw = append(raw, slices.Clone(v))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read push subscriptions: %w", err)
	}
	out := make([]PushSubscription, 0, len(raw))
	for _, v := range raw {
		var sp storedPush
		if err := json.Unmarshal(v, &sp); err != nil {
			return nil, fmt.Errorf("decode push subscription: %w", err)
		}
		s := sp.PushSubscription
		if len(sp.SealedSecret) > 0 {
			plain, err := b.cipher.Open(sp.SealedSecret, pushAAD(s.Token))
			if err != nil {
				return nil, fmt.Errorf("open the secret of push subscription %s/%s: %w", s.Provider, s.Instance, err)
			}
			s.Secret = string(plain)
		}
		out = append(out, s)
	}
	return out, nil
}

// PutPushSubscription stores s under its token, replacing what was there.
func (b *Bolt) PutPushSubscription(ctx context.Context, s PushSubscription) error {
	if s.Token == "" {
		return errors.New("store push subscription: no token")
	}
	sp := storedPush{PushSubscription: s}
	if s.Secret != "" {
		sealed, err := b.cipher.Seal([]byte(s.Secret), pushAAD(s.Token))
		if err != nil {
			return fmt.Errorf("seal push subscription secret: %w", err)
		}
		sp.SealedSecret = sealed
	}
	raw, err := json.Marshal(sp)
	if err != nil {
		return fmt.Errorf("encode push subscription: %w", err)
	}
	err = b.update(ctx, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketPush)
		if err != nil {
			return err
		}
		return bk.Put([]byte(s.Token), raw)
	})
	if err != nil {
		return fmt.Errorf("store push subscription %s/%s: %w", s.Provider, s.Instance, err)
	}
	return nil
}

// DeletePushSubscription removes the subscription with token; absent is not an
// error.
func (b *Bolt) DeletePushSubscription(ctx context.Context, token string) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketPush)
		if bk == nil {
			return nil
		}
		return bk.Delete([]byte(token))
	})
	if err != nil {
		return fmt.Errorf("delete push subscription: %w", err)
	}
	return nil
}

// PushSubscriptions implements the same on Memory.
func (m *Memory) PushSubscriptions(ctx context.Context) ([]PushSubscription, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	out := make([]PushSubscription, 0, len(m.push))
	for _, s := range m.push {
		out = append(out, s.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Token < out[j].Token })
	return out, nil
}

// PutPushSubscription implements the same on Memory.
func (m *Memory) PutPushSubscription(ctx context.Context, s PushSubscription) error {
	if s.Token == "" {
		return errors.New("store push subscription: no token")
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if m.push == nil {
		m.push = map[string]PushSubscription{}
	}
	m.push[s.Token] = s.clone()
	return nil
}

// DeletePushSubscription implements the same on Memory.
func (m *Memory) DeletePushSubscription(ctx context.Context, token string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.push, token)
	return nil
}
