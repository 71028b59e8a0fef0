package bench

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Config is what to measure and at which scale.
type Config struct {
	// Binary is the synchronizer executable to start (emulate and run).
	Binary string
	// Dir keeps the configurations, state and logs of the processes; empty: a
	// temporary directory, removed at the end unless Keep.
	Dir  string
	Keep bool

	// Users and Resources are emulate's accounts; Events the items seeded into
	// every diary and calendar. Profiles are the profiles of emulate's
	// configuration to keep (emu-m365, emu-google; empty: both): each links every
	// user and resource, so links = (Users+Resources) * len(Profiles).
	Users, Resources, Events int
	Profiles                 []string
	// Interval is the profiles' poll interval; LogLevel the daemon's.
	Interval time.Duration
	LogLevel string

	// Changes is how many changes the propagation phase makes per run, Workers
	// how many at once (each on its own link). Probe bounds how often the other
	// side is looked at; ChangeTimeout how long a change may take to show.
	Changes, Workers int
	Probe            time.Duration
	ChangeTimeout    time.Duration

	// Faults are injected in the second run (skipped when SkipFaults).
	Faults     Faults
	SkipFaults bool
	// GoogleProjectQuota is the Google emulator's requests per minute for the
	// whole project (negative: unlimited). Google's default of 10,000 alone
	// would stretch an initial sync of a thousand calendars past half an hour.
	GoogleProjectQuota int
	// GoogleUserQuota is its requests per minute per user (0: Google's 600,
	// negative: unlimited).
	GoogleUserQuota int

	// SyncTimeout bounds the initial sync; Check turns the final comparison
	// of every diary with its calendars on; CheckWorkers reads that many places
	// at once.
	SyncTimeout    time.Duration
	Check          bool
	CheckWorkers   int
	ConsentWorkers int

	// Hold keeps the processes of each run up this long after its figures
	// (for profiling and looking around); the log names their addresses.
	Hold time.Duration

	// Seed drives the seeded items and the random changes.
	Seed int64
	// Log receives progress lines.
	Log *slog.Logger
}

func (c *Config) defaults() error {
	if c.Binary == "" {
		return errors.New("bench: no binary")
	}
	if _, err := os.Stat(c.Binary); err != nil {
		return fmt.Errorf("bench: binary: %w", err)
	}
	if c.Users < 0 || c.Resources < 0 || c.Users+c.Resources == 0 {
		return errors.New("bench: want at least one user or resource")
	}
	if len(c.Profiles) == 0 {
		c.Profiles = []string{profileM365, profileGoogle}
	}
	for _, p := range c.Profiles {
		if p != profileM365 && p != profileGoogle {
			return fmt.Errorf("bench: profile %q: want %s or %s", p, profileM365, profileGoogle)
		}
	}
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Probe <= 0 {
		c.Probe = 100 * time.Millisecond
	}
	if c.ChangeTimeout <= 0 {
		c.ChangeTimeout = 3*c.Interval + time.Minute
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = time.Hour
	}
	if c.CheckWorkers <= 0 {
		c.CheckWorkers = 4
	}
	if c.ConsentWorkers <= 0 {
		c.ConsentWorkers = 4
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run runs the benchmark: a clean run, then (unless SkipFaults) a run under
// faults, each with fresh emulators and a fresh daemon.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "synchronizer-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		dir = d
		if !cfg.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	bin, err := filepath.Abs(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cfg.Binary = bin
	cfg.Log.Info("bench: starting", "dir", dir, "users", cfg.Users, "resources", cfg.Resources,
		"events", cfg.Events, "profiles", strings.Join(cfg.Profiles, ","), "seed", cfg.Seed)
	rep := &Report{Machine: describeMachine(bin), Setup: Setup{
		Users: cfg.Users, Resources: cfg.Resources, EventsPerSide: cfg.Events, Profiles: cfg.Profiles,
		IntervalSeconds: cfg.Interval.Seconds(), FaultThrottle: cfg.Faults.Throttle,
		FaultServerErrors: cfg.Faults.ServerErrors, GoogleQuota: cfg.GoogleProjectQuota,
		GoogleUserQuota: cfg.GoogleUserQuota, Seed: cfg.Seed,
		StartedAt: time.Now().UTC().Format(time.RFC3339)}}
	clean, push, err := runRound(ctx, cfg, filepath.Join(dir, "clean"), "clean", nil)
	rep.Figures = *clean
	rep.Setup.Push = push
	if err != nil {
		return rep, fmt.Errorf("clean run: %w", err)
	}
	if cfg.SkipFaults {
		return rep, nil
	}
	faulted, _, err := runRound(ctx, cfg, filepath.Join(dir, "faults"), "faults", &cfg.Faults)
	rep.Faults = faulted
	if err != nil {
		return rep, fmt.Errorf("run under faults: %w", err)
	}
	return rep, nil
}

// round is one run: its own emulators, daemon and figures.
type round struct {
	cfg     Config
	name    string
	dir     string
	faults  *Faults
	log     *slog.Logger
	c       *client
	emu     *emulation
	sides   *sides
	adm     *admin
	daemon  *process
	tracker *tracker
	layout  layout
	figs    *Figures
	push    bool
	changer *changer
	// dcfg and cfgPath are the daemon's configuration, rewritten to turn push off.
	dcfg    *daemonConfig
	cfgPath string
}

// runRound runs one round. The figures come back even when it fails half way,
// with the reasons for what is missing.
func runRound(ctx context.Context, cfg Config, dir, name string, faults *Faults) (*Figures, bool, error) {
	r := &round{cfg: cfg, name: name, dir: dir, faults: faults, log: cfg.Log.With("run", name),
		c: newClient(2 * time.Minute), figs: &Figures{}}
	err := r.run(ctx)
	if err != nil {
		r.log.Error("bench: run failed", "err", err)
		for _, k := range []string{"items", "initial_sync_seconds", "idle_requests_per_link_per_cycle",
			"idle_cycle_cpu_seconds", "propagation_p95_seconds_poll", "duplicates", "lost_edits"} {
			if _, ok := r.figs.Unmeasured[k]; !ok && r.isNull(k) {
				r.figs.unmeasured(k, "the run stopped early: "+err.Error())
			}
		}
	}
	return r.figs, r.push, err
}

func (r *round) isNull(key string) bool {
	f := r.figs
	switch key {
	case "items":
		return f.Items == nil
	case "initial_sync_seconds":
		return f.InitialSyncSeconds == nil
	case "idle_requests_per_link_per_cycle":
		return f.IdleRequestsPerLinkPerCycle == nil
	case "idle_cycle_cpu_seconds":
		return f.IdleCycleCPUSeconds == nil
	case "propagation_p95_seconds_poll":
		return f.PropagationP95Poll == nil && f.PropagationP95Push == nil
	case "duplicates":
		return f.Duplicates == nil
	case "lost_edits":
		return f.LostEdits == nil
	}
	return false
}

func (r *round) run(ctx context.Context) (err error) {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	r.log.Info("bench: starting the emulators")
	r.emu, err = startEmulation(ctx, r.cfg.Binary, r.dir, r.cfg.Users, r.cfg.Resources, r.cfg.Events, r.cfg.Seed)
	if err != nil {
		return err
	}
	defer func() {
		if e := r.emu.stop(); e != nil {
			r.log.Warn("bench: stop the emulators", "err", e)
		}
	}()
	r.sides = &sides{c: r.c, svcs: r.emu.svcs}
	dcfg, err := readConfig(r.emu.configPath)
	if err != nil {
		return err
	}
	if err := dcfg.adjust(r.cfg.Interval.String(), r.cfg.LogLevel, r.cfg.Profiles); err != nil {
		return err
	}
	cfgPath := filepath.Join(r.dir, "synchronizer.hcl")
	r.dcfg, r.cfgPath = dcfg, cfgPath
	if err := dcfg.write(cfgPath); err != nil {
		return err
	}
	if err := r.buildLayout(dcfg); err != nil {
		return err
	}
	r.figs.Links = len(r.layout.accounts)
	if err := r.setFaults(ctx, Faults{}); err != nil {
		return err
	}

	// What every place holds before the daemon touches anything.
	start := time.Now()
	from, to := start.Add(-29*24*time.Hour), start.Add(364*24*time.Hour)
	var before *contents
	if r.cfg.Check {
		r.log.Info("bench: reading every diary and calendar before the daemon starts", "places", len(r.layout.places()))
		if before, err = readPlaces(ctx, r.sides, r.layout, from, to, r.cfg.CheckWorkers); err != nil {
			return fmt.Errorf("read the places before: %w", err)
		}
	}

	r.log.Info("bench: starting the daemon", "config", cfgPath)
	r.daemon, err = startProcess("synchronizer run", r.cfg.Binary, []string{"run", "-config", cfgPath}, nil,
		filepath.Join(r.dir, "daemon.log"), false)
	if err != nil {
		return err
	}
	defer func() {
		if e := r.daemon.stop(30 * time.Second); e != nil {
			r.log.Warn("bench: stop the daemon", "err", e)
		}
	}()
	r.tracker = newTracker(procFS{root: "/proc"}, r.daemon.PID())
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampling sync.WaitGroup
	sampling.Add(1)
	go func() {
		defer sampling.Done()
		r.sample(sampleCtx)
	}()
	defer func() {
		stopSampling()
		sampling.Wait()
		r.recordMemory()
	}()
	r.adm = &admin{c: r.c, base: "http://" + dcfg.AdminAddress}
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = r.adm.ready(readyCtx, r.daemon.Done())
	cancel()
	if err != nil {
		return fmt.Errorf("%w (see %s)", err, r.daemon.log)
	}
	if r.faults != nil {
		r.log.Info("bench: injecting faults", "throttle", r.faults.Throttle, "server_errors", r.faults.ServerErrors)
		if err := r.setFaults(ctx, *r.faults); err != nil {
			return err
		}
	}

	if err := r.initialSync(ctx, dcfg.ConsentAddress); err != nil {
		return err
	}
	r.push = r.pushActive(ctx)
	if err := r.idleCycle(ctx); err != nil {
		return err
	}
	if err := r.propagation(ctx); err != nil {
		return err
	}
	if r.faults != nil {
		r.log.Info("bench: faults off")
		if err := r.setFaults(ctx, Faults{}); err != nil {
			return err
		}
	}
	if !r.cfg.Check {
		for _, k := range []string{"duplicates", "lost_edits"} {
			r.figs.unmeasured(k, "the comparison was switched off (-check=false)")
		}
	} else if err := r.compare(ctx, before, from, to); err != nil {
		return err
	}
	if r.cfg.Hold > 0 {
		r.log.Info("bench: holding the processes", "for", r.cfg.Hold, "admin", r.adm.base, "daemon_pid", r.daemon.PID(),
			"superoffice", r.emu.svcs.SuperOffice.URL, "m365", r.emu.svcs.M365.URL, "google", r.emu.svcs.Google.URL)
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.Hold):
		}
	}
	return nil
}

// buildLayout joins the configuration's links with the associate ids emulate
// printed.
func (r *round) buildLayout(dcfg *daemonConfig) error {
	links, err := dcfg.links()
	if err != nil {
		return err
	}
	for _, l := range links {
		id, ok := r.emu.associates[l.Associate]
		if !ok {
			return fmt.Errorf("emulate printed no associate id for %s (link %s/%s)", l.Associate, l.Profile, l.Link)
		}
		r.layout.accounts = append(r.layout.accounts, account{Profile: l.Profile, Link: l.Link, Kind: l.Kind,
			Associate: id, Calendar: l.Calendar, Mailbox: l.Mailbox})
	}
	if len(r.layout.accounts) == 0 {
		return errors.New("the configuration has no links")
	}
	return nil
}

// setFaults sets f on every emulator; Google also gets the project quota.
func (r *round) setFaults(ctx context.Context, f Faults) error {
	for _, side := range []string{sideSuperOffice, sideM365, sideGoogle} {
		g := f
		if side == sideGoogle {
			g.ProjectQuota, g.UserQuota = r.cfg.GoogleProjectQuota, r.cfg.GoogleUserQuota
		}
		if err := r.c.setFaults(ctx, r.emu.svcs.byName(side), g); err != nil {
			return fmt.Errorf("%s: %w", side, err)
		}
	}
	return nil
}

func (r *round) sample(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := r.tracker.sample(); err != nil && ctx.Err() == nil {
			select {
			case <-r.daemon.Done():
				return
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *round) recordMemory() {
	u, _ := r.tracker.sample()
	u = r.tracker.usage()
	if u.DaemonHWM > 0 {
		r.figs.DaemonPeakRSSBytes = ptr(u.DaemonHWM)
		r.figs.DaemonPeakAnonBytes = ptr(u.DaemonAnon)
	} else {
		r.figs.unmeasured("daemon_peak_rss_bytes", "/proc gave no VmHWM for the daemon")
	}
	if u.Plugins > 0 {
		r.figs.PluginsPeakRSSBytes = ptr(u.PluginsHWM)
	} else {
		r.figs.unmeasured("plugins_peak_rss_bytes", "no plugin process was seen under the daemon")
	}
}

// describeMachine reads what the figures ran on.
func describeMachine(bin string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		m.GoVersion = bi.GoVersion
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPUModel = firstField(f, "model name")
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(firstField(f, "MemTotal"), "%d kB", &kb); err == nil {
			m.MemoryB = kb * 1024
		}
		f.Close()
	}
	return m
}

// firstField returns the value of the first "key: value" line named key.
func firstField(r io.Reader, key string) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// newRand is the changes' random source, from the seed (printed at the start so
// a run can be replayed).
func newRand(seed int64, round string) *rand.Rand {
	var h uint64 = 14695981039346656037
	for _, b := range []byte(round) {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return rand.New(rand.NewPCG(uint64(seed), h))
}
