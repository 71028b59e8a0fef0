// Package agent is the daemon's life: it loads and checks the configuration,
// opens the state store, serves the admin listener, decides which links hold a
// licence, hands the links to the runner, reloads on request (keeping the old
// configuration when the new one is invalid), tells systemd where it is, and
// shuts everything down in order.
//
// What arrives with later parts plugs in through small interfaces: a
// LicenseSource reads tenants' licence counts, a Runner runs the links (the
// scheduler, engine and plugins). Without them the daemon still serves status
// and metrics, and every link shows its state and why.
//
// Wiring, in cmd:
//
//	a, err := agent.New(agent.Options{ConfigPath: path, Logger: log, Level: level,
//		Metrics: telemetry.New(), Notify: agent.SystemdNotify})
//	// a.Store(), a.Metrics() and a.Config() are ready here for the parts below.
//	a.SetLicenseSource(src)          // tenants' user-licence counts
//	a.SetRunner(runner)              // gets Apply(cfg, allowed links) at start, reload, licence change
//	a.SetConsentHandler(consentMux)  // binds consent_address
//	a.AdminMux().Handle("POST /v1/profiles/{profile}/sync", h)
//	err = a.Run(ctx, reloadCh)       // ctx ends on SIGTERM/SIGINT; reloadCh gets SIGHUP
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"synchronizer/daemon/config"
	"synchronizer/daemon/license"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/daemon/web"
)

// LicenseSource reads a SuperOffice tenant's user-licence count (through the
// superoffice provider's Licenses call).
type LicenseSource interface {
	UserLicenses(ctx context.Context, tenant *config.SuperOffice) (int, error)
}

// Runner runs the links: the scheduler with the sync engine and the plugins.
type Runner interface {
	// Apply hands over the configuration in force and the links that may run
	// (licensed, not disabled), in declaration order. It is called after start
	// and after every successful reload or licence change, never concurrently.
	Apply(ctx context.Context, cfg *config.Config, allowed []state.LinkID) error
	// Close stops every run; called once, at shutdown.
	Close(ctx context.Context) error
}

// Readiness is implemented by a Runner that can say it is not ready yet
// (plugins still starting); /readyz reports it.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Overrides are command-line values that win over the configuration.
type Overrides struct {
	AdminAddress   string
	ConsentAddress string
}

// Options are the agent's dependencies.
type Options struct {
	ConfigPath string
	Overrides  Overrides
	// ConfigOptions are passed to config.Load (environment lookup, built-ins).
	ConfigOptions config.Options

	Logger *slog.Logger
	// Level, when set, follows log_level across reloads.
	Level   *slog.LevelVar
	Metrics *telemetry.Metrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Notify sends a systemd notification (nil: none).
	Notify func(state string) error
	// OpenStore opens the state store (nil: bbolt in data_dir with the key file).
	OpenStore func(cfg *config.Config, log *slog.Logger) (state.Store, error)
	// LicenseRefresh is how often tenants' licence counts are read (1 h when zero).
	LicenseRefresh time.Duration
	// ShutdownTimeout bounds the graceful shutdown (10 s when zero).
	ShutdownTimeout time.Duration
}

// ConfigError carries the diagnostics of a rejected configuration.
type ConfigError struct {
	Result *config.Result
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid configuration (%d problems): %s", e.Result.Errors(), e.Result.Error())
}

// LoadConfig loads and checks a configuration the way run, reload and validate
// all do: config.Load, the licence rules that need no service, and the
// command-line overrides.
func LoadConfig(path string, opts config.Options, ov Overrides) (*config.Config, *config.Result) {
	cfg, res := config.Load(path, opts)
	if cfg == nil {
		return nil, res
	}
	if ov.AdminAddress != "" {
		if err := config.CheckAddress(ov.AdminAddress); err != nil {
			res.Diags = append(res.Diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -admin-address", Detail: err.Error()})
		}
		cfg.HTTP.AdminAddress = ov.AdminAddress
	}
	if ov.ConsentAddress != "" {
		if err := config.CheckAddress(ov.ConsentAddress); err != nil {
			res.Diags = append(res.Diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -consent-address", Detail: err.Error()})
		}
		cfg.HTTP.ConsentAddress = ov.ConsentAddress
	}
	res.Diags = append(res.Diags, license.Check(cfg)...)
	if res.HasErrors() {
		return nil, res
	}
	return cfg, res
}

// Agent is one running daemon.
type Agent struct {
	opts  Options
	log   *slog.Logger
	m     *telemetry.Metrics
	now   func() time.Time
	store state.Store
	mux   *http.ServeMux

	// mu guards what reload swaps and what the licence refresh learns.
	mu         sync.RWMutex
	cfg        *config.Config
	lic        *license.Result
	counts     map[string]int   // tenant -> user licences last read (or stored)
	countErr   map[string]error // tenant -> why the last read failed
	unlicensed map[state.LinkID]bool
	source     LicenseSource
	runner     Runner
	consent    http.Handler
	admin      *web.Server
	consentSrv *web.Server
	applyMu    sync.Mutex    // serialises Runner.Apply
	kick       chan struct{} // RefreshLicensesSoon
	closeOnce  sync.Once
	closeErr   error
}

// Close releases the state store. Run does it on return; call Close when New
// succeeded but Run is never called. It is safe to call more than once.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.store.Close() })
	return a.closeErr
}

// New loads the configuration and opens the state store. A configuration
// problem comes back as *ConfigError.
func New(opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = telemetry.New()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LicenseRefresh == 0 {
		opts.LicenseRefresh = time.Hour
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.OpenStore == nil {
		opts.OpenStore = OpenBoltStore(opts.Now, 0)
	}
	a := &Agent{opts: opts, log: opts.Logger, m: opts.Metrics, now: opts.Now,
		counts: map[string]int{}, countErr: map[string]error{}, unlicensed: map[state.LinkID]bool{},
		kick: make(chan struct{}, 1)}

	cfg, res := LoadConfig(opts.ConfigPath, opts.ConfigOptions, opts.Overrides)
	if cfg == nil {
		a.m.ConfigLoaded(false, a.now())
		return nil, &ConfigError{Result: res}
	}
	a.logWarnings(res)
	if opts.Level != nil {
		opts.Level.Set(ParseLevel(cfg.LogLevel))
	}
	store, err := opts.OpenStore(cfg, a.log)
	if err != nil {
		return nil, err
	}
	a.store = store
	a.cfg = cfg
	a.m.ConfigLoaded(true, a.now())
	a.loadStoredCounts(context.Background())
	a.mux = web.NewAdminMux(web.AdminOptions{
		Logger:  a.log,
		Metrics: a.metricsHandler(),
		Status:  a.Status,
		Ready:   a.Ready,
	})
	return a, nil
}

// OpenBoltStore opens the bbolt store in data_dir, sealed with the key file;
// lockTimeout bounds the wait for another process's lock (5 s when zero).
func OpenBoltStore(now func() time.Time, lockTimeout time.Duration) func(cfg *config.Config, log *slog.Logger) (state.Store, error) {
	return func(cfg *config.Config, log *slog.Logger) (state.Store, error) {
		cipher, err := state.LoadKey(cfg.Encryption.KeyFile)
		if err != nil {
			return nil, err
		}
		if info, err := os.Stat(cfg.Encryption.KeyFile); err == nil && info.Mode().Perm()&0o077 != 0 {
			log.Warn("the encryption key file is readable by other users; chmod 600 it", "key_file", cfg.Encryption.KeyFile, "mode", info.Mode().Perm().String())
		}
		return state.Open(cfg.DataDir, state.Options{Cipher: cipher, Now: now, Logger: log, Timeout: lockTimeout})
	}
}

// SetLicenseSource plugs in the licence reader; call before Run.
func (a *Agent) SetLicenseSource(s LicenseSource) {
	a.mu.Lock()
	a.source = s
	a.mu.Unlock()
}

// SetRunner plugs in the link runner; call before Run.
func (a *Agent) SetRunner(r Runner) {
	a.mu.Lock()
	a.runner = r
	a.mu.Unlock()
}

// SetConsentHandler plugs in the consent listener's routes (activation pages,
// OAuth callback); call before Run. Without one, consent_address is not bound.
func (a *Agent) SetConsentHandler(h http.Handler) {
	a.mu.Lock()
	a.consent = h
	a.mu.Unlock()
}

// ConsentAddress is the consent listener's bound address once Run has started
// it, "" without a consent handler.
func (a *Agent) ConsentAddress() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.consentSrv == nil {
		return ""
	}
	return a.consentSrv.Addr()
}

// Store is the open state store.
func (a *Agent) Store() state.Store { return a.store }

// Metrics are the daemon's metrics.
func (a *Agent) Metrics() *telemetry.Metrics { return a.m }

// AdminMux is the admin listener's router, for adding routes before Run.
func (a *Agent) AdminMux() *http.ServeMux { return a.mux }

// Config is the configuration in force.
func (a *Agent) Config() *config.Config {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg
}

// AdminAddress is the admin listener's bound address once Run has started it.
func (a *Agent) AdminAddress() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.admin == nil {
		return ""
	}
	return a.admin.Addr()
}

// Run serves until ctx ends; each value on reload reloads the configuration.
// It returns an error when it cannot start (port taken) and nil after a clean
// shutdown. The store is closed when Run returns.
func (a *Agent) Run(ctx context.Context, reload <-chan struct{}) error {
	defer a.Close()
	cfg := a.Config()
	admin, err := web.Listen("admin_address", cfg.HTTP.AdminAddress, a.mux, a.log)
	if err != nil {
		return err
	}
	a.mu.RLock()
	consentHandler := a.consent
	a.mu.RUnlock()
	var consent *web.Server
	if consentHandler != nil {
		consent, err = web.Listen("consent_address", cfg.HTTP.ConsentAddress, consentHandler, a.log)
		if err != nil {
			admin.Shutdown(context.Background())
			return err
		}
	}
	a.mu.Lock()
	a.admin, a.consentSrv = admin, consent
	a.mu.Unlock()
	served := make(chan error, 2)
	go func() { served <- admin.Serve() }()
	if consent != nil {
		go func() { served <- consent.Serve() }()
	}

	if err := a.apply(ctx); err != nil {
		a.log.Error("starting the links failed", "err", err)
	}
	a.notify("READY=1\nSTATUS=serving")
	a.log.Info("synchronizer started", "config", a.opts.ConfigPath, "admin_address", admin.Addr(),
		"profiles", len(cfg.Profiles), "links", len(cfg.Links()))

	refresh := make(chan struct{}, 1)
	refreshDone := make(chan struct{})
	go func() {
		defer close(refreshDone)
		a.licenseLoop(ctx, refresh)
	}()
	refresh <- struct{}{}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			if err := a.Reload(ctx); err == nil {
				select {
				case refresh <- struct{}{}:
				default:
				}
			}
		case err := <-served:
			runErr = err
			break loop
		}
	}

	a.notify("STOPPING=1")
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.opts.ShutdownTimeout)
	defer cancel()
	if consent != nil {
		if err := consent.Shutdown(sctx); err != nil {
			a.log.Warn("consent listener did not stop cleanly", "err", err)
		}
	}
	if err := admin.Shutdown(sctx); err != nil {
		a.log.Warn("admin listener did not stop cleanly", "err", err)
	}
	a.mu.RLock()
	runner := a.runner
	a.mu.RUnlock()
	if runner != nil {
		if err := runner.Close(sctx); err != nil {
			a.log.Warn("stopping the links failed", "err", err)
		}
	}
	<-refreshDone
	a.log.Info("stopped")
	return runErr
}

// licenseLoop reads licence counts at start, every LicenseRefresh and when asked.
func (a *Agent) licenseLoop(ctx context.Context, now <-chan struct{}) {
	t := time.NewTicker(a.opts.LicenseRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-now:
		case <-a.kick:
		}
		if a.RefreshLicenses(ctx) {
			if err := a.apply(ctx); err != nil {
				a.log.Error("applying the licence change failed", "err", err)
			}
		}
		// Activations used or expired a week ago only take room; a person
		// opening such a link still gets "expired" for that week.
		if n, err := a.store.PruneActivations(ctx, a.now().Add(-activationRetention)); err != nil {
			a.log.Warn("cannot prune old activations", "err", err)
		} else if n > 0 {
			a.log.Debug("pruned old activations", "count", n)
		}
	}
}

// RefreshLicensesSoon asks Run to read the tenants' licence counts again now,
// without waiting for the periodic refresh: after an administrator connected a
// tenant, its links need not wait up to an hour for their licences. It never
// blocks; a refresh already asked for covers this one.
func (a *Agent) RefreshLicensesSoon() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// activationRetention is how long used or expired activations are kept.
const activationRetention = 7 * 24 * time.Hour

// Reload builds the configuration anew and swaps it in; an invalid one is
// logged and rejected and the old one keeps running.
func (a *Agent) Reload(ctx context.Context) error {
	a.notify(reloadingMessage())
	defer a.notify("READY=1\nSTATUS=serving")
	a.log.Info("reloading configuration", "config", a.opts.ConfigPath)
	cfg, res := LoadConfig(a.opts.ConfigPath, a.opts.ConfigOptions, a.opts.Overrides)
	if cfg == nil {
		a.m.ConfigLoaded(false, a.now())
		for _, d := range res.Diags {
			a.log.Error("configuration rejected, the previous one keeps running", diagAttrs(d)...)
		}
		return &ConfigError{Result: res}
	}
	a.logWarnings(res)
	a.mu.Lock()
	old := a.cfg
	keepRestartOnly(old, cfg, a.log)
	a.cfg = cfg
	a.mu.Unlock()
	if a.opts.Level != nil {
		a.opts.Level.Set(ParseLevel(cfg.LogLevel))
	}
	a.m.ConfigLoaded(true, a.now())
	if err := a.apply(ctx); err != nil {
		a.log.Error("applying the new configuration failed", "err", err)
		return err
	}
	a.log.Info("configuration reloaded", "profiles", len(cfg.Profiles), "links", len(cfg.Links()))
	return nil
}

// keepRestartOnly carries over the settings a running daemon cannot change,
// warning about each that differs.
func keepRestartOnly(old, cfg *config.Config, log *slog.Logger) {
	keep := func(name string, oldV string, newV *string) {
		if oldV != *newV {
			log.Warn("this setting changes only at restart; the old value stays in force", "setting", name, "running", oldV, "configured", *newV)
			*newV = oldV
		}
	}
	keep("data_dir", old.DataDir, &cfg.DataDir)
	keep("encryption.key_file", old.Encryption.KeyFile, &cfg.Encryption.KeyFile)
	keep("http.admin_address", old.HTTP.AdminAddress, &cfg.HTTP.AdminAddress)
	keep("http.consent_address", old.HTTP.ConsentAddress, &cfg.HTTP.ConsentAddress)
	keep("log_format", old.LogFormat, &cfg.LogFormat)
}

func (a *Agent) logWarnings(res *config.Result) {
	for _, d := range res.Diags {
		if d.Severity == hcl.DiagWarning {
			a.log.Warn("configuration warning", diagAttrs(d)...)
		}
	}
}

func diagAttrs(d *hcl.Diagnostic) []any {
	attrs := []any{"problem", d.Summary}
	if d.Subject != nil {
		attrs = append(attrs, "where", fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column))
	}
	if d.Detail != "" {
		attrs = append(attrs, "detail", d.Detail)
	}
	return attrs
}

// apply brings the store, the licence decision, the metrics and the runner in
// line with the configuration in force.
func (a *Agent) apply(ctx context.Context) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	cfg := a.Config()
	var errs []error
	for _, l := range cfg.Links() {
		id := state.LinkID{Profile: l.Profile, Link: l.Name}
		if _, err := a.store.Link(ctx, id); errors.Is(err, state.ErrNotFound) {
			if _, err := a.store.UpdateLink(ctx, id, func(sl *state.Link) error {
				sl.State = state.PendingActivation
				return nil
			}); err != nil {
				errs = append(errs, err)
			}
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	lic := a.evaluate(cfg)
	a.m.Init(telemetry.Known{Profiles: profileNames(cfg), Providers: cfg.ProvidersInUse()})
	a.updateGauges(ctx)

	var allowed []state.LinkID
	for _, l := range cfg.Links() {
		if ok, _ := lic.Licensed(l); ok && !l.Disabled {
			allowed = append(allowed, state.LinkID{Profile: l.Profile, Link: l.Name})
		}
	}
	a.mu.RLock()
	runner := a.runner
	a.mu.RUnlock()
	if runner != nil {
		if err := runner.Apply(ctx, cfg, allowed); err != nil {
			errs = append(errs, fmt.Errorf("runner: %w", err))
		}
	}
	return errors.Join(errs...)
}

// evaluate decides licences with the counts known now and logs each link that
// loses or regains its licence, once.
func (a *Agent) evaluate(cfg *config.Config) *license.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	lic := license.Evaluate(cfg, a.counts)
	now := map[state.LinkID]bool{}
	for _, l := range cfg.Links() {
		id := state.LinkID{Profile: l.Profile, Link: l.Name}
		ok, reason := lic.Licensed(l)
		if ok || l.Disabled {
			if a.unlicensed[id] {
				a.log.Info("link is licensed again", "profile", l.Profile, "link", l.Name)
			}
			continue
		}
		now[id] = true
		if !a.unlicensed[id] {
			a.log.Warn("link is unlicensed and will not sync", "profile", l.Profile, "link", l.Name, "reason", a.reasonLocked(cfg, lic, l, reason))
		}
	}
	a.unlicensed = now
	a.lic = lic
	return lic
}

// reasonLocked adds why the licence count is unknown to a link's reason.
func (a *Agent) reasonLocked(cfg *config.Config, lic *license.Result, l *config.Link, reason string) string {
	p := cfg.Profile(l.Profile)
	if p == nil {
		return reason
	}
	if err := a.countErr[p.SuperOffice]; err != nil {
		if t := lic.Tenant(p.SuperOffice); t == nil || !t.Known {
			return fmt.Sprintf("%s; reading it failed: %v", reason, err)
		}
	}
	return reason
}

// loadStoredCounts starts from the counts the store remembers.
func (a *Agent) loadStoredCounts(ctx context.Context) {
	for _, so := range a.cfg.SuperOffice {
		t, err := a.store.Tenant(ctx, so.Name)
		if err == nil {
			a.counts[so.Name] = t.UserLicenses
		}
	}
}

// RefreshLicenses reads every tenant's count from the source, keeping the last
// known one on failure. It reports whether any count changed.
func (a *Agent) RefreshLicenses(ctx context.Context) bool {
	a.mu.RLock()
	src, cfg := a.source, a.cfg
	a.mu.RUnlock()
	changed := false
	for _, so := range cfg.SuperOffice {
		if so.UserLicenses != nil {
			continue
		}
		var n int
		var err error
		if src == nil {
			err = errors.New("no licence source is configured in this build")
		} else {
			n, err = src.UserLicenses(ctx, so)
		}
		a.mu.Lock()
		if err != nil {
			a.countErr[so.Name] = err
			a.mu.Unlock()
			if src != nil {
				a.log.Warn("cannot read the licence count; keeping the last known", "tenant", so.Name, "err", err)
			}
			continue
		}
		delete(a.countErr, so.Name)
		old, had := a.counts[so.Name]
		a.counts[so.Name] = n
		a.mu.Unlock()
		if !had || old != n {
			changed = true
			a.log.Info("licence count read", "tenant", so.Name, "user_licenses", n, "previous", old)
		}
		if err := a.store.PutTenant(ctx, state.Tenant{Name: so.Name, UserLicenses: n, CheckedAt: a.now()}); err != nil {
			a.log.Warn("cannot store the licence count", "tenant", so.Name, "err", err)
		}
	}
	return changed
}

// Ready is /readyz: configuration loaded, store open, runner ready.
func (a *Agent) Ready(ctx context.Context) error {
	if _, err := a.store.Links(ctx); err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	a.mu.RLock()
	runner := a.runner
	a.mu.RUnlock()
	if r, ok := runner.(Readiness); ok {
		return r.Ready(ctx)
	}
	return nil
}

func (a *Agent) notify(msg string) {
	if a.opts.Notify == nil {
		return
	}
	if err := a.opts.Notify(msg); err != nil {
		a.log.Debug("sd_notify failed", "err", err)
	}
}

func profileNames(cfg *config.Config) []string {
	out := make([]string, 0, len(cfg.Profiles))
	for _, p := range cfg.Profiles {
		out = append(out, p.Name)
	}
	return out
}

// ParseLevel maps log_level to a slog level.
func ParseLevel(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
