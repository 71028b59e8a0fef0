package meetings

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/config"
	"synchronizer/daemon/state"
	"synchronizer/daemon/telemetry"
	"synchronizer/daemon/web"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/sotest"
)

// licenceConf is a configuration with one profile of users and resources; a
// negative userLicenses leaves the count to the tenant.
func licenceConf(userLicenses int, users, resources []string) string {
	var b strings.Builder
	b.WriteString("encryption { key_file = \"key\" }\nhttp { admin_address = \"127.0.0.1:0\" }\n")
	b.WriteString("superoffice \"emu\" {\n  context_id = \"Cust1\"\n  client_id = \"synchronizer\"\n  client_secret = \"s\"\n  resources = true\n")
	if userLicenses >= 0 {
		fmt.Fprintf(&b, "  user_licenses = %d\n", userLicenses)
	}
	b.WriteString("}\ncalendar \"m365\" \"emu365\" {\n  tenant_id = \"t\"\n  client_id = \"c\"\n  client_secret = \"s\"\n}\n")
	b.WriteString("profile \"emu-m365\" {\n  superoffice = \"emu\"\n  calendar = \"emu365\"\n")
	for _, u := range users {
		fmt.Fprintf(&b, "  user %q {\n    associate = %q\n    mailbox = \"%s@m365.test\"\n  }\n", u, strings.ToUpper(u), u)
	}
	for _, r := range resources {
		fmt.Fprintf(&b, "  resource %q {\n    resource = %q\n    mailbox = \"%s@m365.test\"\n  }\n", r, strings.ToUpper(r), r)
	}
	b.WriteString("}\n")
	return b.String()
}

// tenantLicences reads the tenant's user-licence count through the superoffice
// provider, as the daemon's licence source does.
type tenantLicences struct {
	p     *superoffice.Provider
	token string
}

func (s tenantLicences) UserLicenses(ctx context.Context, tenant *config.SuperOffice) (int, error) {
	l, err := s.p.Licenses(ctx, sdk.Target{Instance: tenant.Name, Credential: sdk.Credential{Type: "bearer", Token: s.token}})
	if err != nil {
		return 0, err
	}
	return l.UserLicenses, nil
}

// allowedLinks records what the agent hands its runner.
type allowedLinks struct {
	mu      sync.Mutex
	applied [][]string
}

func (r *allowedLinks) Apply(_ context.Context, _ *config.Config, allowed []state.LinkID) error {
	var names []string
	for _, id := range allowed {
		names = append(names, id.String())
	}
	r.mu.Lock()
	r.applied = append(r.applied, names)
	r.mu.Unlock()
	return nil
}

func (r *allowedLinks) Close(context.Context) error { return nil }

func (r *allowedLinks) last() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.applied) == 0 {
		return nil
	}
	return slices.Clone(r.applied[len(r.applied)-1])
}

// The licence cap: N users and 5 resources fit a tenant with N user licences and
// resource sync on; a sixth resource is refused by validate, and when a reload
// adds it while the count comes from the tenant, it runs as unlicensed and the
// others go on.
func TestLicenceCapWithResources(t *testing.T) {
	users := []string{"alice", "bob", "carol"}
	rooms := []string{"room1", "room2", "room3", "room4", "room5"}
	more := append(slices.Clone(rooms), "room6")
	noEnv := config.Options{Getenv: func(string) (string, bool) { return "", false }}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// validate: at the cap passes, one more resource is refused naming tenant, cap and link.
	if _, res := agent.LoadConfig(write("at-cap.hcl", licenceConf(len(users), users, rooms)), noEnv, agent.Overrides{}); res.HasErrors() {
		t.Fatalf("validate refused a profile at the cap: %s", res.Error())
	}
	_, res := agent.LoadConfig(write("over.hcl", licenceConf(len(users), users, more)), noEnv, agent.Overrides{})
	if !res.HasErrors() {
		t.Fatal("validate accepted a sixth resource over the cap")
	}
	for _, want := range []string{"emu", "8", "room6"} {
		if !strings.Contains(res.Error(), want) {
			t.Errorf("validate's diagnostics do not name %q: %s", want, res.Error())
		}
	}

	// Run time: the count comes from the tenant (three user licences).
	signing, partner := testKeys(t)
	clk := &clock{t: t0}
	so := sotest.New(sotest.Options{ContextID: "Cust1", Now: clk.Now, SigningKey: signing, PartnerKey: partner, Licenses: len(users)})
	ts := httptest.NewServer(so)
	t.Cleanup(func() { ts.Close(); so.Close() })
	sop := superoffice.New(nil)
	sop.SetClock(clk.Now)
	if err := sop.Configure(context.Background(), "emu", map[string]string{"context_id": "Cust1", "client_id": "synchronizer",
		"client_secret": "synchronizer-secret", "endpoint": ts.URL, "partner_key": string(so.PartnerKeyPEM())}); err != nil {
		t.Fatal(err)
	}
	path := write("c.hcl", licenceConf(-1, users, rooms))
	ready := make(chan struct{}, 1)
	a, err := agent.New(agent.Options{
		ConfigPath:    path,
		ConfigOptions: noEnv,
		Logger:        slog.New(slog.DiscardHandler),
		Metrics:       telemetry.New(),
		Now:           clk.Now,
		Notify: func(s string) error {
			if strings.HasPrefix(s, "READY=1") {
				select {
				case ready <- struct{}{}:
				default:
				}
			}
			return nil
		},
		OpenStore: func(*config.Config, *slog.Logger) (state.Store, error) { return state.NewMemory(clk.Now), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	runner := &allowedLinks{}
	a.SetLicenseSource(tenantLicences{p: sop, token: so.AdminToken()})
	a.SetRunner(runner)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, make(chan struct{})) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the agent did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the agent stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not get ready")
	}
	states := func() map[string]web.LinkStatus {
		t.Helper()
		st, err := a.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]web.LinkStatus{}
		for _, p := range st.Profiles {
			for _, l := range p.Links {
				out[l.Name] = l
			}
		}
		return out
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; i < 500; i++ {
			if cond() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s; runner has %v, states %v", what, runner.last(), states())
	}
	waitFor("the 8 links at the cap to run", func() bool { return len(runner.last()) == len(users)+len(rooms) })
	for name, l := range states() {
		if l.State == "unlicensed" {
			t.Errorf("at the cap, %s is unlicensed: %s", name, l.LastError)
		}
	}
	if st, err := a.Status(context.Background()); err != nil || len(st.Tenants) != 1 || st.Tenants[0].Licenses != len(users)+5 {
		t.Errorf("tenant licences: %+v %v, want %d", st.Tenants, err, len(users)+5)
	}

	// A reload adds a sixth resource: it becomes unlicensed; nothing else changes.
	write("c.hcl", licenceConf(-1, users, more))
	if err := a.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitFor("the reload to reach the runner", func() bool { return states()["room6"].State == "unlicensed" })
	if got := runner.last(); len(got) != len(users)+len(rooms) || slices.Contains(got, "emu-m365/room6") {
		t.Errorf("runner runs %v after the reload", got)
	}
	st := states()
	if !strings.Contains(st["room6"].LastError, "licence cap") {
		t.Errorf("room6's reason: %q", st["room6"].LastError)
	}
	for _, name := range append(slices.Clone(users), rooms...) {
		if st[name].State == "unlicensed" {
			t.Errorf("after the reload, %s is unlicensed", name)
		}
	}
}
