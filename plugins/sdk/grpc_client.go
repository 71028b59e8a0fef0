package sdk

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "synchronizer/plugins/proto/calendar/v1"
)

// GRPCClient is the host's side of the boundary: a Provider whose methods call a
// plugin over gRPC. Errors come back as *RemoteError values that match the SDK's
// sentinels; the request records of each answer are reported to the Recorder on the
// call's context (WithRecorder), also when the call fails.
type GRPCClient struct {
	c pb.CalendarProviderClient
}

var _ Provider = (*GRPCClient)(nil)

// NewGRPCClient returns a Provider speaking to the plugin behind conn.
func NewGRPCClient(conn grpc.ClientConnInterface) *GRPCClient {
	return &GRPCClient{c: pb.NewCalendarProviderClient(conn)}
}

// call runs one RPC with a trailer capture, reports the call's request records and
// converts the error.
func call[Resp any](ctx context.Context, rpc func(context.Context, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	var trailer metadata.MD
	resp, err := rpc(ctx, grpc.Trailer(&trailer))
	for _, v := range trailer.Get(CallReportTrailer) {
		var rep pb.CallReport
		if proto.Unmarshal([]byte(v), &rep) != nil {
			continue
		}
		for _, rec := range recordsFromPB(&rep) {
			ObserveRequest(ctx, rec)
		}
	}
	return resp, fromStatus(err)
}

// Info implements Provider.
func (g *GRPCClient) Info(ctx context.Context) (Info, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.InfoResponse, error) {
		return g.c.Info(ctx, &pb.InfoRequest{}, o...)
	})
	if err != nil {
		return Info{}, err
	}
	return Info{
		Name:            resp.GetName(),
		ProtocolVersion: int(resp.GetProtocolVersion()),
		Capabilities:    capabilitiesFromPB(resp.GetCapabilities()),
	}, nil
}

// Configure implements Provider.
func (g *GRPCClient) Configure(ctx context.Context, instance string, settings map[string]string) error {
	_, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.ConfigureResponse, error) {
		return g.c.Configure(ctx, &pb.ConfigureRequest{Instance: instance, Settings: cloneMap(settings)}, o...)
	})
	return err
}

// OAuth implements Provider.
func (g *GRPCClient) OAuth(ctx context.Context, req OAuthRequest) (OAuthSpec, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.OAuthResponse, error) {
		return g.c.OAuth(ctx, &pb.OAuthRequest{
			Instance:    req.Instance,
			Purpose:     string(req.Purpose),
			LoginHint:   req.LoginHint,
			RedirectUrl: req.RedirectURL,
		}, o...)
	})
	if err != nil {
		return OAuthSpec{}, err
	}
	return oauthSpecFromPB(resp), nil
}

// Identify implements Provider.
func (g *GRPCClient) Identify(ctx context.Context, t Target, tok TokenInfo) (Account, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.IdentifyResponse, error) {
		return g.c.Identify(ctx, &pb.IdentifyRequest{Target: targetToPB(t), Token: tokenToPB(tok)}, o...)
	})
	if err != nil {
		return Account{}, err
	}
	return accountFromPB(resp.GetAccount()), nil
}

// LookupAccount implements Provider.
func (g *GRPCClient) LookupAccount(ctx context.Context, t Target, kind AccountKind, key string) (Account, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.LookupAccountResponse, error) {
		return g.c.LookupAccount(ctx, &pb.LookupAccountRequest{Target: targetToPB(t), Kind: string(kind), Key: key}, o...)
	})
	if err != nil {
		return Account{}, err
	}
	return accountFromPB(resp.GetAccount()), nil
}

// Licenses implements Provider.
func (g *GRPCClient) Licenses(ctx context.Context, t Target) (Licenses, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.LicensesResponse, error) {
		return g.c.Licenses(ctx, &pb.LicensesRequest{Target: targetToPB(t)}, o...)
	})
	if err != nil {
		return Licenses{}, err
	}
	return Licenses{UserLicenses: int(resp.GetUserLicenses()), InUse: int(resp.GetInUse())}, nil
}

// ListChanges implements Provider.
func (g *GRPCClient) ListChanges(ctx context.Context, t Target, req ChangesRequest) (Changes, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.ListChangesResponse, error) {
		return g.c.ListChanges(ctx, &pb.ListChangesRequest{
			Target:   targetToPB(t),
			Cursor:   req.Cursor,
			Window:   windowToPB(req.Window),
			PageSize: clampInt32(req.PageSize),
		}, o...)
	})
	if err != nil {
		return Changes{}, err
	}
	evs, err := eventsFromPB(resp.GetEvents())
	if err != nil {
		return Changes{}, fmt.Errorf("list changes of %s: plugin answer: %w", t.Account, err)
	}
	return Changes{
		Events:  evs,
		Removed: cloneStrings(resp.GetRemoved()),
		Full:    resp.GetFull(),
		Cursor:  resp.GetCursor(),
		More:    resp.GetMore(),
	}, nil
}

// Get implements Provider.
func (g *GRPCClient) Get(ctx context.Context, t Target, id string) (Event, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.GetResponse, error) {
		return g.c.Get(ctx, &pb.GetRequest{Target: targetToPB(t), Id: id}, o...)
	})
	if err != nil {
		return Event{}, err
	}
	ev, err := eventFromPB(resp.GetEvent())
	if err != nil {
		return Event{}, fmt.Errorf("get %s: plugin answer: %w", id, err)
	}
	return ev, nil
}

// Create implements Provider.
func (g *GRPCClient) Create(ctx context.Context, t Target, ev Event) (Event, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.CreateResponse, error) {
		return g.c.Create(ctx, &pb.CreateRequest{Target: targetToPB(t), Event: eventToPB(ev)}, o...)
	})
	if err != nil {
		return Event{}, err
	}
	out, err := eventFromPB(resp.GetEvent())
	if err != nil {
		return Event{}, fmt.Errorf("create: plugin answer: %w", err)
	}
	return out, nil
}

// Update implements Provider.
func (g *GRPCClient) Update(ctx context.Context, t Target, ev Event) (Event, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.UpdateResponse, error) {
		return g.c.Update(ctx, &pb.UpdateRequest{Target: targetToPB(t), Event: eventToPB(ev)}, o...)
	})
	if err != nil {
		return Event{}, err
	}
	out, err := eventFromPB(resp.GetEvent())
	if err != nil {
		return Event{}, fmt.Errorf("update %s: plugin answer: %w", ev.ID, err)
	}
	return out, nil
}

// Delete implements Provider.
func (g *GRPCClient) Delete(ctx context.Context, t Target, id, version string) error {
	_, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.DeleteResponse, error) {
		return g.c.Delete(ctx, &pb.DeleteRequest{Target: targetToPB(t), Id: id, Version: version}, o...)
	})
	return err
}

// FindByCorrelation implements Provider.
func (g *GRPCClient) FindByCorrelation(ctx context.Context, t Target, correlationID string) ([]Event, error) {
	resp, err := call(ctx, func(ctx context.Context, o ...grpc.CallOption) (*pb.FindByCorrelationResponse, error) {
		return g.c.FindByCorrelation(ctx, &pb.FindByCorrelationRequest{Target: targetToPB(t), CorrelationId: correlationID}, o...)
	})
	if err != nil {
		return nil, err
	}
	evs, err := eventsFromPB(resp.GetEvents())
	if err != nil {
		return nil, fmt.Errorf("find by correlation: plugin answer: %w", err)
	}
	return evs, nil
}
