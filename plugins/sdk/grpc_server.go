package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "synchronizer/plugins/proto/calendar/v1"
)

// CallReportTrailer is the gRPC trailer that carries a pb.CallReport with every
// answer: the HTTP requests the provider made for that call.
const CallReportTrailer = "synchronizer-call-report-bin"

// RegisterGRPCServer serves p on s as the CalendarProvider service. Serve does this
// for plugin authors; tests use it directly.
func RegisterGRPCServer(s *grpc.Server, p Provider, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pb.RegisterCalendarProviderServer(s, &grpcServer{impl: p, log: logger})
}

// grpcServer adapts a Provider to the generated gRPC service. Each call gets a
// RequestLog as its context's Recorder; the records go back in the trailer, also
// when the call fails. A panicking provider answers INTERNAL instead of taking the
// plugin (and every other call in it) down.
type grpcServer struct {
	pb.UnimplementedCalendarProviderServer
	impl Provider
	log  *slog.Logger
}

// serve runs fn with a recorder on ctx, turns its error into a status, sends the
// call report, and recovers a panic.
func (s *grpcServer) serve(ctx context.Context, method string, fn func(ctx context.Context) error) (err error) {
	var rlog RequestLog
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("provider panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = status.Errorf(codes.Internal, "provider panicked in %s: %v", method, r)
		}
		if recs := rlog.Records(); len(recs) > 0 {
			if b, merr := proto.Marshal(recordsToPB(recs)); merr == nil {
				_ = grpc.SetTrailer(ctx, metadata.Pairs(CallReportTrailer, string(b)))
			}
		}
	}()
	return toStatus(fn(WithRecorder(ctx, &rlog)))
}

func (s *grpcServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	var out *pb.InfoResponse
	err := s.serve(ctx, "Info", func(ctx context.Context) error {
		info, err := s.impl.Info(ctx)
		if err != nil {
			return err
		}
		out = &pb.InfoResponse{
			Name:            info.Name,
			ProtocolVersion: clampInt32(info.ProtocolVersion),
			Capabilities:    capabilitiesToPB(info.Capabilities),
		}
		return nil
	})
	return out, err
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	err := s.serve(ctx, "Configure", func(ctx context.Context) error {
		settings := req.GetSettings()
		if settings == nil {
			settings = map[string]string{}
		}
		return s.impl.Configure(ctx, req.GetInstance(), settings)
	})
	if err != nil {
		return nil, err
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServer) OAuth(ctx context.Context, req *pb.OAuthRequest) (*pb.OAuthResponse, error) {
	var out *pb.OAuthResponse
	err := s.serve(ctx, "OAuth", func(ctx context.Context) error {
		spec, err := s.impl.OAuth(ctx, OAuthRequest{
			Instance:    req.GetInstance(),
			Purpose:     OAuthPurpose(req.GetPurpose()),
			LoginHint:   req.GetLoginHint(),
			RedirectURL: req.GetRedirectUrl(),
		})
		if err != nil {
			return err
		}
		out = oauthSpecToPB(spec)
		return nil
	})
	return out, err
}

func (s *grpcServer) Identify(ctx context.Context, req *pb.IdentifyRequest) (*pb.IdentifyResponse, error) {
	var out *pb.IdentifyResponse
	err := s.serve(ctx, "Identify", func(ctx context.Context) error {
		tok, err := tokenFromPB(req.GetToken())
		if err != nil {
			return err
		}
		acc, err := s.impl.Identify(ctx, targetFromPB(req.GetTarget()), tok)
		if err != nil {
			return err
		}
		out = &pb.IdentifyResponse{Account: accountToPB(acc)}
		return nil
	})
	return out, err
}

func (s *grpcServer) LookupAccount(ctx context.Context, req *pb.LookupAccountRequest) (*pb.LookupAccountResponse, error) {
	var out *pb.LookupAccountResponse
	err := s.serve(ctx, "LookupAccount", func(ctx context.Context) error {
		acc, err := s.impl.LookupAccount(ctx, targetFromPB(req.GetTarget()), AccountKind(req.GetKind()), req.GetKey())
		if err != nil {
			return err
		}
		out = &pb.LookupAccountResponse{Account: accountToPB(acc)}
		return nil
	})
	return out, err
}

func (s *grpcServer) Licenses(ctx context.Context, req *pb.LicensesRequest) (*pb.LicensesResponse, error) {
	var out *pb.LicensesResponse
	err := s.serve(ctx, "Licenses", func(ctx context.Context) error {
		l, err := s.impl.Licenses(ctx, targetFromPB(req.GetTarget()))
		if err != nil {
			return err
		}
		out = &pb.LicensesResponse{UserLicenses: int64(l.UserLicenses), InUse: int64(l.InUse)}
		return nil
	})
	return out, err
}

func (s *grpcServer) ListChanges(ctx context.Context, req *pb.ListChangesRequest) (*pb.ListChangesResponse, error) {
	var out *pb.ListChangesResponse
	err := s.serve(ctx, "ListChanges", func(ctx context.Context) error {
		w, err := windowFromPB(req.GetWindow())
		if err != nil {
			return err
		}
		ch, err := s.impl.ListChanges(ctx, targetFromPB(req.GetTarget()), ChangesRequest{
			Cursor:   req.GetCursor(),
			Window:   w,
			PageSize: int(req.GetPageSize()),
		})
		if err != nil {
			return err
		}
		out = &pb.ListChangesResponse{
			Events:  eventsToPB(ch.Events),
			Removed: cloneStrings(ch.Removed),
			Full:    ch.Full,
			Cursor:  ch.Cursor,
			More:    ch.More,
		}
		return nil
	})
	return out, err
}

func (s *grpcServer) Get(ctx context.Context, req *pb.GetRequest) (*pb.GetResponse, error) {
	var out *pb.GetResponse
	err := s.serve(ctx, "Get", func(ctx context.Context) error {
		ev, err := s.impl.Get(ctx, targetFromPB(req.GetTarget()), req.GetId())
		if err != nil {
			return err
		}
		out = &pb.GetResponse{Event: eventToPB(ev)}
		return nil
	})
	return out, err
}

func (s *grpcServer) Create(ctx context.Context, req *pb.CreateRequest) (*pb.CreateResponse, error) {
	var out *pb.CreateResponse
	err := s.serve(ctx, "Create", func(ctx context.Context) error {
		in, err := eventFromPB(req.GetEvent())
		if err != nil {
			return err
		}
		ev, err := s.impl.Create(ctx, targetFromPB(req.GetTarget()), in)
		if err != nil {
			return err
		}
		out = &pb.CreateResponse{Event: eventToPB(ev)}
		return nil
	})
	return out, err
}

func (s *grpcServer) Update(ctx context.Context, req *pb.UpdateRequest) (*pb.UpdateResponse, error) {
	var out *pb.UpdateResponse
	err := s.serve(ctx, "Update", func(ctx context.Context) error {
		in, err := eventFromPB(req.GetEvent())
		if err != nil {
			return err
		}
		ev, err := s.impl.Update(ctx, targetFromPB(req.GetTarget()), in)
		if err != nil {
			return err
		}
		out = &pb.UpdateResponse{Event: eventToPB(ev)}
		return nil
	})
	return out, err
}

func (s *grpcServer) Delete(ctx context.Context, req *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	err := s.serve(ctx, "Delete", func(ctx context.Context) error {
		return s.impl.Delete(ctx, targetFromPB(req.GetTarget()), req.GetId(), req.GetVersion())
	})
	if err != nil {
		return nil, err
	}
	return &pb.DeleteResponse{}, nil
}

func (s *grpcServer) FindByCorrelation(ctx context.Context, req *pb.FindByCorrelationRequest) (*pb.FindByCorrelationResponse, error) {
	var out *pb.FindByCorrelationResponse
	err := s.serve(ctx, "FindByCorrelation", func(ctx context.Context) error {
		evs, err := s.impl.FindByCorrelation(ctx, targetFromPB(req.GetTarget()), req.GetCorrelationId())
		if err != nil {
			return err
		}
		out = &pb.FindByCorrelationResponse{Events: eventsToPB(evs)}
		return nil
	})
	return out, err
}
