package sdk

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"

	"google.golang.org/grpc"

	pb "synchronizer/plugins/proto/calendar/v1"
)

// The push RPCs on both sides of the boundary. A plugin whose provider does not
// implement Pusher answers UNIMPLEMENTED, which the host reads as ErrUnsupported.

var _ Pusher = (*GRPCClient)(nil)

// Watch implements Pusher.
func (g *GRPCClient) Watch(ctx context.Context, t Target, req WatchRequest) (Subscription, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.WatchResponse, error) {
		return g.c.Watch(ctx, &pb.WatchRequest{
			Target:  targetToPB(t),
			Url:     req.URL,
			Secret:  req.Secret,
			Expires: tsToPB(req.Expiry),
			Current: subscriptionToPB(req.Current),
		}, o...)
	})
	if err != nil {
		return Subscription{}, err
	}
	sub, err := subscriptionFromPB(resp.GetSubscription())
	if err != nil {
		return Subscription{}, fmt.Errorf("watch %s: plugin answer: %w", t.Account, err)
	}
	return sub, nil
}

// Unwatch implements Pusher.
func (g *GRPCClient) Unwatch(ctx context.Context, t Target, sub Subscription) error {
	_, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.UnwatchResponse, error) {
		return g.c.Unwatch(ctx, &pb.UnwatchRequest{Target: targetToPB(t), Subscription: subscriptionToPB(sub)}, o...)
	})
	return err
}

// Notification implements Pusher.
func (g *GRPCClient) Notification(ctx context.Context, instance string, req NotificationRequest) (NotificationResult, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.NotificationResponse, error) {
		return g.c.Notification(ctx, &pb.NotificationRequest{
			Instance:     instance,
			Method:       req.Method,
			Path:         req.Path,
			Query:        req.Query,
			Headers:      headersToPB(req.Headers),
			Body:         req.Body,
			Secret:       req.Secret,
			Subscription: subscriptionToPB(req.Subscription),
			Account:      req.Account,
		}, o...)
	})
	if err != nil {
		return NotificationResult{}, err
	}
	return NotificationResult{
		Status:      int(resp.GetStatus()),
		ContentType: resp.GetContentType(),
		Body:        resp.GetBody(),
		Wake:        resp.GetWake(),
		Accounts:    cloneStrings(resp.GetAccounts()),
		Lifecycle:   resp.GetLifecycle(),
	}, nil
}

// pusher returns the served provider's push part, or the error that says it has
// none.
func (s *grpcServer) pusher() (Pusher, error) {
	p, ok := s.impl.(Pusher)
	if !ok {
		return nil, fmt.Errorf("push: %w", ErrUnsupported)
	}
	return p, nil
}

func (s *grpcServer) Watch(ctx context.Context, req *pb.WatchRequest) (*pb.WatchResponse, error) {
	var out *pb.WatchResponse
	err := s.serve(ctx, "Watch", func(ctx context.Context) error {
		p, err := s.pusher()
		if err != nil {
			return err
		}
		exp, err := tsFromPB(req.GetExpires(), "expires")
		if err != nil {
			return err
		}
		cur, err := subscriptionFromPB(req.GetCurrent())
		if err != nil {
			return err
		}
		sub, err := p.Watch(ctx, targetFromPB(req.GetTarget()), WatchRequest{
			URL: req.GetUrl(), Secret: req.GetSecret(), Expiry: exp, Current: cur,
		})
		if err != nil {
			return err
		}
		out = &pb.WatchResponse{Subscription: subscriptionToPB(sub)}
		return nil
	})
	return out, err
}

func (s *grpcServer) Unwatch(ctx context.Context, req *pb.UnwatchRequest) (*pb.UnwatchResponse, error) {
	err := s.serve(ctx, "Unwatch", func(ctx context.Context) error {
		p, err := s.pusher()
		if err != nil {
			return err
		}
		sub, err := subscriptionFromPB(req.GetSubscription())
		if err != nil {
			return err
		}
		return p.Unwatch(ctx, targetFromPB(req.GetTarget()), sub)
	})
	if err != nil {
		return nil, err
	}
	return &pb.UnwatchResponse{}, nil
}

func (s *grpcServer) Notification(ctx context.Context, req *pb.NotificationRequest) (*pb.NotificationResponse, error) {
	var out *pb.NotificationResponse
	err := s.serve(ctx, "Notification", func(ctx context.Context) error {
		p, err := s.pusher()
		if err != nil {
			return err
		}
		sub, err := subscriptionFromPB(req.GetSubscription())
		if err != nil {
			return err
		}
		res, err := p.Notification(ctx, req.GetInstance(), NotificationRequest{
			Method:       req.GetMethod(),
			Path:         req.GetPath(),
			Query:        req.GetQuery(),
			Headers:      headersFromPB(req.GetHeaders()),
			Body:         req.GetBody(),
			Secret:       req.GetSecret(),
			Subscription: sub,
			Account:      req.GetAccount(),
		})
		if err != nil {
			return err
		}
		out = &pb.NotificationResponse{
			Status:      clampInt32(res.Status),
			ContentType: res.ContentType,
			Body:        res.Body,
			Wake:        res.Wake,
			Accounts:    cloneStrings(res.Accounts),
			Lifecycle:   res.Lifecycle,
		}
		return nil
	})
	return out, err
}

func subscriptionToPB(s Subscription) *pb.Subscription {
	if s.ID == "" && s.ResourceID == "" && s.Expires.IsZero() && len(s.Extra) == 0 {
		return nil
	}
	return &pb.Subscription{Id: s.ID, ResourceId: s.ResourceID, Expires: tsToPB(s.Expires), Extra: cloneMap(s.Extra)}
}

func subscriptionFromPB(s *pb.Subscription) (Subscription, error) {
	if s == nil {
		return Subscription{}, nil
	}
	exp, err := tsFromPB(s.GetExpires(), "subscription.expires")
	if err != nil {
		return Subscription{}, err
	}
	return Subscription{ID: s.GetId(), ResourceID: s.GetResourceId(), Expires: exp, Extra: cloneMap(s.GetExtra())}, nil
}

// headersToPB sends headers in a stable order (sorted by name).
func headersToPB(h map[string][]string) []*pb.Header {
	if len(h) == 0 {
		return nil
	}
	out := make([]*pb.Header, 0, len(h))
	for name, vals := range h {
		out = append(out, &pb.Header{Name: name, Values: slices.Clone(vals)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// headersFromPB canonicalises names, so a plugin in another language may send
// them in any case.
func headersFromPB(hs []*pb.Header) map[string][]string {
	if len(hs) == 0 {
		return nil
	}
	out := make(map[string][]string, len(hs))
	for _, h := range hs {
		k := http.CanonicalHeaderKey(h.GetName())
		out[k] = append(out[k], h.GetValues()...)
	}
	return out
}
