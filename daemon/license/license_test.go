package license

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synchronizer/daemon/config"
)

// profile describes one profile of a generated configuration.
type profile struct {
	name      string
	tenant    string
	users     int
	resources int
	disabled  int // the first N users are disabled
}

// load writes a configuration with the given tenants and profiles and loads it.
func load(t *testing.T, tenants string, profiles ...profile) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("encryption { key_file = \"key\" }\n")
	b.WriteString(tenants)
	b.WriteString("calendar \"m365\" \"cal\" {\n tenant_id = \"t\"\n client_id = \"c\"\n client_secret = \"s\"\n}\n")
	for _, p := range profiles {
		fmt.Fprintf(&b, "profile %q {\n superoffice = %q\n calendar = \"cal\"\n", p.name, p.tenant)
		// Interleave users and resources to check declaration order is kept.
		for i := 0; i < max(p.users, p.resources); i++ {
			if i < p.users {
				fmt.Fprintf(&b, " user \"u%d\" {\n  associate = \"U%d\"\n  mailbox = \"u%d@x\"\n", i, i, i)
				if i < p.disabled {
					b.WriteString("  disabled = true\n")
				}
				b.WriteString(" }\n")
			}
			if i < p.resources {
				fmt.Fprintf(&b, " resource \"r%d\" {\n  resource = \"R%d\"\n  mailbox = \"r%d@x\"\n }\n", i, i, i)
			}
		}
		b.WriteString("}\n")
	}
	path := filepath.Join(t.TempDir(), "c.hcl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, res := config.Load(path, config.Options{})
	if res.HasErrors() {
		t.Fatalf("config: %s", res.Error())
	}
	return cfg
}

func tenant(name string, resources bool, userLicenses int) string {
	s := fmt.Sprintf("superoffice %q {\n context_id = \"C\"\n client_id = \"c\"\n client_secret = \"s\"\n resources = %v\n", name, resources)
	if userLicenses >= 0 {
		s += fmt.Sprintf(" user_licenses = %d\n", userLicenses)
	}
	return s + "}\n"
}

func names(ls []*config.Link) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Profile+"/"+l.Name)
	}
	return strings.Join(out, " ")
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		tenants  string
		profiles []profile
		counts   map[string]int
		wantCap  int
		wantUsed int
		wantOver int
	}{
		// The product's documented example: 50 user licences -> 55 links at most.
		{"50 user licences give 55 with resources", tenant("acme", true, 50),
			[]profile{{name: "p", tenant: "acme", users: 50, resources: 6}}, nil, 55, 55, 1},
		{"exactly 55 fits", tenant("acme", true, 50),
			[]profile{{name: "p", tenant: "acme", users: 50, resources: 5}}, nil, 55, 55, 0},
		{"the bonus is 5 even with few users", tenant("acme", true, 2),
			[]profile{{name: "p", tenant: "acme", users: 0, resources: 10}}, nil, 7, 7, 3},
		{"no bonus without resource sync", tenant("acme", false, 50),
			[]profile{{name: "p", tenant: "acme", users: 52}}, nil, 50, 50, 2},
		{"summed over every profile of the tenant", tenant("acme", false, 10),
			[]profile{{name: "a", tenant: "acme", users: 6}, {name: "b", tenant: "acme", users: 6}}, nil, 10, 10, 2},
		{"live count used when config has none", tenant("acme", false, -1),
			[]profile{{name: "p", tenant: "acme", users: 4}}, map[string]int{"acme": 3}, 3, 3, 1},
		{"config overrides the live count", tenant("acme", false, 5),
			[]profile{{name: "p", tenant: "acme", users: 4}}, map[string]int{"acme": 1}, 5, 4, 0},
		{"unknown count licenses nothing", tenant("acme", false, -1),
			[]profile{{name: "p", tenant: "acme", users: 2}}, nil, 0, 0, 2},
		{"disabled links take no licence", tenant("acme", false, 2),
			[]profile{{name: "p", tenant: "acme", users: 4, disabled: 2}}, nil, 2, 2, 0},
		{"zero licences", tenant("acme", false, 0),
			[]profile{{name: "p", tenant: "acme", users: 1}}, nil, 0, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := load(t, c.tenants, c.profiles...)
			r := Evaluate(cfg, c.counts)
			tn := r.Tenant("acme")
			if tn.Cap != c.wantCap || tn.Used() != c.wantUsed || len(tn.Over) != c.wantOver {
				t.Fatalf("cap %d used %d over %d; want %d %d %d", tn.Cap, tn.Used(), len(tn.Over), c.wantCap, c.wantUsed, c.wantOver)
			}
			for _, l := range tn.Licensed {
				if ok, reason := r.Licensed(l); !ok || reason != "" {
					t.Fatalf("licensed link %s: %v %q", l.Name, ok, reason)
				}
			}
			for _, l := range tn.Over {
				if ok, reason := r.Licensed(l); ok || reason == "" {
					t.Fatalf("over-cap link %s: %v %q", l.Name, ok, reason)
				}
			}
		})
	}
}

func TestDeclarationOrderDecides(t *testing.T) {
	t.Parallel()
	// Profile b is declared first, so its links keep their licences.
	cfg := load(t, tenant("acme", true, 2), profile{name: "b", tenant: "acme", users: 2, resources: 2}, profile{name: "a", tenant: "acme", users: 2, resources: 2})
	tn := Evaluate(cfg, nil).Tenant("acme")
	if got, want := names(tn.Licensed), "b/u0 b/r0 b/u1 b/r1 a/u0 a/r0 a/u1"; got != want {
		t.Fatalf("licensed = %s\nwant       %s", got, want)
	}
	if got := names(tn.Over); got != "a/r1" {
		t.Fatalf("over = %s", got)
	}
	// The tenant lost licences: the last declared go first, nothing else moves.
	tn = Evaluate(withoutOverride(cfg), map[string]int{"acme": 0}).Tenant("acme")
	if got, want := names(tn.Licensed), "b/u0 b/r0 b/u1 b/r1 a/u0"; got != want {
		t.Fatalf("after losing licences: %s, want %s", got, want)
	}
}

func withoutOverride(cfg *config.Config) *config.Config {
	c := *cfg
	c.SuperOffice = nil
	for _, so := range cfg.SuperOffice {
		s := *so
		s.UserLicenses = nil
		c.SuperOffice = append(c.SuperOffice, &s)
	}
	return &c
}

func TestTenantsAreSeparatePools(t *testing.T) {
	t.Parallel()
	cfg := load(t, tenant("acme", false, 1)+tenant("globex", false, 3),
		profile{name: "a", tenant: "acme", users: 2}, profile{name: "g", tenant: "globex", users: 2})
	r := Evaluate(cfg, nil)
	if a, g := r.Tenant("acme"), r.Tenant("globex"); a.Used() != 1 || len(a.Over) != 1 || g.Used() != 2 || len(g.Over) != 0 {
		t.Fatalf("acme %d/%d globex %d/%d", a.Used(), len(a.Over), g.Used(), len(g.Over))
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	t.Run("resource without resource sync", func(t *testing.T) {
		t.Parallel()
		cfg := load(t, tenant("acme", false, -1), profile{name: "p", tenant: "acme", users: 1, resources: 1})
		diags := Check(cfg)
		if len(diags) != 1 || diags[0].Summary != "Resource sync is off" {
			t.Fatalf("diags = %v", diags)
		}
		if r := diags[0].Subject; r == nil || r.Start.Line == 0 || !strings.HasSuffix(r.Filename, "c.hcl") {
			t.Fatalf("diagnostic does not point at the link: %v", r)
		}
		if ok, reason := Evaluate(cfg, map[string]int{"acme": 10}).Licensed(cfg.Profiles[0].Links[1]); ok || !strings.Contains(reason, "resources = true") {
			t.Fatalf("resource link: %v %q", ok, reason)
		}
	})
	t.Run("over the cap names tenant, cap and links with file:line", func(t *testing.T) {
		t.Parallel()
		cfg := load(t, tenant("acme", true, 50), profile{name: "p", tenant: "acme", users: 50, resources: 7})
		diags := Check(cfg)
		if len(diags) != 3 {
			t.Fatalf("got %d diagnostics, want the summary and 2 links: %v", len(diags), diags)
		}
		d := diags[0].Detail
		for _, want := range []string{"tenant acme", "55 licences (50 user licences + 5 for resources)", "for 57 links", "p/u48 (", "p/u49 (", "c.hcl:"} {
			if !strings.Contains(d, want) {
				t.Errorf("detail lacks %q: %s", want, d)
			}
		}
		last := cfg.Profiles[0].Links[len(cfg.Profiles[0].Links)-1]
		if diags[2].Subject.Start.Line != last.Range.Start.Line {
			t.Fatalf("last diagnostic at line %d, want the last link's %d", diags[2].Subject.Start.Line, last.Range.Start.Line)
		}
	})
	t.Run("unknown count is not an error", func(t *testing.T) {
		t.Parallel()
		cfg := load(t, tenant("acme", true, -1), profile{name: "p", tenant: "acme", users: 100})
		if diags := Check(cfg); len(diags) != 0 {
			t.Fatalf("diags = %v", diags)
		}
	})
}
