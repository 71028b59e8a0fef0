package runner

import (
	"context"
	"errors"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

// side is one side of a link bound to its provider: an engine.Endpoint whose
// every call carries a credential fetched just before it, so a refreshed token is
// used as soon as there is one. A call the service refuses as unauthenticated is
// retried once after the credential is invalidated.
type side struct {
	which engine.Side
	p     sdk.Provider
	// base is the target without its credential.
	base       sdk.Target
	credential func(ctx context.Context) (sdk.Credential, error)
	invalidate func(ctx context.Context, c sdk.Credential)
	// slots bounds the requests in flight to the side's provider instance
	// (nil: no bound); see DefaultRequestLimits.
	slots chan struct{}
}

var _ engine.Endpoint = (*side)(nil)

// credError marks a failure to get a side's credential, or a provider's report
// that the grant behind it is gone, so the runner can tell which side needs
// consent.
type credError struct {
	side engine.Side
	err  error
}

func (e *credError) Error() string { return e.err.Error() }
func (e *credError) Unwrap() error { return e.err }

func (s *side) target(ctx context.Context) (sdk.Target, error) {
	c, err := s.credential(ctx)
	if err != nil {
		return sdk.Target{}, &credError{side: s.which, err: err}
	}
	t := s.base
	t.Credential = c
	return t, nil
}

// call runs fn with a fresh target, and once more with a newer credential when
// the service refused the first as unauthenticated.
func call[T any](ctx context.Context, s *side, fn func(sdk.Target) (T, error)) (T, error) {
	var zero T
	t, err := s.target(ctx)
	if err != nil {
		return zero, err
	}
	v, err := send(ctx, s, t, fn)
	if errors.Is(err, sdk.ErrUnauthenticated) && s.invalidate != nil {
		s.invalidate(ctx, t.Credential)
		if t, err = s.target(ctx); err != nil {
			return zero, err
		}
		v, err = send(ctx, s, t, fn)
	}
	if errors.Is(err, sdk.ErrConsentRevoked) {
		var ce *credError
		if !errors.As(err, &ce) {
			err = &credError{side: s.which, err: err}
		}
	}
	return v, err
}

func (s *side) LookupAccount(ctx context.Context, kind sdk.AccountKind, key string) (sdk.Account, error) {
	return call(ctx, s, func(t sdk.Target) (sdk.Account, error) {
		t.Account = ""
		return s.p.LookupAccount(ctx, t, kind, key)
	})
}

func (s *side) Licenses(ctx context.Context) (sdk.Licenses, error) {
	return call(ctx, s, func(t sdk.Target) (sdk.Licenses, error) { return s.p.Licenses(ctx, t) })
}

func (s *side) ListChanges(ctx context.Context, req sdk.ChangesRequest) (sdk.Changes, error) {
	return call(ctx, s, func(t sdk.Target) (sdk.Changes, error) { return s.p.ListChanges(ctx, t, req) })
}

func (s *side) Get(ctx context.Context, id string) (sdk.Event, error) {
	return call(ctx, s, func(t sdk.Target) (sdk.Event, error) { return s.p.Get(ctx, t, id) })
}

func (s *side) Create(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	return call(ctx, s, func(t sdk.Target) (sdk.Event, error) { return s.p.Create(ctx, t, ev) })
}

func (s *side) Update(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	return call(ctx, s, func(t sdk.Target) (sdk.Event, error) { return s.p.Update(ctx, t, ev) })
}

func (s *side) Delete(ctx context.Context, id, version string) error {
	_, err := call(ctx, s, func(t sdk.Target) (struct{}, error) { return struct{}{}, s.p.Delete(ctx, t, id, version) })
	return err
}

func (s *side) FindByCorrelation(ctx context.Context, correlationID string) ([]sdk.Event, error) {
	return call(ctx, s, func(t sdk.Target) ([]sdk.Event, error) { return s.p.FindByCorrelation(ctx, t, correlationID) })
}

// send makes one call of fn holding one of the instance's request slots.
func send[T any](ctx context.Context, s *side, t sdk.Target, fn func(sdk.Target) (T, error)) (T, error) {
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	return fn(t)
}
