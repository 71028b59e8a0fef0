package pluginhost

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// The test binary plays three roles, chosen by roleEnv: the tests themselves; a
// plugin ("plugin": the same binary re-run, like a built-in provider); and a small
// daemon ("host") that starts a plugin, prints its pid and waits to be killed.
const roleEnv = "PLUGINHOST_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "plugin":
		logger := sdk.NewLogger()
		sdk.Serve(&testPlugin{log: logger})
		os.Exit(0)
	case "host":
		os.Exit(hostMain())
	}
	os.Exit(m.Run())
}

// selfSpec runs this test binary as a plugin.
func selfSpec(t testing.TB, name string) Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Name: name, Path: exe, Args: []string{"-test.run=^$"}}
}

// hostMain starts the test plugin under a Host, prints "pid N" and blocks until
// it is killed.
func hostMain() int {
	h, err := New(Options{Env: []string{roleEnv + "=plugin"}, RuntimeDir: os.Getenv("PLUGINHOST_TEST_RUNTIME")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exe, _ := os.Executable()
	p, err := h.Add(Spec{Name: "test", Path: exe, Args: []string{"-test.run=^$"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := p.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("pid %d\n", p.Status().PID)
	select {}
}

// testPlugin is a provider with behaviour a test can ask for through Get's id:
//
//	"block"       waits until the call is cancelled, after logging "blocking"
//	"exit"        ends the process with status 3
//	"panic"       panics in the handler (the adapter recovers)
//	"env:NAME"    answers with the variable NAME in Event.Title
//	"setting:K"   answers with the setting K of the target's instance in Title
//	"log"         logs a structured line and a plain line on stderr
//	anything else sdk.ErrNotFound
//
// Every Get reports one HTTP request record (code 200, 5ms).
type testPlugin struct {
	log      *slog.Logger
	mu       sync.Mutex
	settings map[string]map[string]string
}

func (p *testPlugin) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "test", ProtocolVersion: sdk.ProtocolVersion}, nil
}

func (p *testPlugin) Configure(_ context.Context, instance string, settings map[string]string) error {
	if settings["bad"] != "" {
		return fmt.Errorf("setting bad: %w", sdk.ErrInvalidArgument)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.settings == nil {
		p.settings = map[string]map[string]string{}
	}
	p.settings[instance] = settings
	return nil
}

func (p *testPlugin) Get(ctx context.Context, t sdk.Target, id string) (sdk.Event, error) {
	sdk.ObserveRequest(ctx, sdk.RequestRecord{Code: 200, Duration: 5 * time.Millisecond})
	switch {
	case id == "block":
		p.log.Info("blocking")
		<-ctx.Done()
		return sdk.Event{}, ctx.Err()
	case id == "exit":
		os.Exit(3)
	case id == "panic":
		panic("test panic")
	case strings.HasPrefix(id, "env:"):
		v, ok := os.LookupEnv(strings.TrimPrefix(id, "env:"))
		return sdk.Event{ID: id, Title: v, Category: strconv.FormatBool(ok)}, nil
	case strings.HasPrefix(id, "setting:"):
		p.mu.Lock()
		s, ok := p.settings[t.Instance]
		p.mu.Unlock()
		return sdk.Event{ID: id, Title: s[strings.TrimPrefix(id, "setting:")], Category: strconv.FormatBool(ok)}, nil
	case id == "log":
		p.log.Warn("structured line", "link", "jane", "n", 3)
		fmt.Fprintln(os.Stderr, "a plain line")
		return sdk.Event{ID: id}, nil
	}
	return sdk.Event{}, fmt.Errorf("get %s: %w", id, sdk.ErrNotFound)
}

func (p *testPlugin) OAuth(context.Context, sdk.OAuthRequest) (sdk.OAuthSpec, error) {
	return sdk.OAuthSpec{Grant: sdk.GrantNone}, nil
}
func (p *testPlugin) Identify(context.Context, sdk.Target, sdk.TokenInfo) (sdk.Account, error) {
	return sdk.Account{}, sdk.ErrUnsupported
}
func (p *testPlugin) LookupAccount(context.Context, sdk.Target, sdk.AccountKind, string) (sdk.Account, error) {
	return sdk.Account{}, sdk.ErrUnsupported
}
func (p *testPlugin) Licenses(context.Context, sdk.Target) (sdk.Licenses, error) {
	return sdk.Licenses{}, sdk.ErrUnsupported
}
func (p *testPlugin) ListChanges(context.Context, sdk.Target, sdk.ChangesRequest) (sdk.Changes, error) {
	return sdk.Changes{}, sdk.ErrUnsupported
}
func (p *testPlugin) Create(context.Context, sdk.Target, sdk.Event) (sdk.Event, error) {
	return sdk.Event{}, sdk.ErrUnsupported
}
func (p *testPlugin) Update(context.Context, sdk.Target, sdk.Event) (sdk.Event, error) {
	return sdk.Event{}, sdk.ErrUnsupported
}
func (p *testPlugin) Delete(context.Context, sdk.Target, string, string) error {
	return sdk.ErrUnsupported
}
func (p *testPlugin) FindByCorrelation(context.Context, sdk.Target, string) ([]sdk.Event, error) {
	return nil, sdk.ErrUnsupported
}
