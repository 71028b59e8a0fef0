package pluginhost

import (
	"context"
	"fmt"

	"synchronizer/plugins/sdk"
)

// The push part of the contract (sdk.Pusher), supervised like every other call.
// A plugin process whose provider has no push part answers sdk.ErrUnsupported.

var _ sdk.Pusher = (*Plugin)(nil)

func pusherOf(r *running) (sdk.Pusher, error) {
	p, ok := r.prov.(sdk.Pusher)
	if !ok {
		return nil, fmt.Errorf("push: %w", sdk.ErrUnsupported)
	}
	return p, nil
}

// Watch implements sdk.Pusher.
func (p *Plugin) Watch(ctx context.Context, t sdk.Target, req sdk.WatchRequest) (sdk.Subscription, error) {
	var out sdk.Subscription
	err := p.call(ctx, "Watch", t.Instance, func(ctx context.Context, r *running) error {
		pu, err := pusherOf(r)
		if err != nil {
			return err
		}
		out, err = pu.Watch(ctx, t, req)
		return err
	})
	return out, err
}

// Unwatch implements sdk.Pusher.
func (p *Plugin) Unwatch(ctx context.Context, t sdk.Target, sub sdk.Subscription) error {
	return p.call(ctx, "Unwatch", t.Instance, func(ctx context.Context, r *running) error {
		pu, err := pusherOf(r)
		if err != nil {
			return err
		}
		return pu.Unwatch(ctx, t, sub)
	})
}

// Notification implements sdk.Pusher.
func (p *Plugin) Notification(ctx context.Context, instance string, req sdk.NotificationRequest) (sdk.NotificationResult, error) {
	var out sdk.NotificationResult
	err := p.call(ctx, "Notification", instance, func(ctx context.Context, r *running) error {
		pu, err := pusherOf(r)
		if err != nil {
			return err
		}
		out, err = pu.Notification(ctx, instance, req)
		return err
	})
	return out, err
}
