// Package sdk is the Go side of the provider plugin contract that both the daemon and
// every provider plugin link: the Provider interface, the provider-neutral event model,
// the typed errors, and the go-plugin handshake (plugin.go, serve.go) with the gRPC
// adapters (grpc_client.go, grpc_server.go). A plugin author implements Provider and
// calls Serve from main.
//
// The package must stay small and light: it never imports anything under daemon/ and
// holds no state of its own beyond what a single call needs.
//
// # Rules every provider keeps
//
//   - Every method takes a context and returns promptly when it is cancelled.
//   - Credentials arrive with each call (Target.Credential); a provider keeps no secret
//     at rest and never opens the daemon's state store. It may cache short-lived
//     derived credentials (a SuperOffice ticket) in memory.
//   - ListChanges returns single events, series masters and exceptions — never plain
//     expanded occurrences. Cancelled occurrences of a series appear as EXDATE lines in
//     the master's Recurrence.
//   - Errors are the typed errors of errors.go (wrapped with context as needed), so the
//     host can tell "throttled, retry after N" from "full sync required" from a bug.
//   - Writes never make the calendar system send invitations or cancellations.
//   - Push (push.go) is optional: a provider that announces Capabilities.Push
//     implements Pusher. A notification is only a hint that wakes a run; it is
//     judged from the request and the subscription's secret alone, without a
//     network call.
package sdk
