package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/oauth"
	"synchronizer/daemon/pluginhost"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/daemon/web"
	"synchronizer/plugins/sdk"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "-config PATH | -dev [-admin-address ADDR] [-consent-address ADDR]", stderr)
	path := fs.String("config", "", "configuration: a .hcl file or a directory of *.hcl files")
	dev := fs.Bool("dev", false, "the embedded demo: emulated services, demo profiles, consent completed (no -config)")
	adminAddr := fs.String("admin-address", "", "listen address of the admin API (overrides http.admin_address)")
	consentAddr := fs.String("consent-address", "", "listen address of the consent listener (overrides http.consent_address)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *dev {
		if *path != "" {
			fmt.Fprintln(stderr, "synchronizer run: -dev runs its own demo configuration; leave out -config")
			return exitUsage
		}
		return runDevCommand(*adminAddr, *consentAddr, stdout, stderr)
	}
	if *path == "" {
		fmt.Fprintln(stderr, "synchronizer run: -config PATH is required")
		fs.Usage()
		return exitUsage
	}
	overrides := agent.Overrides{AdminAddress: *adminAddr, ConsentAddress: *consentAddr}

	// The logger's format comes from the configuration, so read it first.
	cfg, res := agent.LoadConfig(*path, config.Options{}, overrides)
	if cfg == nil {
		res.Write(stderr, 0, false)
		fmt.Fprintf(stderr, "synchronizer run: %s: %d problems found; nothing started\n", *path, res.Errors())
		return exitFailed
	}
	level := new(slog.LevelVar)
	level.Set(agent.ParseLevel(cfg.LogLevel))
	log := newLogger(stderr, cfg.LogFormat, level)

	// Signals are caught before anything starts, so none is lost.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	a, err := agent.New(agent.Options{
		ConfigPath: *path,
		Overrides:  overrides,
		Logger:     log,
		Level:      level,
		Metrics:    telemetry.New(),
		Notify:     agent.SystemdNotify,
	})
	if err != nil {
		var cerr *agent.ConfigError
		if errors.As(err, &cerr) {
			cerr.Result.Write(stderr, 0, false)
			log.Error("cannot start: the configuration is invalid", "config", *path, "problems", cerr.Result.Errors())
			return exitFailed
		}
		log.Error("cannot start", "err", err)
		return exitFailed
	}

	w, err := wireDaemon(a, log)
	if err != nil {
		a.Close()
		log.Error("cannot start", "err", err)
		return exitFailed
	}
	defer w.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan struct{}, 1)
	go func() {
		stopping := false
		for sig := range sigs {
			switch sig {
			case syscall.SIGHUP:
				select {
				case reload <- struct{}{}:
				default: // a reload is already pending
				}
			default:
				if stopping {
					log.Error("second stop signal: exiting at once", "signal", sig.String())
					os.Exit(exitFailed)
				}
				stopping = true
				log.Info("stop signal received", "signal", sig.String())
				cancel()
			}
		}
	}()
	if err := a.Run(ctx, reload); err != nil {
		log.Error("synchronizer stopped with an error", "err", err)
		return exitFailed
	}
	return exitOK
}

// daemonWiring is what a daemon runs besides the agent: the plugin host, the
// link runner and the consent side.
type daemonWiring struct {
	Host    *pluginhost.Host
	Runner  *runner.Runner
	Consent *oauth.Service
	stop    context.CancelFunc
	done    chan struct{}
}

// digestEvery is how often the admin digest looks for links needing attention
// (it mails at most once per 12 hours).
const digestEvery = 10 * time.Minute

// wireDaemon builds the plugin host, the link runner and the consent side for
// a and plugs them in: the runner (with the sync engine and scheduler), the
// licence source, the consent listener, the admin digest and the admin routes
// (sync, activation, setup). Call it before a.Run; Close the result after
// a.Run has returned.
func wireDaemon(a *agent.Agent, log *slog.Logger) (*daemonWiring, error) {
	cfg := a.Config()
	host, err := pluginhost.New(pluginhost.Options{
		Logger:   log,
		Metrics:  a.Metrics(),
		LogLevel: cfg.LogLevel,
		Env:      pluginPprofEnv(),
	})
	if err != nil {
		return nil, fmt.Errorf("plugin host: %w", err)
	}
	plugins := hostPlugins(host, a.Config)
	var syncStore engine.Store
	if s, ok := a.Store().(interface{ SyncStore() *state.SyncStore }); ok {
		syncStore = s.SyncStore()
	} else {
		syncStore = engine.NewMemStore()
	}

	// The consent side tells the runner when a link or a block can run; the
	// runner exists only after the consent side, so the calls go through r.
	var r *runner.Runner
	consent, err := oauth.New(oauth.Options{
		Config:    a.Config,
		Store:     a.Store(),
		Providers: oauth.ProvidersFunc(func(_ context.Context, name string) (sdk.Provider, error) { return plugins(name) }),
		Logger:    log,
		OnActivated: func(_ context.Context, id state.LinkID) {
			if r != nil {
				r.SyncSoon(id.Profile, id.Link)
			}
		},
		OnConnected: func(_ context.Context, name string) {
			a.RefreshLicensesSoon()
			if r != nil {
				r.SyncBlockSoon(name)
			}
		},
	})
	if err != nil {
		host.Close()
		return nil, fmt.Errorf("consent: %w", err)
	}
	r, err = runner.New(runner.Options{
		Plugins:     plugins,
		Store:       a.Store(),
		SyncStore:   syncStore,
		Credentials: consent,
		Activations: consent,
		Metrics:     a.Metrics(),
		Logger:      log,
	})
	if err != nil {
		host.Close()
		return nil, err
	}
	digest, err := consent.Digest(a.Status)
	if err != nil {
		host.Close()
		return nil, fmt.Errorf("admin digest: %w", err)
	}
	a.SetRunner(r)
	a.SetLicenseSource(r)
	// POST /notify/... (push notifications) sits in front of the consent pages.
	a.SetConsentHandler(web.WithNotify(consent.Handler(), r.NotifyHandler()))
	r.Routes(a.AdminMux(), a.Links)
	consent.Mount(a.AdminMux())

	ctx, stop := context.WithCancel(context.Background())
	w := &daemonWiring{Host: host, Runner: r, Consent: consent, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(digestEvery)
		defer t.Stop()
		digest.Run(ctx, t.C)
	}()
	return w, nil
}

// Close stops the digest and every plugin process.
func (w *daemonWiring) Close() {
	w.stop()
	<-w.done
	w.Host.Close()
}

// hostPlugins finds a provider's plugin in the host, adding it on first use:
// built in (this binary) or an executable in plugin_dir, pinned as the
// configuration in force says.
func hostPlugins(h *pluginhost.Host, current func() *config.Config) runner.Plugins {
	var mu sync.Mutex
	return func(name string) (sdk.Provider, error) {
		mu.Lock()
		defer mu.Unlock()
		if p, err := h.Plugin(name); err == nil {
			return p, nil
		}
		cfg := current()
		path, ok := cfg.Providers[name]
		if !ok {
			return nil, fmt.Errorf("no provider %q: it is neither built in nor an executable %s%s in plugin_dir %s", name, config.PluginPrefix, name, cfg.PluginDir)
		}
		var spec pluginhost.Spec
		var err error
		if path == "" {
			spec, err = pluginhost.BuiltinSpec(name)
		} else {
			pin := ""
			for _, p := range cfg.Plugins {
				if p.Name == name {
					pin = p.SHA256
				}
			}
			spec, err = pluginhost.ExternalSpec(filepath.Dir(path), name, pin)
		}
		if err != nil {
			return nil, err
		}
		p, err := h.Add(spec)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
