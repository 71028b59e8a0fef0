// Command synchronizer-bench measures a synchronizer binary at scale: it starts
// `synchronizer emulate` and `synchronizer run` as separate processes, brings
// every link up through the consent listener, and prints a table of the figures
// (initial sync, idle cycle, propagation latency, memory, duplicates and lost
// edits, clean and under injected faults), writing them as JSON to -out.
//
//	synchronizer-bench -bin bin/synchronizer -out bench.json
//	synchronizer-bench -bin bin/synchronizer -users 10 -events 20 -changes 40 -out bench-small.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"synchronizer/bench"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("synchronizer-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.Config
	fs.StringVar(&cfg.Binary, "bin", "bin/synchronizer", "the synchronizer binary to measure")
	fs.StringVar(&cfg.Dir, "dir", "", "keep configurations, state and logs here (default: a temporary directory, removed)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory")
	fs.IntVar(&cfg.Users, "users", 1000, "emulated users; every profile links each of them")
	fs.IntVar(&cfg.Resources, "resources", 0, "emulated resources; every profile links each of them")
	fs.IntVar(&cfg.Events, "events", 300, "items seeded into every diary and calendar")
	profiles := fs.String("profiles", "emu-m365,emu-google", "profiles of emulate's configuration to run (comma-separated)")
	fs.DurationVar(&cfg.Interval, "interval", time.Minute, "the profiles' poll interval")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "the daemon's log level")
	fs.IntVar(&cfg.Changes, "changes", 1000, "random changes timed per run (creates, edits, deletes on either side)")
	fs.IntVar(&cfg.Workers, "workers", 100, "changes in flight at once, each on its own link")
	fs.DurationVar(&cfg.Probe, "probe", 100*time.Millisecond, "shortest pause between looks at the other side of a change")
	fs.DurationVar(&cfg.ChangeTimeout, "change-timeout", 0, "how long a change may take to show (default: 3 intervals + 1m)")
	fs.Float64Var(&cfg.Faults.Throttle, "throttle", 0.1, "share of requests answered 429 with Retry-After in the run under faults")
	fs.Float64Var(&cfg.Faults.ServerErrors, "server-errors", 0.02, "share of requests answered 5xx in the run under faults")
	fs.BoolVar(&cfg.SkipFaults, "skip-faults", false, "skip the run under faults")
	fs.IntVar(&cfg.GoogleProjectQuota, "google-project-quota", -1, "the Google emulator's requests per minute per project (-1: unlimited, 0: Google's default 10,000)")
	fs.IntVar(&cfg.GoogleUserQuota, "google-user-quota", 0, "the Google emulator's requests per minute per user (-1: unlimited, 0: Google's default 600)")
	fs.DurationVar(&cfg.SyncTimeout, "sync-timeout", time.Hour, "how long the initial sync may take")
	fs.BoolVar(&cfg.Check, "check", true, "compare every diary with its calendars at the end of each run")
	fs.IntVar(&cfg.CheckWorkers, "check-workers", 4, "diaries and calendars read at once by the comparison")
	fs.IntVar(&cfg.ConsentWorkers, "consent-workers", 4, "consents completed at once")
	fs.Int64Var(&cfg.Seed, "seed", time.Now().UnixNano()%1_000_000, "seed of the seeded items and the random changes (printed; pass it again to replay)")
	fs.DurationVar(&cfg.Hold, "hold", 0, "keep each run's processes up this long after its figures (for profiling; see SYNCHRONIZER_PPROF)")
	out := fs.String("out", "bench.json", "the JSON report")
	failOnLoss := fs.Bool("fail-on-loss", false, "exit 1 when a run ends with duplicates, lost edits or missing items")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "synchronizer-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	for _, p := range strings.Split(*profiles, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Profiles = append(cfg.Profiles, p)
		}
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fmt.Fprintf(stderr, "synchronizer-bench: seed %d\n", cfg.Seed)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if rep != nil {
		if werr := writeReport(*out, rep); werr != nil {
			fmt.Fprintf(stderr, "synchronizer-bench: %v\n", werr)
			return 1
		}
		fmt.Fprintln(stdout)
		rep.WriteTable(stdout)
		fmt.Fprintf(stdout, "report: %s\n", *out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer-bench: %v\n", err)
		return 1
	}
	if *failOnLoss {
		if bad := rep.Losses(); len(bad) > 0 {
			fmt.Fprintf(stderr, "synchronizer-bench: %s\n", strings.Join(bad, "; "))
			return 1
		}
	}
	return 0
}

func writeReport(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("write the report %s: %w", path, err)
	}
	return f.Close()
}
