package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPushAndReconcileSettings(t *testing.T) {
	t.Parallel()
	base := `encryption { key_file = "k" }
superoffice "acme" {
  context_id    = "Cust1"
  client_id     = "c"
  client_secret = "s"
}
calendar "google" "g" {
  client_id     = "c"
  client_secret = "s"
}
`
	cases := []struct {
		name      string
		body      string
		want      []string
		push      bool
		reconcile time.Duration
		publicSet bool
	}{
		{"defaults", `profile "p" {
  superoffice = "acme"
  calendar = "g"
}`, nil, true, DefaultReconcile, false},
		{"off", `http { public_url = "https://sync.example.test" }
profile "p" {
  superoffice = "acme"
  calendar = "g"
  push = false
  reconcile = "0"
}`, nil, false, 0, true},
		{"a day", `profile "p" {
  superoffice = "acme"
  calendar = "g"
  reconcile = "1d"
}`, nil, true, 24 * time.Hour, false},
		{"too often", `profile "p" {
  superoffice = "acme"
  calendar = "g"
  reconcile = "1m"
}`, []string{"14 error: Duration too short"}, true, DefaultReconcile, false},
		{"not a duration", `profile "p" {
  superoffice = "acme"
  calendar = "g"
  reconcile = "often"
}`, []string{"14 error: Invalid duration"}, true, DefaultReconcile, false},
		{"plain HTTP to another host", `http { public_url = "http://sync.example.test" }
profile "p" {
  superoffice = "acme"
  calendar = "g"
}`, []string{"11 warning: Push needs HTTPS"}, true, DefaultReconcile, true},
		{"plain HTTP to loopback", `http { public_url = "http://127.0.0.1:8420" }
profile "p" {
  superoffice = "acme"
  calendar = "g"
}`, nil, true, DefaultReconcile, true},
		{"push not a bool", `profile "p" {
  superoffice = "acme"
  calendar = "g"
  push = "maybe"
}`, []string{"14 error: Unsuitable value type"}, true, DefaultReconcile, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.hcl")
			if err := os.WriteFile(p, []byte(base+c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, res := Load(p, Options{Getenv: noEnv})
			if diff := cmp.Diff(c.want, got(res.Diags)); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s", diff)
			}
			if cfg == nil {
				return
			}
			pr := cfg.Profile("p")
			if pr.Push != c.push || pr.Reconcile != c.reconcile {
				t.Errorf("push %v reconcile %v, want %v %v", pr.Push, pr.Reconcile, c.push, c.reconcile)
			}
			if cfg.HTTP.PublicURLSet != c.publicSet {
				t.Errorf("PublicURLSet = %v, want %v", cfg.HTTP.PublicURLSet, c.publicSet)
			}
		})
	}
}
