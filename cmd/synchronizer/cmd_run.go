package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/config"
	"synchronizer/daemon/telemetry"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "-config PATH [-admin-address ADDR] [-consent-address ADDR]", stderr)
	path := fs.String("config", "", "configuration: a .hcl file or a directory of *.hcl files")
	adminAddr := fs.String("admin-address", "", "listen address of the admin API (overrides http.admin_address)")
	consentAddr := fs.String("consent-address", "", "listen address of the consent listener (overrides http.consent_address)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
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

func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
