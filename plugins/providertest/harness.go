// Package providertest is the conformance suite every calendar provider must pass.
// It drives a provider the way the daemon does — over the real gRPC boundary — and
// checks the contract of plugins/sdk: every synced field survives a round trip,
// series keep their exceptions and cancelled occurrences, instants stay exact
// across time zones and DST, all-day stays all-day, paging returns everything once,
// incremental reads report edits and deletes, expired cursors ask for a full sync,
// push notifications (where announced) wake the changed account and refuse a
// wrong secret, versions are preconditions, correlation ids are found again, throttling carries
// its retry hint, a bad token is "unauthenticated", and garbage from the service
// is a clean error rather than an empty calendar.
//
// # Plugging a provider in
//
// A provider's own test package builds a Harness around its emulator and calls Run:
//
//	func TestConformance(t *testing.T) {
//		srv := graphtest.New(graphtest.Options{})       // the emulator
//		ts := httptest.NewServer(srv)
//		defer ts.Close()
//		providertest.Run(t, providertest.Harness{
//			Provider: providertest.OverGRPC(t, m365.New(nil)),
//			Instance: "acme",
//			Settings: srv.Settings(ts.URL, false),
//			NewTarget: func(t *testing.T) sdk.Target {       // an empty calendar
//				u, _ := srv.AddUser(graphtest.User{UserPrincipalName: ...})
//				return sdk.Target{Instance: "acme", Account: u.ID,
//					Credential: sdk.Credential{Type: "bearer", Token: srv.AdminToken()}}
//			},
//			OutOfBand:      graphUser{...},                   // a user's edits, over REST
//			ExpireCursors:  func(*testing.T) { srv.ExpireCursors() },
//			Throttle:       ...,                              // 429 + Retry-After
//			BadCredential:  ...,                              // a refused token
//			BreakResponses: ...,                              // garbage / truncated JSON
//			Expect:         ...,                              // what the service keeps
//			MakesHTTPRequests: true,
//		})
//	}
//
// The built-in providers' harnesses are complete examples: conformance_test.go
// in plugins/m365, plugins/google and plugins/superoffice.
//
// OverGRPC serves the provider on a loopback gRPC server with the SDK's adapters,
// exactly as a plugin process would; a *pluginhost.Plugin (a real process) works
// as Provider too. Every optional hook left nil skips the checks that need it
// (visible with go test -v); Skip skips named checks with a reason, which should
// name what the service cannot do. With MakesHTTPRequests, every check that
// reaches the service must report its requests; Info, which a provider answers
// without its service, need not. The suite never runs its checks in parallel
// (fault injection is often service-wide) and makes a fresh target for each check.
package providertest

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"synchronizer/plugins/sdk"
)

// Harness is what a provider's test package supplies.
type Harness struct {
	// Provider is the provider under test as the host sees it: behind the gRPC
	// boundary (OverGRPC, or a plugin process). Required.
	Provider sdk.Provider
	// Instance and Settings are configured first (Provider.Configure). Required:
	// Instance.
	Instance string
	Settings map[string]string
	// NewTarget returns a target on Instance: a calendar that is empty and whose
	// credential is valid. It is called once per check. Required.
	NewTarget func(t *testing.T) sdk.Target
	// Now is the service's clock; the suite places its events around it.
	// [time.Now]
	Now func() time.Time

	// Expect returns the event the provider should give back after sent was
	// created: a service that cannot keep a field (Google has no "oof", SuperOffice
	// no time zone) says so here. Only synced fields are compared: server-assigned
	// ones (ID, Version, ICalUID, MeetingKey, Created, Updated, Extras) are not.
	// [identity]
	Expect func(sent sdk.Event) sdk.Event
	// Attendees, when set, are used for a meeting round trip (people and a room
	// the service knows). [meeting check skipped]
	Attendees []sdk.Attendee
	// Category is a category or task type the service accepts. ["" not sent]
	Category string
	// PageSize is the page size hint of the paging check; the suite creates
	// 3*PageSize+1 events. [5]
	PageSize int

	// OutOfBand makes changes as a user would, outside the provider. nil uses the
	// provider's own writes, which is right only for a service that reports its
	// own writes as changes (all real ones do, and so does plugins/memory).
	OutOfBand OutOfBand
	// ExpireCursors makes every change cursor issued so far invalid.
	ExpireCursors func(t *testing.T)
	// Throttle makes the service refuse requests for tg as throttled (HTTP 429 with
	// a Retry-After) until restore is called, and returns the announced retry hint.
	Throttle func(t *testing.T, tg sdk.Target) (retryAfter time.Duration, restore func())
	// BadCredential returns tg with a credential the service refuses (401).
	BadCredential func(t *testing.T, tg sdk.Target) sdk.Target
	// BreakResponses makes the service answer requests for tg with a broken body
	// of the given kind until restore is called.
	BreakResponses func(t *testing.T, tg sdk.Target, kind BadResponse) (restore func())
	// MakesHTTPRequests says the provider talks HTTP, so every check that reaches
	// the service must report request records to the host (sdk.WithRecorder).
	// Checks that need no service, like Info, are not held to it.
	MakesHTTPRequests bool

	// PushChange makes a change on tg that the service announces to push
	// subscribers as a person's change (a service that tells the provider's own
	// writes apart needs it made as someone else). [OutOfBand.Put]
	PushChange func(t *testing.T, tg sdk.Target, ev sdk.Event)
	// PushWait bounds how long the Push check waits for a notification to arrive
	// (the check runs only when Info announces Capabilities.Push). [10s]
	PushWait time.Duration

	// Skip names checks (subtest paths below Run, like "Paging" or
	// "RoundTrip/meeting") that are skipped, with the reason.
	Skip map[string]string
}

// OutOfBand changes a calendar the way a user would, directly in the service.
type OutOfBand interface {
	// Put creates ev (ev.ID == "") or replaces the item ev.ID, and returns it as
	// stored, with its id.
	Put(t *testing.T, tg sdk.Target, ev sdk.Event) sdk.Event
	// Remove deletes the item id.
	Remove(t *testing.T, tg sdk.Target, id string)
}

// BadResponse is a kind of broken answer from the service.
type BadResponse string

const (
	// Garbage: a 200 answer whose body is not JSON at all.
	Garbage BadResponse = "garbage"
	// Truncated: a 200 answer whose JSON body stops in the middle.
	Truncated BadResponse = "truncated"
)

// OverGRPC serves p on a loopback gRPC server with the SDK's server adapter and
// returns the SDK's client adapter for it: the boundary a plugin process has,
// without the process. Both are stopped when the test ends.
func OverGRPC(t testing.TB, p sdk.Provider) sdk.Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the provider's gRPC server: %v", err)
	}
	srv := grpc.NewServer(sdk.GRPCServerOptions()...)
	sdk.RegisterGRPCServer(srv, p, nil)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(),
		append(sdk.GRPCDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		srv.Stop()
		t.Fatalf("dial the provider's gRPC server: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return sdk.NewGRPCClient(conn)
}

// OverPlugin serves p through go-plugin's in-process gRPC connection with the
// SDK's plugin set and returns what the host dispenses from it: the boundary
// of OverGRPC plus go-plugin's own wiring. Both ends are closed when the test
// ends.
func OverPlugin(t testing.TB, p sdk.Provider) sdk.Provider {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, sdk.VersionedPlugins(p)[sdk.ProtocolVersion])
	t.Cleanup(func() {
		// The server stops first: closing the client first asks the server to
		// stop itself, which would race with this Stop.
		server.Stop()
		client.Close()
	})
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense the provider: %v", err)
	}
	host, ok := raw.(sdk.Provider)
	if !ok {
		t.Fatalf("dispensed %T, not an sdk.Provider", raw)
	}
	return host
}
