package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"synchronizer/daemon/state"
	"synchronizer/plugins/sdk"
)

// flow is one sign-in between the button and the provider's redirect back. It
// lives in memory only: a restart in between makes the person start again.
type flow struct {
	created time.Time
	binding [32]byte // SHA-256 of the browser cookie's value
	secret  string   // the activation's secret (a link's, or setupSecret(name))
	link    state.LinkID
	setup   string // the block an admin sets up; "" for a link
	purpose sdk.OAuthPurpose

	provider, instance string
	spec               sdk.OAuthSpec // as used for the redirect (redirect URL, PKCE)
	redirect           string
	verifier           string // PKCE; "" without
	lang               string
	retry              string // the page that starts again
}

// flowStore keeps the sign-ins in progress by state, each taken at most once.
type flowStore struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	flows map[string]*flow
}

func newFlowStore(ttl time.Duration, max int) *flowStore {
	return &flowStore{ttl: ttl, max: max, flows: map[string]*flow{}}
}

// put stores f under state, dropping expired flows and, when full, the oldest.
func (fs *flowStore) put(state string, f *flow, now time.Time) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.flows) >= fs.max {
		var oldest string
		var oldestAt time.Time
		for k, v := range fs.flows {
			if now.Sub(v.created) > fs.ttl {
				delete(fs.flows, k)
				continue
			}
			if oldest == "" || v.created.Before(oldestAt) {
				oldest, oldestAt = k, v.created
			}
		}
		if len(fs.flows) >= fs.max && oldest != "" {
			delete(fs.flows, oldest)
		}
	}
	fs.flows[state] = f
}

// take removes and returns the flow of state if it is there, not expired, and
// bound to binding. A callback that carries no binding at all is accepted on the
// strength of the state alone (single use, 256 bits, 15 minutes), so a client
// without a cookie engine — `curl -L URL/go` against an auto-approving sign-in, as
// scripts drive the emulators — completes consent; the signed-in account is still
// checked against the link. A binding that is present but wrong is refused: that is
// another browser's sign-in.
func (fs *flowStore) take(state, binding string, now time.Time) (*flow, bool) {
	fs.mu.Lock()
	f := fs.flows[state]
	delete(fs.flows, state)
	fs.mu.Unlock()
	if f == nil || now.Sub(f.created) > fs.ttl || now.Before(f.created.Add(-time.Minute)) {
		return nil, false
	}
	if binding == "" {
		return f, true
	}
	got := sha256.Sum256([]byte(binding))
	if subtle.ConstantTimeCompare(got[:], f.binding[:]) != 1 {
		return f, false
	}
	return f, true
}

func (fs *flowStore) len() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.flows)
}
