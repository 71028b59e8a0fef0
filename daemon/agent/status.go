package agent

import (
	"context"
	"net/http"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/daemon/web"
)

// LinkView is a link as the daemon reports it: the stored state with the
// configuration's overlays (disabled, unlicensed) applied.
type LinkView struct {
	Config *config.Link
	Stored state.Link
	State  state.LinkState
	// Reason is the readable why of a state that is not active.
	Reason string
}

// Links reports every configured link, in declaration order.
func (a *Agent) Links(ctx context.Context) ([]LinkView, error) {
	stored, err := a.store.Links(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[state.LinkID]state.Link, len(stored))
	for _, l := range stored {
		byID[l.ID] = l
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	cfg, lic := a.cfg, a.lic
	var out []LinkView
	for _, l := range cfg.Links() {
		id := state.LinkID{Profile: l.Profile, Link: l.Name}
		st := byID[id]
		v := LinkView{Config: l, Stored: st, State: st.State, Reason: st.LastError}
		if v.State == "" {
			v.State = state.PendingActivation
		}
		switch {
		case l.Disabled:
			v.State, v.Reason = state.Disabled, "disabled in the configuration"
		case lic != nil:
			if ok, reason := lic.Licensed(l); !ok {
				v.State, v.Reason = state.Unlicensed, a.reasonLocked(cfg, lic, l, reason)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// Status builds the body of GET /v1/status.
func (a *Agent) Status(ctx context.Context) (web.Status, error) {
	links, err := a.Links(ctx)
	if err != nil {
		return web.Status{}, err
	}
	cfg := a.Config()
	a.mu.RLock()
	lic := a.lic
	a.mu.RUnlock()
	var st web.Status
	for _, so := range cfg.SuperOffice {
		ts := web.TenantStatus{Name: so.Name}
		if lic != nil {
			if t := lic.Tenant(so.Name); t != nil {
				ts.Licenses, ts.LicensesUsed = t.Cap, t.Used()
			}
		}
		st.Tenants = append(st.Tenants, ts)
	}
	byProfile := map[string][]web.LinkStatus{}
	for _, v := range links {
		ls := web.LinkStatus{
			Name:      v.Config.Name,
			Kind:      string(v.Config.Kind),
			Associate: v.Config.Associate,
			Mailbox:   v.Config.Mailbox,
			State:     string(v.State),
			LastError: v.Reason,
			Items:     v.Stored.Items,
		}
		if !v.Stored.LastSync.IsZero() {
			t := v.Stored.LastSync.UTC()
			ls.LastSync = &t
		}
		if v.State == state.PendingActivation || v.State == state.NeedsConsent {
			ls.ActivationURL = v.Stored.ActivationURL
		}
		byProfile[v.Config.Profile] = append(byProfile[v.Config.Profile], ls)
	}
	for _, p := range cfg.Profiles {
		st.Profiles = append(st.Profiles, web.ProfileStatus{
			Name: p.Name, Tenant: p.SuperOffice, Calendar: p.Calendar, Links: byProfile[p.Name],
		})
	}
	return st, nil
}

// updateGauges sets the licence and link gauges from the configuration and store.
func (a *Agent) updateGauges(ctx context.Context) {
	links, err := a.Links(ctx)
	if err != nil {
		a.log.Warn("cannot read links for metrics", "err", err)
		return
	}
	cfg := a.Config()
	counts := map[string]map[string]int{}
	for _, p := range cfg.Profiles {
		counts[p.Name] = map[string]int{}
		for _, s := range state.LinkStates {
			counts[p.Name][string(s)] = 0
		}
	}
	for _, v := range links {
		counts[v.Config.Profile][string(v.State)]++
	}
	a.m.SetLinks(counts)
	a.mu.RLock()
	lic := a.lic
	a.mu.RUnlock()
	tenants := map[string]telemetry.TenantLicenses{}
	if lic != nil {
		for _, t := range lic.Tenants {
			tenants[t.Name] = telemetry.TenantLicenses{Licenses: t.Cap, Used: t.Used()}
		}
	}
	a.m.SetLicenses(tenants)
}

// metricsHandler refreshes the gauges that mirror the store before each scrape,
// so link states set by the runner show without delay.
func (a *Agent) metricsHandler() http.Handler {
	h := a.m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		a.updateGauges(ctx)
		cancel()
		h.ServeHTTP(w, r)
	})
}
