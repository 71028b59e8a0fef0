package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/mail"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
	"synchronizer/plugins/sdk"
)

// DefaultActivationTTL is how long an activation or setup link works.
const DefaultActivationTTL = 7 * 24 * time.Hour

// Errors of the admin side; Mount maps them to HTTP statuses.
var (
	// ErrUnknown: no such profile, link, or superoffice/calendar block.
	ErrUnknown = errors.New("not in the configuration")
	// ErrNotNeeded: the link or block gets its access without anyone signing in here.
	ErrNotNeeded = errors.New("needs no sign-in")
	// ErrActive: the link is active; a new sign-in must be asked for explicitly (resend).
	ErrActive = errors.New("link is active")
)

// Providers gives the provider plugin of a name: config.ProviderSuperOffice or a
// calendar block's Provider. The Service configures the instances it uses
// itself (with the settings of the configuration in force).
type Providers interface {
	Provider(ctx context.Context, name string) (sdk.Provider, error)
}

// ProvidersFunc adapts a function to Providers, e.g. the plugin host's Plugin.
type ProvidersFunc func(ctx context.Context, name string) (sdk.Provider, error)

// Provider returns f(ctx, name).
func (f ProvidersFunc) Provider(ctx context.Context, name string) (sdk.Provider, error) {
	return f(ctx, name)
}

// Options are a Service's dependencies. Config, Store and Providers are required.
type Options struct {
	// Config returns the configuration in force (the agent's Config).
	Config    func() *config.Config
	Store     state.Store
	Providers Providers
	// Mailer sends activation and expired-credentials mails. nil: built from the
	// configuration's smtp block (a LogMailer without one), anew after a reload
	// that changes it.
	Mailer mail.Mailer
	Logger *slog.Logger
	// Now is the clock; Random the source of secrets, states and PKCE verifiers
	// (crypto/rand when nil).
	Now    func() time.Time
	Random io.Reader
	// HTTPClient calls token endpoints (a client with a 30 s timeout when nil).
	HTTPClient *http.Client
	// ActivationTTL is how long an activation or setup link works (7 days when zero).
	ActivationTTL time.Duration
	// FlowTTL bounds the time between the button and the provider's redirect back
	// (15 minutes when zero); MaxFlows bounds the sign-ins in progress (10,000).
	FlowTTL  time.Duration
	MaxFlows int
	// Location is the time zone of dates on pages and in mails (time.Local when nil).
	Location *time.Location
	// OnActivated is told that a link has just consented, to start its first sync.
	// It runs in the callback's request and must not block.
	OnActivated func(ctx context.Context, link state.LinkID)
	// OnConnected is told that an admin set up the block name.
	OnConnected func(ctx context.Context, name string)
}

// Service is the consent side of the daemon. It implements runner.Credentials,
// runner.Activations and web.ConsentFlow. It is safe for concurrent use.
type Service struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	rand  io.Reader
	http  *http.Client
	ttl   time.Duration
	loc   *time.Location
	flows *flowStore

	mu         sync.Mutex
	configured map[string][32]byte // provider \x00 instance -> hash of the settings given
	specs      map[specKey]sdk.OAuthSpec
	sources    map[string]*source
	unmailed   map[state.LinkID]mailJob
	built      mail.Mailer
	mailerSMTP *config.SMTP // the smtp block mailer was built from
}

var (
	_ runner.Credentials = (*Service)(nil)
	_ runner.Activations = (*Service)(nil)
	_ web.ConsentFlow    = (*Service)(nil)
)

// New checks the options and returns a Service. It does no I/O.
func New(opts Options) (*Service, error) {
	if opts.Config == nil || opts.Store == nil || opts.Providers == nil {
		return nil, errors.New("oauth: Config, Store and Providers are required")
	}
	s := &Service{opts: opts, log: opts.Logger, now: opts.Now, rand: opts.Random, http: opts.HTTPClient,
		ttl: opts.ActivationTTL, loc: opts.Location,
		configured: map[string][32]byte{}, specs: map[specKey]sdk.OAuthSpec{}, sources: map[string]*source{},
		unmailed: map[state.LinkID]mailJob{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: 30 * time.Second}
	}
	if s.ttl <= 0 {
		s.ttl = DefaultActivationTTL
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	flowTTL := opts.FlowTTL
	if flowTTL <= 0 {
		flowTTL = 15 * time.Minute
	}
	maxFlows := opts.MaxFlows
	if maxFlows <= 0 {
		maxFlows = 10000
	}
	s.flows = newFlowStore(flowTTL, maxFlows)
	return s, nil
}

// Handler is the consent listener's handler (agent.SetConsentHandler).
func (s *Service) Handler() http.Handler {
	return web.NewConsentHandler(web.ConsentOptions{Flow: s, Logger: s.log, CookiePath: func() string {
		return s.publicPath(s.opts.Config()) + "/oauth/callback"
	}})
}

// ---- configuration ----

// linkTarget is a link with everything around it in the configuration in force.
type linkTarget struct {
	cfg     *config.Config
	profile *config.Profile
	link    *config.Link
	cal     *config.Calendar
}

func (t linkTarget) id() state.LinkID {
	return state.LinkID{Profile: t.profile.Name, Link: t.link.Name}
}

func (t linkTarget) purpose() sdk.OAuthPurpose {
	if t.link.Kind == config.KindResource {
		return sdk.PurposeResource
	}
	return sdk.PurposeUser
}

// managed says the link's calendar is reached through an account that manages
// it rather than its own: a Google resource calendar cannot sign in.
func (t linkTarget) managed() bool {
	return t.link.Kind == config.KindResource && t.cal.Provider == config.ProviderGoogle
}

// loginHint is the account suggested to the provider's sign-in page.
func (t linkTarget) loginHint() string {
	if t.managed() {
		return t.cal.Admin
	}
	return t.link.Mailbox
}

func (s *Service) resolveLink(profile, link string) (linkTarget, error) {
	cfg := s.opts.Config()
	if cfg == nil {
		return linkTarget{}, fmt.Errorf("no configuration is loaded")
	}
	p := cfg.Profile(profile)
	if p == nil {
		return linkTarget{}, fmt.Errorf("profile %q: %w", profile, ErrUnknown)
	}
	l := p.Link(link)
	if l == nil {
		return linkTarget{}, fmt.Errorf("link %q of profile %s: %w", link, profile, ErrUnknown)
	}
	cal := cfg.Calendar(p.Calendar)
	if cal == nil {
		return linkTarget{}, fmt.Errorf("calendar %q of profile %s: %w", p.Calendar, profile, ErrUnknown)
	}
	return linkTarget{cfg: cfg, profile: p, link: l, cal: cal}, nil
}

// blockTarget is a superoffice or calendar block an admin sets up.
type blockTarget struct {
	cfg      *config.Config
	name     string
	provider string
	settings map[string]string
	so       *config.SuperOffice
	cal      *config.Calendar
}

func (s *Service) resolveBlock(name string) (blockTarget, error) {
	cfg := s.opts.Config()
	if cfg == nil {
		return blockTarget{}, fmt.Errorf("no configuration is loaded")
	}
	provider, settings, ok := cfg.PluginSettings(name)
	if !ok {
		return blockTarget{}, fmt.Errorf("no superoffice or calendar block is called %q: %w", name, ErrUnknown)
	}
	return blockTarget{cfg: cfg, name: name, provider: provider, settings: settings,
		so: cfg.Tenant(name), cal: cfg.Calendar(name)}, nil
}

// adminHint is the account suggested for a block's setup.
func (b blockTarget) adminHint() string {
	if b.cal != nil {
		return b.cal.Admin
	}
	return ""
}

func (s *Service) publicURL(cfg *config.Config) string {
	return strings.TrimRight(cfg.HTTP.PublicURL, "/")
}

// publicPath is the path part of the public URL ("" at the root).
func (s *Service) publicPath(cfg *config.Config) string {
	if cfg == nil {
		return ""
	}
	u, err := url.Parse(s.publicURL(cfg))
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

func (s *Service) redirectURL(cfg *config.Config) string { return s.publicURL(cfg) + "/oauth/callback" }

// ---- providers ----

func settingsHash(settings map[string]string) [32]byte {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(k), k, len(settings[k]), settings[k])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// provider returns the plugin of name with instance configured as settings say.
func (s *Service) provider(ctx context.Context, name, instance string, settings map[string]string) (sdk.Provider, error) {
	p, err := s.opts.Providers.Provider(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", name, err)
	}
	key := name + "\x00" + instance
	sum := settingsHash(settings)
	s.mu.Lock()
	done := s.configured[key] == sum
	s.mu.Unlock()
	if done {
		return p, nil
	}
	if err := p.Configure(ctx, instance, settings); err != nil {
		return nil, fmt.Errorf("configure %s instance %s: %w", name, instance, err)
	}
	s.mu.Lock()
	s.configured[key] = sum
	s.mu.Unlock()
	return p, nil
}

type specKey struct {
	provider, instance string
	purpose            sdk.OAuthPurpose
	settings           [32]byte
}

// cachedSpec is the provider's OAuth description for refreshing tokens; it
// changes only with the instance's settings.
func (s *Service) cachedSpec(ctx context.Context, provider, instance string, settings map[string]string, purpose sdk.OAuthPurpose) (sdk.OAuthSpec, error) {
	key := specKey{provider: provider, instance: instance, purpose: purpose, settings: settingsHash(settings)}
	s.mu.Lock()
	spec, ok := s.specs[key]
	s.mu.Unlock()
	if ok {
		return spec, nil
	}
	p, err := s.provider(ctx, provider, instance, settings)
	if err != nil {
		return sdk.OAuthSpec{}, err
	}
	spec, err = p.OAuth(ctx, sdk.OAuthRequest{Instance: instance, Purpose: purpose, RedirectURL: s.redirectURL(s.opts.Config())})
	if err != nil {
		return sdk.OAuthSpec{}, fmt.Errorf("ask %s how %s signs in: %w", provider, instance, err)
	}
	s.mu.Lock()
	for k := range s.specs { // drop what older settings of this instance gave
		if k.provider == provider && k.instance == instance && k.settings != key.settings {
			delete(s.specs, k)
		}
	}
	s.specs[key] = spec
	s.mu.Unlock()
	return spec, nil
}

// systemName is how pages and mails name a provider's system.
func systemName(provider string) string {
	switch provider {
	case config.ProviderM365:
		return "Microsoft 365"
	case config.ProviderGoogle:
		return "Google"
	case config.ProviderSuperOffice:
		return "SuperOffice"
	}
	return provider
}

// sameAccount compares account names the way mail systems do: without case.
func sameAccount(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}
