package engine

import (
	"context"

	"synchronizer/plugins/sdk"
)

// Endpoint is one side of a link: the provider calls bound to one calendar or
// diary. The host adapts its plugin client (with token refresh) into this; tests use
// Bind over plugins/memory. Semantics are those of sdk.Provider.
type Endpoint interface {
	ListChanges(ctx context.Context, req sdk.ChangesRequest) (sdk.Changes, error)
	Get(ctx context.Context, id string) (sdk.Event, error)
	Create(ctx context.Context, ev sdk.Event) (sdk.Event, error)
	Update(ctx context.Context, ev sdk.Event) (sdk.Event, error)
	Delete(ctx context.Context, id, version string) error
	FindByCorrelation(ctx context.Context, correlationID string) ([]sdk.Event, error)
}

// TargetFunc returns the target of each call, so a host can hand a fresh credential
// every time.
type TargetFunc func(ctx context.Context) (sdk.Target, error)

// Bind adapts a provider and a target to an Endpoint.
func Bind(p sdk.Provider, target TargetFunc) Endpoint {
	return bound{p: p, target: target}
}

// BindStatic binds a provider to a fixed target.
func BindStatic(p sdk.Provider, t sdk.Target) Endpoint {
	return Bind(p, func(context.Context) (sdk.Target, error) { return t, nil })
}

type bound struct {
	p      sdk.Provider
	target TargetFunc
}

func (b bound) ListChanges(ctx context.Context, req sdk.ChangesRequest) (sdk.Changes, error) {
	t, err := b.target(ctx)
	if err != nil {
		return sdk.Changes{}, err
	}
	return b.p.ListChanges(ctx, t, req)
}

func (b bound) Get(ctx context.Context, id string) (sdk.Event, error) {
	t, err := b.target(ctx)
	if err != nil {
		return sdk.Event{}, err
	}
	return b.p.Get(ctx, t, id)
}

func (b bound) Create(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	t, err := b.target(ctx)
	if err != nil {
		return sdk.Event{}, err
	}
	return b.p.Create(ctx, t, ev)
}

func (b bound) Update(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	t, err := b.target(ctx)
	if err != nil {
		return sdk.Event{}, err
	}
	return b.p.Update(ctx, t, ev)
}

func (b bound) Delete(ctx context.Context, id, version string) error {
	t, err := b.target(ctx)
	if err != nil {
		return err
	}
	return b.p.Delete(ctx, t, id, version)
}

func (b bound) FindByCorrelation(ctx context.Context, correlationID string) ([]sdk.Event, error) {
	t, err := b.target(ctx)
	if err != nil {
		return nil, err
	}
	return b.p.FindByCorrelation(ctx, t, correlationID)
}
