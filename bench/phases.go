package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// initialSync completes every consent and waits until every link has synced
// once. The clock starts before the first consent: a link's first run starts as
// its consent lands, so consenting is part of bringing the links up.
func (r *round) initialSync(ctx context.Context, consentAddr string) error {
	start := time.Now()
	cons := &consenter{timeout: 2 * time.Minute, consentHost: consentAddr}
	google := slices.ContainsFunc(r.layout.accounts, func(a account) bool { return a.Calendar == sideGoogle })
	setups := []struct{ block, admin string }{{blockTenant, adminSuperOffice}}
	if google {
		setups = append(setups, struct{ block, admin string }{blockGoogle, adminGoogle})
	}
	for _, s := range setups {
		if err := retry(ctx, 5, func() error {
			u, err := r.adm.setupURL(ctx, s.block)
			if err != nil || u == "" {
				return err
			}
			return cons.complete(ctx, u, s.admin)
		}); err != nil {
			return fmt.Errorf("setup %s: %w", s.block, err)
		}
	}
	r.log.Info("bench: tenant-level access granted; activating every link", "links", len(r.layout.accounts))
	work := make(chan account)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range r.cfg.ConsentWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				hint := ""
				if a.Calendar == sideGoogle && a.Kind == "resource" {
					hint = adminGoogle // an admin who manages the resource calendar
				}
				err := retry(ctx, 5, func() error {
					u, err := r.adm.activationURL(ctx, a.Profile, a.Link)
					if err != nil || u == "" {
						return err
					}
					return cons.complete(ctx, u, hint)
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("activate %s: %w", a, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range r.layout.accounts {
		work <- a
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	consented := time.Since(start)
	r.figs.ConsentSeconds = seconds(consented)
	r.log.Info("bench: every link consented", "seconds", round3(consented.Seconds()))

	deadline := start.Add(r.cfg.SyncTimeout)
	lastLog := time.Now()
	for {
		st, err := r.adm.status(ctx)
		if err != nil {
			return err
		}
		synced, items, failing := 0, int64(0), []string{}
		for _, p := range st.Profiles {
			for _, l := range p.Links {
				items += int64(l.Items)
				switch {
				case l.State == "active" && l.LastSync != nil:
					synced++
				case l.LastError != "":
					failing = append(failing, fmt.Sprintf("%s/%s is %s: %s", p.Name, l.Name, l.State, shorten(l.LastError, 120)))
				}
			}
		}
		if synced == len(r.layout.accounts) {
			d := time.Since(start)
			r.figs.InitialSyncSeconds = seconds(d)
			r.figs.Items = ptr(items)
			r.figs.InitialSyncItemsPerSecond = ptr(round3(float64(items) / d.Seconds()))
			r.log.Info("bench: initial sync done", "seconds", round3(d.Seconds()), "items", items)
			return nil
		}
		if time.Now().After(deadline) {
			r.figs.unmeasured("initial_sync_seconds", fmt.Sprintf("after %v only %d of %d links had synced", r.cfg.SyncTimeout, synced, len(r.layout.accounts)))
			return fmt.Errorf("initial sync: %d of %d links synced within %v; %s", synced, len(r.layout.accounts), r.cfg.SyncTimeout, strings.Join(first(failing, 3), "; "))
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			r.log.Info("bench: initial sync", "links_synced", synced, "links", len(r.layout.accounts), "items", items,
				"seconds", round3(time.Since(start).Seconds()), "failing", len(failing))
			for _, f := range first(failing, 2) {
				r.log.Info("bench: a link is failing (it is retried)", "why", f)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// retry calls f up to n times, a second apart, until it succeeds.
func retry(ctx context.Context, n int, f func() error) error {
	var err error
	for i := 0; i < n; i++ {
		if err = f(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// pushActive says whether the daemon subscribed to notifications anywhere:
// Graph subscriptions, Google watch channels or SuperOffice webhooks.
func (r *round) pushActive(ctx context.Context) bool {
	st, err := r.c.allStats(ctx, r.emu.svcs)
	if err != nil {
		return false
	}
	for _, s := range st {
		for route, n := range s.Requests {
			if n > 0 && strings.HasPrefix(route, "POST ") &&
				(strings.HasSuffix(route, "/subscriptions") || strings.HasSuffix(route, "/watch") || strings.HasSuffix(route, "/Webhook")) {
				return true
			}
		}
	}
	return false
}

// cycleMark is what the idle cycle compares before and after.
type cycleMark struct {
	at    time.Time
	stats map[string]emulatorStats
	runs  map[string]float64 // sync runs by profile
	use   usage
}

func (r *round) mark(ctx context.Context) (cycleMark, error) {
	m := cycleMark{at: time.Now()}
	var err error
	if m.runs, err = r.adm.metricBy(ctx, "synchronizer_sync_runs_total", "profile"); err != nil {
		return m, err
	}
	if m.stats, err = r.c.allStats(ctx, r.emu.svcs); err != nil {
		return m, err
	}
	if m.use, err = r.tracker.sample(); err != nil {
		return m, err
	}
	return m, nil
}

// syncAll runs every link now, profile after profile, and says which links
// failed.
func (r *round) syncAll(ctx context.Context) ([]string, error) {
	var failed []string
	for _, p := range r.cfg.Profiles {
		res, err := r.adm.syncProfile(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, l := range res.Links {
			if l.Ran && !l.OK {
				failed = append(failed, fmt.Sprintf("%s/%s: %s", p, l.Link, shorten(l.Error, 120)))
			}
		}
	}
	return failed, nil
}

// idleCycle runs every link twice with nothing to do and measures the second
// pass: requests per run on each side (from the emulators' counters) and CPU
// time of the daemon and its plugins, per run times the links. Runs the
// scheduler starts meanwhile are counted too (they are idle runs as well), so
// the figures are per run, scaled to one run per link.
func (r *round) idleCycle(ctx context.Context) error {
	if _, err := r.syncAll(ctx); err != nil { // settles what the initial sync left
		return fmt.Errorf("idle cycle: %w", err)
	}
	before, err := r.mark(ctx)
	if err != nil {
		return fmt.Errorf("idle cycle: %w", err)
	}
	failed, err := r.syncAll(ctx)
	if err != nil {
		return fmt.Errorf("idle cycle: %w", err)
	}
	after, err := r.mark(ctx)
	if err != nil {
		return fmt.Errorf("idle cycle: %w", err)
	}
	if len(failed) > 0 {
		r.log.Warn("bench: runs failed in the idle cycle", "failed", len(failed), "first", first(failed, 3))
	}
	runs := map[string]float64{}
	total := 0.0
	for p, n := range after.runs {
		runs[p] = n - before.runs[p]
		total += runs[p]
	}
	if total <= 0 {
		r.figs.unmeasured("idle_requests_per_link_per_cycle", "the daemon counted no runs in the idle cycle")
		r.figs.unmeasured("idle_cycle_cpu_seconds", "the daemon counted no runs in the idle cycle")
		return nil
	}
	runsOf := map[string]float64{sideSuperOffice: total, sideM365: runs[profileM365], sideGoogle: runs[profileGoogle]}
	r.figs.IdleRequestsBySide = map[string]*float64{}
	sum := 0.0
	for _, side := range []string{sideSuperOffice, sideM365, sideGoogle} {
		d := float64(after.stats[side].requests() - before.stats[side].requests())
		sum += d
		if runsOf[side] > 0 {
			r.figs.IdleRequestsBySide[side] = ptr(round3(d / runsOf[side]))
		}
	}
	links := float64(len(r.layout.accounts))
	r.figs.IdleRequestsPerLinkPerCycle = ptr(round3(sum / total))
	cpu := (after.use.CPU() - before.use.CPU()).Seconds()
	r.figs.IdleCycleCPUSeconds = ptr(round3(cpu / total * links))
	r.figs.IdleCycleWallSeconds = ptr(round3(after.at.Sub(before.at).Seconds()))
	r.log.Info("bench: idle cycle", "runs", total, "requests_per_link", *r.figs.IdleRequestsPerLinkPerCycle,
		"cpu_seconds", *r.figs.IdleCycleCPUSeconds, "wall_seconds", *r.figs.IdleCycleWallSeconds)
	return nil
}

// propagation times random changes: with push when the daemon subscribed to
// notifications, then with polling only (the profiles reloaded with
// push = false), or with polling only from the start when it did not.
func (r *round) propagation(ctx context.Context) error {
	if r.cfg.Changes <= 0 {
		for _, k := range []string{"propagation_p50_seconds_push", "propagation_p95_seconds_push", "propagation_p95_seconds_poll"} {
			r.figs.unmeasured(k, "no changes were asked for (-changes 0)")
		}
		return nil
	}
	journal, err := os.Create(filepath.Join(r.dir, "changes.log"))
	if err != nil {
		return fmt.Errorf("propagation: %w", err)
	}
	defer journal.Close()
	r.changer = &changer{sides: r.sides, layout: r.layout, slots: &slots{base: time.Now()}, round: r.name,
		probe: r.cfg.Probe, timeout: r.cfg.ChangeTimeout, rng: newRand(r.cfg.Seed, r.name), journal: journal}
	if r.push {
		before, err := r.c.allStats(ctx, r.emu.svcs)
		if err != nil {
			return err
		}
		if err := r.timeChanges(ctx, "push"); err != nil {
			return err
		}
		after, err := r.c.allStats(ctx, r.emu.svcs)
		if err != nil {
			return err
		}
		r.figs.Notifications = map[string]int{}
		for side, st := range after {
			r.figs.Notifications[side] = st.notifications() - before[side].notifications()
		}
		if err := r.pushOff(ctx); err != nil {
			for _, k := range []string{"propagation_p50_seconds_poll", "propagation_p95_seconds_poll"} {
				r.figs.unmeasured(k, "could not turn push off: "+err.Error())
			}
			return nil
		}
	} else {
		why := "the daemon made no push subscription (no Graph subscription, Google watch channel or SuperOffice webhook)"
		for _, k := range []string{"propagation_p50_seconds_push", "propagation_p95_seconds_push"} {
			r.figs.unmeasured(k, why)
		}
	}
	return r.timeChanges(ctx, "poll")
}

// pushOffSettle is how long pushOff waits after the reload.
const pushOffSettle = 5 * time.Second

// pushOff reloads the daemon with push = false on every profile (SIGHUP) and
// waits until it took the new configuration.
func (r *round) pushOff(ctx context.Context) error {
	const stamp = "synchronizer_config_last_reload_success_timestamp_seconds"
	prev, err := r.adm.metric(ctx, stamp)
	if err != nil {
		return err
	}
	r.dcfg.setPush(false)
	if err := r.dcfg.write(r.cfgPath); err != nil {
		return err
	}
	// The stamp has whole seconds: let one pass, so the reload's is later.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(1100 * time.Millisecond):
	}
	if err := r.daemon.signal(syscall.SIGHUP); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if now, err := r.adm.metric(ctx, stamp); err == nil && now > prev {
			// The daemon removes its subscriptions at the services as it applies
			// the configuration; let the last removals and the notifications
			// already on their way pass before polling is timed.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pushOffSettle):
			}
			r.log.Info("bench: push turned off (configuration reloaded)")
			return nil
		}
		if ok, err := r.adm.metric(ctx, "synchronizer_config_last_reload_successful"); err == nil && ok == 0 {
			return fmt.Errorf("the daemon rejected the configuration with push = false (see %s)", r.daemon.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the daemon did not reload its configuration within a minute (see %s)", r.daemon.log)
}

// timeChanges makes the changes of one mode and records their percentiles.
func (r *round) timeChanges(ctx context.Context, mode string) error {
	r.log.Info("bench: timing changes", "changes", r.cfg.Changes, "workers", r.cfg.Workers, "mode", mode)
	lastLog := time.Now()
	var logMu sync.Mutex
	chs, err := r.changer.run(ctx, r.cfg.Changes, r.cfg.Workers, func(done int) {
		logMu.Lock()
		defer logMu.Unlock()
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			r.log.Info("bench: changes", "mode", mode, "done", done, "of", r.cfg.Changes)
		}
	})
	if err != nil {
		return fmt.Errorf("propagation (%s): %w", mode, err)
	}
	byKind := map[string][]change{}
	for _, ch := range chs {
		k := mode + " " + ch.op + " on " + ch.from
		byKind[k] = append(byKind[k], ch)
	}
	if r.figs.ByChange == nil {
		r.figs.ByChange = map[string]ChangeFigures{}
	}
	for k, list := range byKind {
		s, ns := latencies(list)
		cf := ChangeFigures{Changes: len(list), NotSeen: ns}
		if v, ok := percentile(s, 50); ok {
			cf.P50 = seconds(v)
		}
		if v, ok := percentile(s, 95); ok {
			cf.P95 = seconds(v)
		}
		r.figs.ByChange[k] = cf
		r.log.Info("bench: changes of a kind", "kind", k, "changes", cf.Changes, "not_seen", ns, "p50", deref(cf.P50), "p95", deref(cf.P95))
	}
	sorted, notSeen := latencies(chs)
	r.figs.Changes += len(chs)
	r.figs.ChangesNotSeen += notSeen
	p50, p95, p99 := &r.figs.PropagationP50Poll, &r.figs.PropagationP95Poll, &r.figs.PropagationP99Poll
	if mode == "push" {
		p50, p95, p99 = &r.figs.PropagationP50Push, &r.figs.PropagationP95Push, &r.figs.PropagationP99Push
	}
	for _, q := range []struct {
		p   float64
		dst **float64
	}{{50, p50}, {95, p95}, {99, p99}} {
		if v, ok := percentile(sorted, q.p); ok {
			*q.dst = seconds(v)
		}
	}
	if len(sorted) == 0 {
		r.figs.unmeasured("propagation_p95_seconds_"+mode, "no change showed on the other side in time")
	}
	r.log.Info("bench: changes timed", "mode", mode, "seen", len(sorted), "not_seen", notSeen,
		"p50", deref(*p50), "p95", deref(*p95), "p99", deref(*p99))
	return nil
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// compare lets every link catch up, then reads every place again and compares
// it with what it should hold.
func (r *round) compare(ctx context.Context, before *contents, from, to time.Time) error {
	r.log.Info("bench: letting every link catch up")
	var failed []string
	for pass := 0; pass < 6; pass++ {
		var err error
		if failed, err = r.syncAll(ctx); err != nil {
			return err
		}
		if len(failed) == 0 && pass >= 1 {
			break
		}
	}
	if len(failed) > 0 {
		r.log.Warn("bench: links still failing before the comparison", "failed", len(failed), "first", first(failed, 3))
	}
	r.log.Info("bench: reading every diary and calendar", "places", len(r.layout.places()))
	after, err := readPlaces(ctx, r.sides, r.layout, from, to, r.cfg.CheckWorkers)
	if err != nil {
		return fmt.Errorf("read the places after: %w", err)
	}
	var items []*benchItem
	if r.changer != nil {
		items = r.changer.items
	}
	v := compare(r.layout.expected(before), r.layout.meetingKeys(before, after), items, after)
	r.figs.Duplicates, r.figs.LostEdits = ptr(v.Duplicates), ptr(v.LostEdits)
	r.figs.Missing, r.figs.Compared, r.figs.MeetingsSkipped = ptr(v.Missing), ptr(v.Compared), ptr(v.Meetings)
	r.log.Info("bench: comparison", "compared", v.Compared, "duplicates", v.Duplicates, "lost_edits", v.LostEdits, "missing", v.Missing, "meetings_left_out", v.Meetings)
	for _, e := range v.Examples {
		r.log.Warn("bench: difference", "what", e)
	}
	return nil
}
