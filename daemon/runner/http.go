package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/scheduler"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
)

// LinkViews reports every configured link with the state the daemon shows for it
// (the agent's Links: the stored state with unlicensed and disabled applied).
type LinkViews func(ctx context.Context) ([]agent.LinkView, error)

// SyncRequest is the optional JSON body of the sync routes; the same options may
// come as query parameters (?dry_run=true&force_delete=true).
type SyncRequest struct {
	DryRun      *bool `json:"dry_run"`
	ForceDelete *bool `json:"force_delete"`
}

// SyncResponse answers POST /v1/profiles/{profile}/sync and
// POST /v1/profiles/{profile}/links/{link}/sync.
type SyncResponse struct {
	Profile     string `json:"profile"`
	DryRun      bool   `json:"dry_run"`
	ForceDelete bool   `json:"force_delete"`
	// OK is true when every link that ran succeeded.
	OK    bool       `json:"ok"`
	Links []LinkSync `json:"links"`
}

// LinkSync is one link's part of a sync answer.
type LinkSync struct {
	Link  string `json:"link"`
	State string `json:"state"`
	// Ran is false for a link that could not run (unlicensed, disabled, waiting
	// for consent); Reason says why, ActivationURL where the person consents.
	Ran           bool   `json:"ran"`
	OK            bool   `json:"ok"`
	Error         string `json:"error,omitempty"`
	Reason        string `json:"reason,omitempty"`
	ActivationURL string `json:"activation_url,omitempty"`

	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	// Pairs is the number of pairs after the run (-1 when unknown).
	Pairs     int `json:"pairs"`
	Conflicts int `json:"conflicts"`
	// Changes counts the writes made (planned, in a dry run) by direction
	// (to_calendar, to_superoffice) and op (create, update, delete).
	Changes map[string]map[string]int `json:"changes"`
	// Actions lists the writes made (planned, in a dry run) by the side written
	// (superoffice, calendar), as the engine prints them; MoreActions counts
	// what was left out beyond MaxListed per side.
	Actions     map[string][]string `json:"actions"`
	MoreActions map[string]int      `json:"more_actions,omitempty"`
	Notes       []string            `json:"notes,omitempty"`
	ItemErrors  []string            `json:"item_errors,omitempty"`
}

// ConflictBody is the 409 answer for a link that cannot run: why, and where it
// stands.
type ConflictBody struct {
	Error         string     `json:"error"`
	State         string     `json:"state,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	ActivationURL string     `json:"activation_url,omitempty"`
	Links         []LinkSync `json:"links,omitempty"`
}

// MaxListed bounds the actions listed per side in a sync answer.
const MaxListed = 1000

// maxBody bounds a sync request's JSON body.
const maxBody = 64 << 10

// Routes mounts the run-now routes on the admin listener's mux.
func (r *Runner) Routes(mux *http.ServeMux, views LinkViews) {
	mux.HandleFunc("POST /v1/profiles/{profile}/sync", func(w http.ResponseWriter, req *http.Request) {
		r.serveSync(w, req, views, req.PathValue("profile"), "")
	})
	mux.HandleFunc("POST /v1/profiles/{profile}/links/{link}/sync", func(w http.ResponseWriter, req *http.Request) {
		r.serveSync(w, req, views, req.PathValue("profile"), req.PathValue("link"))
	})
}

// parseSyncOptions reads dry_run and force_delete from the query and the body
// (the body wins where both say something).
func parseSyncOptions(req *http.Request) (engine.RunOptions, error) {
	var opts engine.RunOptions
	q := req.URL.Query()
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"dry_run", &opts.DryRun}, {"force_delete", &opts.ForceDelete}} {
		vals, ok := q[p.name]
		if !ok {
			continue
		}
		v := ""
		if len(vals) > 0 {
			v = vals[len(vals)-1]
		}
		if v == "" { // ?dry_run alone means true
			*p.dst = true
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opts, fmt.Errorf("query parameter %s=%q: want true or false", p.name, v)
		}
		*p.dst = b
	}
	for k := range q {
		if k != "dry_run" && k != "force_delete" {
			return opts, fmt.Errorf("unknown query parameter %q: the options are dry_run and force_delete", k)
		}
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		return opts, fmt.Errorf("read the request body: %w", err)
	}
	if len(body) > maxBody {
		return opts, fmt.Errorf("the request body is larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return opts, nil
	}
	var sr SyncRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sr); err != nil {
		return opts, fmt.Errorf("the request body is not the expected JSON ({\"dry_run\": bool, \"force_delete\": bool}): %w", err)
	}
	if dec.More() {
		return opts, errors.New("the request body holds more than one JSON value")
	}
	if sr.DryRun != nil {
		opts.DryRun = *sr.DryRun
	}
	if sr.ForceDelete != nil {
		opts.ForceDelete = *sr.ForceDelete
	}
	return opts, nil
}

func (r *Runner) serveSync(w http.ResponseWriter, req *http.Request, views LinkViews, profile, link string) {
	r.mu.RLock()
	cfg := r.cfg
	r.mu.RUnlock()
	if cfg == nil {
		web.WriteError(w, http.StatusServiceUnavailable, "the links are not started yet")
		return
	}
	p := cfg.Profile(profile)
	if p == nil {
		web.WriteError(w, http.StatusNotFound, fmt.Sprintf("no profile %q in the configuration", profile))
		return
	}
	if link != "" && p.Link(link) == nil {
		web.WriteError(w, http.StatusNotFound, fmt.Sprintf("profile %s has no link %q", profile, link))
		return
	}
	opts, err := parseSyncOptions(req)
	if err != nil {
		web.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	all, err := views(req.Context())
	if err != nil {
		web.WriteError(w, http.StatusInternalServerError, "read the links: "+err.Error())
		return
	}
	byName := map[string]agent.LinkView{}
	for _, v := range all {
		if v.Config.Profile == profile {
			byName[v.Config.Name] = v
		}
	}
	resp := SyncResponse{Profile: profile, DryRun: opts.DryRun, ForceDelete: opts.ForceDelete, OK: true, Links: []LinkSync{}}
	// Links that cannot run at all are answered without asking the scheduler.
	var runnable []string
	for _, l := range p.Links {
		if link != "" && l.Name != link {
			continue
		}
		v, ok := byName[l.Name]
		if !ok {
			continue
		}
		if v.State == state.Unlicensed || v.State == state.Disabled || !r.scheduled(state.LinkID{Profile: profile, Link: l.Name}) {
			resp.Links = append(resp.Links, LinkSync{Link: l.Name, State: string(v.State), Reason: v.Reason, Pairs: v.Stored.Items})
			continue
		}
		runnable = append(runnable, l.Name)
	}
	if len(runnable) == 0 {
		r.conflict(w, profile, link, resp.Links)
		return
	}
	results, err := r.RunNow(req.Context(), profile, link, opts)
	switch {
	case errors.Is(err, scheduler.ErrUnknownLink), errors.Is(err, scheduler.ErrUnknownProfile):
		r.conflict(w, profile, link, resp.Links)
		return
	case errors.Is(err, scheduler.ErrStopped):
		web.WriteError(w, http.StatusServiceUnavailable, "the daemon is shutting down")
		return
	case err != nil && req.Context().Err() != nil:
		return // the client left; the runs go on
	case err != nil:
		web.WriteError(w, http.StatusInternalServerError, "run: "+err.Error())
		return
	}
	for _, lr := range results {
		ls := r.linkSync(req.Context(), lr)
		if ls.Ran && !ls.OK {
			resp.OK = false
		}
		resp.Links = append(resp.Links, ls)
	}
	sortLinks(p.Links, resp.Links)
	ran := false
	for _, ls := range resp.Links {
		ran = ran || ls.Ran
	}
	if !ran {
		r.conflict(w, profile, link, resp.Links)
		return
	}
	web.WriteJSON(w, http.StatusOK, resp)
}

// conflict answers 409 for links of which none could run.
func (r *Runner) conflict(w http.ResponseWriter, profile, link string, links []LinkSync) {
	body := ConflictBody{Links: links}
	if link != "" && len(links) == 1 {
		l := links[0]
		body.Error = fmt.Sprintf("link %s/%s cannot sync now: it is %s", profile, link, l.State)
		if l.Reason != "" {
			body.Error += ": " + l.Reason
		}
		body.State, body.Reason, body.ActivationURL = l.State, l.Reason, l.ActivationURL
		body.Links = nil
	} else {
		body.Error = fmt.Sprintf("no link of profile %s can sync now", profile)
	}
	web.WriteJSON(w, http.StatusConflict, body)
}

// waiting reports whether a link's last run found it waiting for consent.
func (r *Runner) waiting(id state.LinkID) bool {
	r.mu.RLock()
	e := r.links[id]
	r.mu.RUnlock()
	return e != nil && e.waiting.Load()
}

// scheduled reports whether a link is in the scheduler's job list.
func (r *Runner) scheduled(id state.LinkID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.allowed[id]
}

// linkSync renders one run's outcome; a link found waiting for consent is
// reported as not run, with its activation URL.
func (r *Runner) linkSync(ctx context.Context, lr scheduler.LinkResult) LinkSync {
	id := state.LinkID{Profile: lr.Profile, Link: lr.Link}
	row, _ := r.opts.Store.Link(ctx, id)
	ls := LinkSync{Link: lr.Link, State: string(row.State), Pairs: lr.Result.Pairs}
	if ls.State == "" {
		ls.State = string(state.PendingActivation)
	}
	if lr.Err == nil && r.waiting(id) {
		ls.Reason, ls.ActivationURL, ls.Pairs = row.LastError, row.ActivationURL, row.Items
		return ls
	}
	if ls.Pairs < 0 { // a run that changed nothing does not count the pairs
		ls.Pairs = row.Items
	}
	ls.Ran, ls.OK = true, lr.Err == nil
	if lr.Err != nil {
		ls.Error = lr.Err.Error()
	}
	res := lr.Result
	if !res.Started.IsZero() {
		s, f := res.Started.UTC(), res.Finished.UTC()
		ls.Started, ls.Finished = &s, &f
	}
	ls.Conflicts, ls.Notes, ls.ItemErrors = res.Conflicts, res.Notes, res.ItemErrors
	actions := res.Done
	if res.DryRun {
		actions = res.Plan
	}
	ls.Changes = map[string]map[string]int{}
	for _, s := range engine.Sides() {
		ls.Changes[s.Direction()] = map[string]int{string(engine.OpCreate): 0, string(engine.OpUpdate): 0, string(engine.OpDelete): 0}
	}
	ls.Actions = map[string][]string{string(engine.SuperOffice): {}, string(engine.Calendar): {}}
	for _, a := range actions {
		if !a.Side.Valid() {
			continue
		}
		ls.Changes[a.Side.Direction()][string(a.Op)]++
		if len(ls.Actions[string(a.Side)]) < MaxListed {
			ls.Actions[string(a.Side)] = append(ls.Actions[string(a.Side)], a.String())
		} else {
			if ls.MoreActions == nil {
				ls.MoreActions = map[string]int{}
			}
			ls.MoreActions[string(a.Side)]++
		}
	}
	return ls
}

// sortLinks orders answers as the links are declared.
func sortLinks(order []*config.Link, links []LinkSync) {
	pos := map[string]int{}
	for i, l := range order {
		pos[l.Name] = i
	}
	for i := 1; i < len(links); i++ {
		for j := i; j > 0 && pos[links[j].Link] < pos[links[j-1].Link]; j-- {
			links[j], links[j-1] = links[j-1], links[j]
		}
	}
}

// CountChanges sums a link's changes.
func (l LinkSync) CountChanges() int {
	n := 0
	for _, ops := range l.Changes {
		for _, c := range ops {
			n += c
		}
	}
	return n
}
