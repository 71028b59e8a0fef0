package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"synchronizer/cmd/synchronizer/internal/emulators"
	"synchronizer/daemon/config"
	"synchronizer/daemon/engine"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/plugins/google"
	"synchronizer/plugins/m365"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
)

// emulatorCreds hands every call the emulators' admin tokens.
type emulatorCreds struct{ info emulators.Info }

func (c emulatorCreds) Calendar(_ context.Context, cal *config.Calendar, _ *config.Link) (sdk.Credential, error) {
	if cal.Provider == config.ProviderGoogle {
		return sdk.Credential{Type: "bearer", Token: c.info.Google.Token}, nil
	}
	return sdk.Credential{Type: "bearer", Token: c.info.M365.Token}, nil
}

func (c emulatorCreds) SuperOffice(context.Context, *config.SuperOffice) (sdk.Credential, error) {
	return sdk.Credential{Type: "bearer", Token: c.info.SuperOffice.Token}, nil
}

func (emulatorCreds) Invalidate(context.Context, sdk.Credential) {}

// TestRunnerWithTheRealProviders runs the runner in-process over the three real
// providers against their emulators: users and a room on Microsoft 365, a user
// on Google, each side seeded with singles, all-day, private items and a
// series with a moved and a cancelled occurrence. The first runs pair
// everything, later runs write nothing, and a dry run after an edit plans
// exactly that edit.
func TestRunnerWithTheRealProviders(t *testing.T) {
	t.Parallel()
	cl, err := emulators.Start(emulators.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.Close(ctx)
	})
	if _, err := cl.Populate(2, 1); err != nil {
		t.Fatal(err)
	}
	if err := cl.SeedEvents(2, 1, 4, 11); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.hcl")
	layout := emulators.Layout{Tenant: "emu", M365: "emu365", Google: "emugw", Profiles: []emulators.Profile{
		{Name: "pm", Calendar: "emu365", Links: []emulators.Link{
			{Name: "user1", Kind: "user", Associate: emulators.SuperOfficeUser(1), Mailbox: emulators.M365User(1)},
			{Name: "room1", Kind: "resource", Associate: emulators.SuperOfficeResource(1), Mailbox: emulators.M365Room(1)},
		}},
		{Name: "pg", Calendar: "emugw", Links: []emulators.Link{
			{Name: "user2", Kind: "user", Associate: emulators.SuperOfficeUser(2), Mailbox: emulators.GoogleUser(2)},
		}},
	}}
	err = cl.WriteConfig(emulators.ConfigFile{Path: path, Layout: layout, DataDir: filepath.Join(dir, "data"), KeyFile: filepath.Join(dir, "key"),
		ConsentAddress: "127.0.0.1:0", AdminAddress: "127.0.0.1:0", UserLicenses: 10})
	if err != nil {
		t.Fatal(err)
	}
	cfg, res := config.Load(path, config.Options{})
	if cfg == nil {
		t.Fatal(res.Error())
	}

	log := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	providers := map[string]sdk.Provider{}
	plugins := func(name string) (sdk.Provider, error) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := providers[name]; ok {
			return p, nil
		}
		var p sdk.Provider
		switch name {
		case config.ProviderSuperOffice:
			p = superoffice.New(log)
		case config.ProviderM365:
			p = m365.New(log)
		case config.ProviderGoogle:
			p = google.New(log)
		default:
			return nil, sdk.ErrUnsupported
		}
		providers[name] = p
		return p, nil
	}
	store := state.NewMemory(nil)
	metrics := telemetry.New()
	r, err := runner.New(runner.Options{
		Plugins: plugins, Store: store, SyncStore: engine.NewMemStore(),
		Credentials: emulatorCreds{cl.Info()}, Metrics: metrics, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	var ids []state.LinkID
	for _, l := range cfg.Links() {
		ids = append(ids, state.LinkID{Profile: l.Profile, Link: l.Name})
	}
	if err := r.Apply(context.Background(), cfg, ids); err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(context.Background()); err != nil {
		t.Fatalf("ready: %v", err)
	}

	run := func(id state.LinkID, opts engine.RunOptions) engine.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rs, err := r.RunNow(ctx, id.Profile, id.Link, opts)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if rs[0].Err != nil {
			t.Fatalf("%s: %v", id, rs[0].Err)
		}
		return rs[0].Result
	}
	pairs := map[state.LinkID]int{}
	for _, id := range ids {
		first := run(id, engine.RunOptions{})
		if len(first.Done) == 0 || len(first.ItemErrors) > 0 {
			t.Fatalf("%s: first run wrote %d, item errors %v", id, len(first.Done), first.ItemErrors)
		}
		// The echo of the first run's writes, then nothing at all.
		run(id, engine.RunOptions{})
		third := run(id, engine.RunOptions{})
		if len(third.Plan) != 0 {
			t.Errorf("%s: an idle run plans %v", id, third.Plan)
		}
		row, err := store.Link(context.Background(), id)
		if err != nil || row.State != state.Active || row.Items != first.Pairs || row.Items == 0 || row.LastError != "" {
			t.Errorf("%s: row %+v (%v), pairs after the first run %d", id, row, err, first.Pairs)
		}
		pairs[id] = row.Items
		t.Logf("%s: %d writes, %d pairs", id, len(first.Done), row.Items)
	}
	// A second reload re-resolves the accounts and changes nothing.
	if err := r.Apply(context.Background(), cfg, ids); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if res := run(id, engine.RunOptions{}); len(res.Plan) != 0 {
			t.Errorf("%s after reload: plan %v", id, res.Plan)
		}
		if row, _ := store.Link(context.Background(), id); row.Items != pairs[id] {
			t.Errorf("%s after reload: %d pairs, was %d", id, row.Items, pairs[id])
		}
	}
}
