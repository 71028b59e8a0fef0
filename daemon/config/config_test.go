package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

func noEnv(string) (string, bool) { return "", false }

// markers reads the "# error: A | B" comments of a file: the diagnostics each
// line must get.
func markers(t *testing.T, path string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, line := range strings.Split(string(src), "\n") {
		for _, sev := range []string{"error", "warning"} {
			_, spec, ok := strings.Cut(line, "# "+sev+": ")
			if !ok {
				continue
			}
			for _, s := range strings.Split(spec, "|") {
				want = append(want, fmt.Sprintf("%d %s: %s", i+1, sev, strings.TrimSpace(s)))
			}
		}
	}
	sort.Strings(want)
	return want
}

func got(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		out = append(out, fmt.Sprintf("%d %s: %s", line, sev, d.Summary))
	}
	sort.Strings(out)
	return out
}

// Each broken file reports every problem it has, at the right line, in one run.
func TestBrokenConfigsReportEveryProblemAtItsLine(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/broken/*.hcl")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			cfg, res := Load(f, Options{Getenv: noEnv})
			if cfg != nil {
				t.Fatal("a broken config loaded")
			}
			if diff := cmp.Diff(markers(t, f), got(res.Diags)); diff != "" {
				var buf bytes.Buffer
				res.Write(&buf, 0, false)
				t.Fatalf("diagnostics (-want +got):\n%s\n%s", diff, buf.String())
			}
			for _, d := range res.Diags {
				if d.Subject == nil || d.Subject.Filename != f {
					t.Errorf("diagnostic %q does not point into %s: %v", d.Summary, f, d.Subject)
				}
			}
		})
	}
}

func TestWriteShowsFileLineColumnAndSource(t *testing.T) {
	t.Parallel()
	_, res := Load("testdata/broken/profiles.hcl", Options{Getenv: noEnv})
	var buf bytes.Buffer
	if err := res.Write(&buf, 0, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"testdata/broken/profiles.hcl:16:17: Error: Unknown superoffice block",
		`  16:   superoffice = "acm"`,
		"environment variable SYNC_TEST_UNSET_VARIABLE is not set",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "must be known") {
		t.Error("a failed env() call is reported twice")
	}
}

func TestDirectoryMergesFilesWithDefaults(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) {
		if k == "SYNC_TEST_SECRET" {
			return "from-env", true
		}
		return "", false
	}
	cfg, res := Load("testdata/good", Options{Getenv: env})
	if res.HasErrors() {
		t.Fatal(res.Error())
	}
	abs := func(p string) string { return filepath.Join("testdata/good", p) }
	if cfg.DataDir != abs("state") || cfg.Encryption.KeyFile != abs("key") {
		t.Errorf("relative paths not resolved: %q %q", cfg.DataDir, cfg.Encryption.KeyFile)
	}
	if cfg.LogLevel != "info" || cfg.LogFormat != "text" || cfg.PluginDir != DefaultPluginDir {
		t.Errorf("defaults: %q %q %q", cfg.LogLevel, cfg.LogFormat, cfg.PluginDir)
	}
	if cfg.HTTP != (HTTP{ConsentAddress: "127.0.0.1:8420", AdminAddress: "127.0.0.1:8421", PublicURL: "http://127.0.0.1:8420"}) {
		t.Errorf("http defaults: %+v", cfg.HTTP)
	}
	if len(cfg.Files) != 2 {
		t.Errorf("files = %v", cfg.Files)
	}
	b := cfg.Profile("b")
	if b.Interval != 90*time.Second || b.Past != 7*24*time.Hour || b.Future != 36*time.Hour {
		t.Errorf("durations: %v %v %v", b.Interval, b.Past, b.Future)
	}
	a := cfg.Profile("a")
	want := Profile{Name: "a", SuperOffice: "acme", Calendar: "m", Direction: "two-way", Interval: 5 * time.Minute,
		Past: 30 * 24 * time.Hour, Future: 365 * 24 * time.Hour, Conflict: "newest", Private: "busy", Language: "en",
		Push: true, Reconcile: DefaultReconcile}
	if diff := cmp.Diff(want, *a, cmp.FilterPath(func(p cmp.Path) bool {
		f := p.Last().String()
		return f == ".Links" || f == ".Range"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("profile defaults (-want +got):\n%s", diff)
	}
	// Declaration order: resource before user in profile b, then profile a.
	var order []string
	for _, l := range cfg.Links() {
		order = append(order, l.Profile+"/"+l.Name+"/"+string(l.Kind))
	}
	if got := strings.Join(order, " "); got != "b/room/resource b/jane/user a/jane/user" {
		t.Errorf("link order = %s", got)
	}
	if got := cfg.ProvidersInUse(); strings.Join(got, ",") != "google,m365,superoffice" {
		t.Errorf("providers in use = %v", got)
	}
}

func TestPluginSettings(t *testing.T) {
	t.Parallel()
	cfg, res := Load("testdata/good", Options{Getenv: noEnv})
	if res.HasErrors() {
		t.Fatal(res.Error())
	}
	cases := []struct {
		block    string
		provider string
		want     map[string]string
	}{
		{"acme", "superoffice", map[string]string{
			"endpoint": "", "context_id": "C", "environment": "online", "client_id": "c", "client_secret": "fallback",
			"partner_key": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
			"base_url":    "", "username": "", "password": "", "resources": "true",
		}},
		{"m", "m365", map[string]string{
			"endpoint": "http://127.0.0.1:9001", "tenant_id": "t", "client_id": "c", "client_secret": "s3cret\n", "auth": "delegated",
		}},
		{"gw", "google", map[string]string{
			"endpoint": "", "client_id": "", "client_secret": "", "service_account_json": "{\"type\":\"service_account\"}\n", "admin": "admin@acme.example",
		}},
	}
	for _, c := range cases {
		provider, settings, ok := cfg.PluginSettings(c.block)
		if !ok || provider != c.provider {
			t.Errorf("%s: provider %q ok %v", c.block, provider, ok)
			continue
		}
		if diff := cmp.Diff(c.want, settings); diff != "" {
			t.Errorf("%s settings (-want +got):\n%s", c.block, diff)
		}
	}
	if _, _, ok := cfg.PluginSettings("nope"); ok {
		t.Error("unknown block found")
	}
}

func TestExternalPluginsAndPins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	os.Mkdir(plugins, 0o755)
	exe := filepath.Join(plugins, PluginPrefix+"caldav")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(plugins, PluginPrefix+"notexec"), []byte("x"), 0o644)
	sum, err := FileSHA256(exe)
	if err != nil {
		t.Fatal(err)
	}
	write := func(body string) string {
		p := filepath.Join(dir, "c.hcl")
		os.WriteFile(p, []byte("plugin_dir = \"plugins\"\nencryption { key_file = \"k\" }\n"+body), 0o600)
		return p
	}
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"external provider with settings", `calendar "caldav" "dav" {
  endpoint = "https://dav.example.com"
  settings = { principal = "/p/" }
}
plugin "caldav" { sha256 = "` + sum + `" }`, nil},
		{"checksum mismatch", `plugin "caldav" { sha256 = "` + strings.Repeat("0", 64) + `" }`, []string{"3 error: Plugin checksum mismatch"}},
		{"not executable", `calendar "notexec" "x" {}`, []string{"3 error: Unknown provider"}},
		{"pinned but absent", `plugin "gone" { sha256 = "` + sum + `" }`, []string{"3 error: Plugin not found"}},
		{"settings clash", `calendar "caldav" "dav" {
  settings = { endpoint = "x" }
}`, []string{"4 error: Setting clashes with an attribute"}},
		{"m365 takes no settings", `calendar "m365" "m" {
  tenant_id = "t"
  client_id = "c"
  client_secret = "s"
  settings = { a = "b" }
}`, []string{"7 error: Attribute not used by this provider"}},
	}
	for _, c := range cases {
		cfg, res := Load(write(c.body), Options{Getenv: noEnv})
		if diff := cmp.Diff(c.want, got(res.Diags)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
			continue
		}
		if c.want == nil {
			if cfg.Providers["caldav"] != exe {
				t.Errorf("providers = %v", cfg.Providers)
			}
			_, s, _ := cfg.PluginSettings("dav")
			if diff := cmp.Diff(map[string]string{"endpoint": "https://dav.example.com", "client_id": "", "client_secret": "", "principal": "/p/"}, s); diff != "" {
				t.Errorf("external settings (-want +got):\n%s", diff)
			}
		}
	}
}

func TestBadInputFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	os.WriteFile(filepath.Join(empty, "readme.txt"), []byte("x"), 0o644)
	binary := filepath.Join(dir, "binary.hcl")
	os.WriteFile(binary, append([]byte("data_dir = \"x\"\n\x7fELF"), 0, 1, 2, 0xff, 0xfe), 0o644)
	latin1 := filepath.Join(dir, "latin1.hcl")
	os.WriteFile(latin1, []byte("# caf\xe9\n"), 0o644)
	emptyFile := filepath.Join(dir, "empty.hcl")
	os.WriteFile(emptyFile, nil, 0o644)
	garbage := filepath.Join(dir, "garbage.hcl")
	os.WriteFile(garbage, []byte("}}}{{{ = = \"unterminated\n"), 0o644)
	cases := []struct {
		name, path, want string
		line             int
	}{
		{"missing file", filepath.Join(dir, "nope.hcl"), "nope.hcl does not exist", 0},
		{"empty path", "", "no configuration path given", 0},
		{"directory without hcl files", empty, "holds no *.hcl files", 0},
		{"binary", binary, "holds binary data", 2},
		{"not utf-8", latin1, "holds binary data", 1},
		{"empty file", emptyFile, "Missing encryption block", 1},
		{"garbage", garbage, "Argument or block definition required", 1},
	}
	for _, c := range cases {
		cfg, res := Load(c.path, Options{Getenv: noEnv})
		if cfg != nil || !res.HasErrors() {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		var buf bytes.Buffer
		res.Write(&buf, 0, false)
		if !strings.Contains(buf.String(), c.want) {
			t.Errorf("%s: output lacks %q:\n%s", c.name, c.want, buf.String())
		}
		if c.line > 0 && (res.Diags[0].Subject == nil || res.Diags[0].Subject.Start.Line != c.line) {
			t.Errorf("%s: first diagnostic at %v, want line %d", c.name, res.Diags[0].Subject, c.line)
		}
		if len(res.Diags) > 5 {
			t.Errorf("%s: %d diagnostics for one problem", c.name, len(res.Diags))
		}
	}
}

func TestDuplicateAcrossFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("log_level = \"info\"\nencryption { key_file = \"k\" }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.hcl"), []byte("\nlog_level = \"debug\"\nencryption { key_file = \"k\" }\n"), 0o644)
	_, res := Load(dir, Options{Getenv: noEnv})
	var buf bytes.Buffer
	res.Write(&buf, 0, false)
	out := buf.String()
	for _, want := range []string{"b.hcl:2:1: Error: Duplicate argument", "b.hcl:3:1: Error: Duplicate encryption block"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExampleValidates(t *testing.T) {
	t.Parallel()
	cfg, res := Load("../../config.example.hcl", Options{Getenv: noEnv})
	if res.HasErrors() {
		var buf bytes.Buffer
		res.Write(&buf, 0, false)
		t.Fatalf("config.example.hcl:\n%s", buf.String())
	}
	if len(cfg.Profiles) == 0 || len(cfg.Links()) == 0 || cfg.SMTP == nil {
		t.Fatal("the example should show profiles, links and smtp")
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"5m", 5 * time.Minute, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"0d", 0, false},
		{"90s", 90 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"", 0, true},
		{"d", 0, true},
		{"-5m", 0, true},
		{"-1d", 0, true},
		{"1.5d", 0, true},
		{"5", 0, true},
		{"1d-1h", 0, true},
		{"5 minutes", 0, true},
		{"99999999d", 0, true},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:8421": true, ":8421": true, "[::1]:0": true, "localhost:80": true,
		"8421": false, "127.0.0.1:": false, "127.0.0.1:http": false, "127.0.0.1:65536": false, "a b:1": false,
	} {
		if err := CheckAddress(addr); (err == nil) != ok {
			t.Errorf("CheckAddress(%q) = %v", addr, err)
		}
	}
}

func TestAdminAddressNotLoopbackWarns(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "c.hcl")
	os.WriteFile(p, []byte("http { admin_address = \"0.0.0.0:8421\" }\nencryption { key_file = \"k\" }\n"), 0o644)
	cfg, res := Load(p, Options{Getenv: noEnv})
	if cfg == nil {
		t.Fatal(res.Error())
	}
	if diff := cmp.Diff([]string{"1 warning: Admin API reachable from other hosts"}, got(res.Diags)); diff != "" {
		t.Fatal(diff)
	}
}
