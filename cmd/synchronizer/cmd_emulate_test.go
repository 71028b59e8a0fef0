package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"synchronizer/cmd/synchronizer/internal/emulators"
	"synchronizer/daemon/config"
	"synchronizer/daemon/web"
)

// devProcess is `emulate` or `run -dev` running from this test binary.
type devProcess struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at EOF
	stderr *bytes.Buffer
	done   chan struct{}
}

func startDevProcess(t *testing.T, env []string, args ...string) *devProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "SYNCHRONIZER_TEST_AS_MAIN=1"), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, lines: make(chan string, 1000), stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{buf: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		// A failed test leaves the process running: stop it so it cleans up
		// after itself, and kill it only when it does not stop.
		select {
		case <-p.done:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *devProcess) log() string {
	logMu <- struct{}{}
	defer func() { <-logMu }()
	return p.stderr.String()
}

// line returns the next stdout line, failing after timeout or at EOF.
func (p *devProcess) line(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("stdout ended early; stderr:\n%s", p.log())
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("no output line within %v; stderr:\n%s", timeout, p.log())
		return ""
	}
}

// linesUntil collects stdout lines until one contains marker.
func (p *devProcess) linesUntil(t *testing.T, marker string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got []string
	for {
		l := p.line(t, time.Until(deadline))
		got = append(got, l)
		if strings.Contains(l, marker) {
			return got
		}
	}
}

// stop sends SIGTERM and returns the exit code.
func (p *devProcess) stop(t *testing.T, timeout time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("process did not stop within %v; stderr:\n%s", timeout, p.log())
		return -1
	}
}

func bearerGet(t *testing.T, rawURL, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// rootOf is scheme://host:port of an API root.
func rootOf(t *testing.T, api string) string {
	t.Helper()
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		t.Fatalf("url %q: %v", api, err)
	}
	return u.Scheme + "://" + u.Host
}

// `emulate` as a real process: the JSON line, the emulated APIs answering with
// its tokens (and refusing without), the test surface at each root, and a
// configuration that validates.
func TestEmulateProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "emu.hcl")
	p := startDevProcess(t, nil, "emulate", "-users", "2", "-resources", "1", "-events", "12", "-config-out", cfgPath)
	first := p.line(t, 30*time.Second)
	var info map[string]map[string]string
	if err := json.Unmarshal([]byte(first), &info); err != nil {
		t.Fatalf("first line is not the JSON: %q: %v", first, err)
	}
	if len(info) != 3 {
		t.Fatalf("services = %v", info)
	}
	suffix := map[string]string{"superoffice": "/api", "m365": "/v1.0", "google": "/calendar/v3"}
	roots := map[string]bool{}
	for svc, want := range suffix {
		s := info[svc]
		if len(s) != 2 || !strings.HasPrefix(s["url"], "http://127.0.0.1:") || !strings.HasSuffix(s["url"], want) || len(s["token"]) < 16 {
			t.Fatalf("%s = %v; want url ending %s and a token", svc, s, want)
		}
		roots[rootOf(t, s["url"])] = true
	}
	if len(roots) != 3 {
		t.Fatalf("the services share a listener: %v", roots)
	}
	rest := p.linesUntil(t, "Serving until interrupted", 10*time.Second)
	text := strings.Join(rest, "\n")
	for _, want := range []string{"USER1", "user2@m365.test", "room1@resource.google.test", "synchronizer run -config " + cfgPath} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	// Each API answers its token for a seeded calendar or diary, and refuses without it.
	checks := []struct {
		svc, path string
		items     func(b []byte) int
	}{
		{"superoffice", "/v1/Appointment?$select=appointmentId&$top=1000", func(b []byte) int {
			var v struct{ Value []json.RawMessage }
			json.Unmarshal(b, &v)
			return len(v.Value)
		}},
		{"m365", "/users/user1@m365.test/events?$top=100", func(b []byte) int {
			var v struct{ Value []json.RawMessage }
			json.Unmarshal(b, &v)
			return len(v.Value)
		}},
		{"google", "/calendars/room1@resource.google.test/events", func(b []byte) int {
			var v struct{ Items []json.RawMessage }
			json.Unmarshal(b, &v)
			return len(v.Items)
		}},
	}
	for _, c := range checks {
		s := info[c.svc]
		code, body := bearerGet(t, s["url"]+c.path, s["token"])
		if code != 200 || c.items(body) == 0 {
			t.Errorf("%s %s with the token: %d, %d items: %.300s", c.svc, c.path, code, c.items(body), body)
		}
		if code, _ := bearerGet(t, s["url"]+c.path, ""); code != 401 {
			t.Errorf("%s %s without a token: %d, want 401", c.svc, c.path, code)
		}
		if code, body := bearerGet(t, rootOf(t, s["url"])+"/_emulator/stats", ""); code != 200 || !json.Valid(body) {
			t.Errorf("%s /_emulator/stats: %d %.200s", c.svc, code, body)
		}
	}

	// The configuration validates, names what SPEC says, and points at the emulators.
	if code, stdout, stderr := runCmd("validate", "-config", cfgPath); code != 0 {
		t.Fatalf("validate: %d\n%s%s", code, stdout, stderr)
	}
	cfg, res := config.Load(cfgPath, config.Options{})
	if cfg == nil {
		t.Fatal(res.Error())
	}
	so := cfg.Tenant("emu")
	if so == nil || !so.Resources || so.Endpoint != rootOf(t, info["superoffice"]["url"]) || !strings.Contains(so.PartnerKey, "PRIVATE KEY") {
		t.Fatalf("superoffice emu = %+v", so)
	}
	m, g := cfg.Profile("emu-m365"), cfg.Profile("emu-google")
	if m == nil || g == nil || len(m.Links) != 3 || len(g.Links) != 3 {
		t.Fatalf("profiles = %+v", cfg.Profiles)
	}
	if l := g.Link("room1"); l == nil || l.Kind != config.KindResource || l.Associate != "ROOM1" || l.Mailbox != "room1@resource.google.test" {
		t.Fatalf("emu-google room1 = %+v", l)
	}
	if cal := cfg.Calendar(m.Calendar); cal == nil || cal.Provider != "m365" || cal.Endpoint != rootOf(t, info["m365"]["url"]) {
		t.Fatalf("m365 calendar = %+v", cal)
	}
	if "http://"+cfg.HTTP.ConsentAddress != cfg.HTTP.PublicURL || cfg.HTTP.ConsentAddress == cfg.HTTP.AdminAddress || roots["http://"+cfg.HTTP.AdminAddress] {
		t.Fatalf("http = %+v", cfg.HTTP)
	}
	if !strings.HasPrefix(cfg.DataDir, dir) || !strings.HasPrefix(cfg.Encryption.KeyFile, dir) {
		t.Fatalf("data_dir %s, key_file %s: want them beside the config", cfg.DataDir, cfg.Encryption.KeyFile)
	}
	if info, err := os.Stat(cfg.Encryption.KeyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	if _, err := os.Stat(emulators.PartnerKeyPath(cfgPath)); err != nil {
		t.Fatal(err)
	}

	if code := p.stop(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, p.log())
	}
}

func TestEmulateUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-users", "-1"}, 2, "-users -1: want 0 to"},
		{[]string{"-events", "100000000"}, 2, "-events 100000000"},
		{[]string{"-addr", "nope"}, 2, `-addr "nope" is not host:port`},
		{[]string{"stray"}, 2, `unexpected argument "stray"`},
		{[]string{"-h"}, 0, "Usage: synchronizer emulate"},
		{[]string{"-addr", "127.0.0.1:99999"}, 1, "port must be a number"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := cmdEmulate(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("emulate %v: exit %d, stderr %q; want %d, %q", c.args, code, errb.String(), c.code, c.stderr)
		}
	}
}

// The configuration `emulate -config-out` writes runs a normal daemon: with
// -auto-consent a script completes every consent by following redirects (as
// `curl -L` with cookies does), and every link syncs.
func TestEmulateConfigRunsADaemon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "emu.hcl")
	emu := startDevProcess(t, nil, "emulate", "-users", "1", "-resources", "1", "-events", "5", "-auto-consent", "-config-out", cfgPath)
	emu.linesUntil(t, "Serving until interrupted", 30*time.Second)
	cfg, res := config.Load(cfgPath, config.Options{})
	if cfg == nil {
		t.Fatal(res.Error())
	}
	d := startDaemon(t, "run", "-config", cfgPath)
	admin := "http://" + cfg.HTTP.AdminAddress
	waitUntil(t, "readyz", func() bool { code, _ := httpGet(admin + "/readyz"); return code == 200 }, d)

	script := &consentDriver{consentHost: cfg.HTTP.ConsentAddress, timeout: 20 * time.Second}
	ctx := t.Context()
	for _, s := range []struct{ name, hint string }{{"emu", emulators.SuperOfficeAdmin}, {"emugw", ""}} {
		code, out, stderr := runCmd("connect", s.name, "-config", cfgPath)
		if code != 0 {
			t.Fatalf("connect %s: %d %s", s.name, code, stderr)
		}
		goURL := strings.TrimSpace(out) + "/go"
		if s.hint != "" {
			goURL += "?login_hint=" + url.QueryEscape(s.hint)
		}
		if err := script.complete(ctx, goURL, ""); err != nil {
			t.Fatalf("setup %s: %v\ndaemon:\n%s", s.name, err, d.log())
		}
	}
	for _, l := range []struct{ profile, link string }{{"emu-m365", "user1"}, {"emu-m365", "room1"}, {"emu-google", "user1"}} {
		code, out, stderr := runCmd("activate", l.profile, l.link, "-config", cfgPath)
		if code != 0 {
			t.Fatalf("activate %s/%s: %d %s", l.profile, l.link, code, stderr)
		}
		if err := script.complete(ctx, withGo(strings.TrimSpace(out)), ""); err != nil {
			t.Fatalf("activate %s/%s: %v\ndaemon:\n%s", l.profile, l.link, err, d.log())
		}
	}
	for _, p := range []string{"emu-m365", "emu-google"} {
		if code, stdout, stderr := runCmd("sync", p, "-config", cfgPath); code != 0 {
			t.Fatalf("sync %s: %d\n%s%s\ndaemon:\n%s", p, code, stdout, stderr, d.log())
		}
	}
	_, body := httpGet(admin + "/v1/status")
	var st web.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Profiles {
		for _, l := range p.Links {
			if l.State != "active" || l.Items == 0 {
				t.Errorf("%s/%s = %+v", p.Name, l.Name, l)
			}
		}
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.wait(t, 30*time.Second); code != 0 {
		t.Errorf("daemon exit %d", code)
	}
	if code := emu.stop(t, 10*time.Second); code != 0 {
		t.Errorf("emulate exit %d", code)
	}
}
