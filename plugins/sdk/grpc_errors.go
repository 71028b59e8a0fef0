package sdk

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "synchronizer/plugins/proto/calendar/v1"
)

// How errors cross the boundary: the plugin side turns a provider's error into a
// gRPC status whose code fits and whose pb.Error detail names the sentinel (and the
// retry hint of a throttle); the host side turns the status back into an error that
// matches the same sentinel with errors.Is, gives the throttle back to errors.As
// and RetryAfter, keeps the plugin's message, and still answers status.Code.

type errorKind struct {
	sentinel error
	kind     pb.ErrorKind
	code     codes.Code
}

// errorKinds is ordered: the first sentinel err matches decides. Consent revoked
// comes before unauthenticated because a provider may wrap both.
func errorKinds() [9]errorKind {
	return [...]errorKind{
		{ErrThrottled, pb.ErrorKind_ERROR_KIND_THROTTLED, codes.ResourceExhausted},
		{ErrConsentRevoked, pb.ErrorKind_ERROR_KIND_CONSENT_REVOKED, codes.Unauthenticated},
		{ErrUnauthenticated, pb.ErrorKind_ERROR_KIND_UNAUTHENTICATED, codes.Unauthenticated},
		{ErrFullSyncRequired, pb.ErrorKind_ERROR_KIND_FULL_SYNC_REQUIRED, codes.FailedPrecondition},
		{ErrPreconditionFailed, pb.ErrorKind_ERROR_KIND_PRECONDITION_FAILED, codes.Aborted},
		{ErrNotFound, pb.ErrorKind_ERROR_KIND_NOT_FOUND, codes.NotFound},
		{ErrPermissionDenied, pb.ErrorKind_ERROR_KIND_PERMISSION_DENIED, codes.PermissionDenied},
		{ErrInvalidArgument, pb.ErrorKind_ERROR_KIND_INVALID_ARGUMENT, codes.InvalidArgument},
		{ErrUnsupported, pb.ErrorKind_ERROR_KIND_UNSUPPORTED, codes.Unimplemented},
	}
}

// toStatus converts a provider's error into the status the plugin sends.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	for _, k := range errorKinds() {
		if !errors.Is(err, k.sentinel) {
			continue
		}
		detail := &pb.Error{Kind: k.kind}
		var t *ThrottledError
		if errors.As(err, &t) {
			detail.RetryAfter = durToPB(t.RetryAfter)
			detail.Reason = t.Reason
		}
		st, derr := status.New(k.code, err.Error()).WithDetails(detail)
		if derr != nil { // only fails for details that do not marshal
			return status.Error(k.code, err.Error())
		}
		return st.Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

// RemoteError is an error a plugin returned, as the host sees it: the plugin's
// message, the sentinel (or *ThrottledError) it matches, and the gRPC status.
type RemoteError struct {
	msg    string
	kind   error // a sentinel, a *ThrottledError, a context error, or nil
	status *status.Status
}

func (e *RemoteError) Error() string { return e.msg }

// Unwrap gives errors.Is and errors.As the sentinel.
func (e *RemoteError) Unwrap() error { return e.kind }

// GRPCStatus lets status.Code and status.FromError see the original status.
func (e *RemoteError) GRPCStatus() *status.Status { return e.status }

// fromStatus converts what a gRPC call returned into a RemoteError; errors that are
// not statuses pass through unchanged.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &RemoteError{msg: st.Message(), status: st}
	for _, d := range st.Details() {
		detail, ok := d.(*pb.Error)
		if !ok {
			continue
		}
		for _, k := range errorKinds() {
			if k.kind == detail.GetKind() {
				out.kind = k.sentinel
			}
		}
		if detail.GetKind() == pb.ErrorKind_ERROR_KIND_THROTTLED {
			out.kind = &ThrottledError{RetryAfter: durFromPB(detail.GetRetryAfter()), Reason: detail.GetReason()}
		}
	}
	if out.kind == nil {
		out.kind = kindOfCode(st.Code())
	}
	if out.msg == "" {
		out.msg = st.Code().String()
		if out.kind != nil {
			out.msg = out.kind.Error()
		}
	}
	return out
}

// kindOfCode is the fallback for a status without an Error detail (a plugin not
// written with this package).
func kindOfCode(c codes.Code) error {
	switch c {
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.ResourceExhausted:
		return &ThrottledError{}
	case codes.Unimplemented:
		return ErrUnsupported
	}
	for _, k := range errorKinds() {
		if k.code == c && k.sentinel != ErrConsentRevoked && k.sentinel != ErrThrottled {
			return k.sentinel
		}
	}
	return nil
}
