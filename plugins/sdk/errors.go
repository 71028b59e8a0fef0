package sdk

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Providers wrap them with context (fmt.Errorf("...: %w", ErrNotFound));
// callers test with errors.Is. They survive the gRPC boundary as status codes with typed
// details (see grpc adapters), so errors.Is works on the host side too.
var (
	// ErrNotFound: the item, account or calendar does not exist (404/410 on a GET,
	// a cancelled stub for a single event).
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: the version given with Update or Delete is stale (HTTP 412).
	ErrPreconditionFailed = errors.New("precondition failed: the item changed since it was read")
	// ErrFullSyncRequired: the change cursor expired or is invalid (HTTP 410 and friends);
	// the caller must list again with an empty cursor.
	ErrFullSyncRequired = errors.New("full sync required: the change cursor expired")
	// ErrUnauthenticated: the credential was refused (HTTP 401). The host refreshes its
	// token and retries once.
	ErrUnauthenticated = errors.New("unauthenticated: the credential was refused")
	// ErrConsentRevoked: the grant behind the credential is gone (invalid_grant); the
	// link needs a new consent. Returned by hosts' token sources, and by providers that
	// exchange long-lived tokens themselves (the SuperOffice system user).
	ErrConsentRevoked = errors.New("consent revoked or expired")
	// ErrPermissionDenied: authenticated, but not allowed (HTTP 403 other than quota).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrInvalidArgument: the request or the item is malformed for this provider.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnsupported: the provider does not implement this call (see Capabilities).
	ErrUnsupported = errors.New("not supported by this provider")
	// ErrThrottled is matched by every *ThrottledError.
	ErrThrottled = errors.New("throttled")
)

// ThrottledError says the service asked us to slow down (HTTP 429, 503, Google's
// 403 rateLimitExceeded). RetryAfter is the server's hint, zero when it gave none.
type ThrottledError struct {
	RetryAfter time.Duration
	Reason     string
}

func (e *ThrottledError) Error() string {
	msg := "throttled"
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Is makes errors.Is(err, ErrThrottled) true for every ThrottledError.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// RetryAfter returns the retry hint of a throttled error anywhere in err's chain,
// and whether err was a throttle at all.
func RetryAfter(err error) (time.Duration, bool) {
	var t *ThrottledError
	if errors.As(err, &t) {
		return t.RetryAfter, true
	}
	return 0, errors.Is(err, ErrThrottled)
}
