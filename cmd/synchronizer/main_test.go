package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"synchronizer/daemon/web"
)

// TestMain lets process tests re-run this test binary as the synchronizer.
func TestMain(m *testing.M) {
	if os.Getenv("SYNCHRONIZER_TEST_AS_MAIN") == "1" {
		os.Args = append([]string{"synchronizer"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.hcl")
	os.WriteFile(broken, []byte("encryption { key_file = \"k\" }\nprofile \"p\" {\n  superoffice = \"nope\"\n  calendar = \"nope\"\n}\n"), 0o600)
	binary := filepath.Join(dir, "binary.hcl")
	os.WriteFile(binary, []byte{0x7f, 'E', 'L', 'F', 0, 0, 1}, 0o600)
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no command", nil, 2, "", "Usage:"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, 0, "synchronizer ", ""},
		{"help", []string{"help"}, 0, "Commands:", ""},
		{"validate without -config", []string{"validate"}, 2, "", "-config PATH is required"},
		{"validate with a stray argument", []string{"validate", "-config", "x", "extra"}, 2, "", `unexpected argument "extra"`},
		{"validate bad flag", []string{"validate", "-nope"}, 2, "", "flag provided but not defined"},
		{"validate -h", []string{"validate", "-h"}, 0, "", "Usage: synchronizer validate"},
		{"validate the example", []string{"validate", "-config", "../../config.example.hcl"}, 0, "valid: 1 tenants", ""},
		{"validate broken", []string{"validate", "-config", broken}, 1, "", "broken.hcl:3:17: Error: Unknown superoffice block"},
		{"validate binary", []string{"validate", "-config", binary}, 1, "", "holds binary data"},
		{"validate missing", []string{"validate", "-config", filepath.Join(dir, "nope")}, 1, "", "does not exist"},
		{"validate empty dir", []string{"validate", "-config", t.TempDir()}, 1, "", "holds no *.hcl files"},
		{"run without -config", []string{"run"}, 2, "", "-config PATH is required"},
		{"run -dev with -config", []string{"run", "-dev", "-config", "x.hcl"}, 2, "", "-dev runs its own demo configuration"},
		{"run -dev bad address", []string{"run", "-dev", "-admin-address", "nope"}, 2, "", "-admin-address"},
		{"run broken", []string{"run", "-config", broken}, 1, "", "nothing started"},
		{"keygen without -out", []string{"keygen"}, 2, "", "-out FILE is required"},
		{"status, nobody listening", []string{"status", "-admin", freeAddr(t)}, 1, "", "no synchronizer is listening on"},
		{"status bad address", []string{"status", "-admin", "nope"}, 1, "", "not host:port"},
	}
	for _, c := range cases {
		code, stdout, stderr := runCmd(c.args...)
		if code != c.code || !strings.Contains(stdout, c.stdout) || !strings.Contains(stderr, c.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.name, code, stdout, stderr, c.code, c.stdout, c.stderr)
		}
	}
	if _, _, stderr := runCmd("validate", "-config", broken); !strings.Contains(stderr, "broken.hcl:4:14: Error: Unknown calendar block") || !strings.Contains(stderr, "2 problems found") {
		t.Errorf("validate reports only some problems:\n%s", stderr)
	}
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestKeygen(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "key")
	if code, _, stderr := runCmd("keygen", "-out", out); code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	info, err := os.Stat(out)
	if err != nil || info.Mode().Perm() != 0o600 || info.Size() != 32 {
		t.Fatalf("key: %v %v", info, err)
	}
	before, _ := os.ReadFile(out)
	if code, _, stderr := runCmd("keygen", "-out", out); code != 1 || !strings.Contains(stderr, "refusing to overwrite") {
		t.Fatalf("second keygen: %d %s", code, stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Fatal("key overwritten")
	}
}

func sampleStatus() web.Status {
	last := time.Date(2025, 3, 1, 11, 55, 0, 0, time.UTC)
	return web.Status{
		Tenants: []web.TenantStatus{{Name: "acme", Licenses: 55, LicensesUsed: 2}},
		Profiles: []web.ProfileStatus{
			{Name: "acme-365", Tenant: "acme", Calendar: "acme365", Links: []web.LinkStatus{
				{Name: "jane", Kind: "user", Associate: "JANE", Mailbox: "jane@acme.example", State: "active", LastSync: &last, Items: 12},
				{Name: "room1", Kind: "resource", Associate: "Meeting room 1", Mailbox: "room1@acme.example", State: "pending_activation",
					ActivationURL: "https://sync.example.com/activate/abc"},
				{Name: "bob", Kind: "user", Associate: "BOB", Mailbox: "bob@acme.example", State: "error", LastError: "superoffice acme: connection refused"},
			}},
			{Name: "empty", Tenant: "acme", Calendar: "gw", Links: []web.LinkStatus{}},
		},
	}
}

func TestRenderStatusGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	renderStatus(&buf, sampleStatus(), time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	golden := filepath.Join("testdata", "status.golden")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if buf.String() != string(want) {
		t.Fatalf("status table:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestStatusAgainstADaemon(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(web.NewAdminMux(web.AdminOptions{Status: func(context.Context) (web.Status, error) { return sampleStatus(), nil }}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	code, stdout, stderr := runCmd("status", "-admin", addr, "-json")
	var st web.Status
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || len(st.Profiles) != 2 {
		t.Fatalf("status -json: %d %q %q", code, stdout, stderr)
	}
	code, stdout, _ = runCmd("status", "-admin", addr)
	if code != 0 || !strings.Contains(stdout, "PROFILE acme-365") || !strings.Contains(stdout, "bob: superoffice acme: connection refused") {
		t.Fatalf("status: %d\n%s", code, stdout)
	}
	// The address comes from the configuration when -admin is not given;
	// secrets it cannot resolve do not matter.
	cfg := filepath.Join(t.TempDir(), "c.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf("http { admin_address = %q }\nsuperoffice \"a\" { client_secret = env(\"SURELY_UNSET_SECRET\") }\n", addr)), 0o600)
	if code, stdout, stderr := runCmd("status", "-config", cfg); code != 0 || !strings.Contains(stdout, "TENANT") {
		t.Fatalf("status -config: %d %q %q", code, stdout, stderr)
	}
	// A daemon that answers an error.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.WriteError(w, 500, "state store: closed")
	}))
	defer bad.Close()
	if code, _, stderr := runCmd("status", "-admin", strings.TrimPrefix(bad.URL, "http://")); code != 1 || !strings.Contains(stderr, "said: state store: closed") {
		t.Fatalf("error answer: %d %q", code, stderr)
	}
}

// daemon is a synchronizer process started from this test binary.
type daemon struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, args...)
}

func startDaemonEnv(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "SYNCHRONIZER_TEST_AS_MAIN=1"), env...)
	d := &daemon{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{buf: d.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

type lockedWriter struct {
	buf *bytes.Buffer
}

var logMu = make(chan struct{}, 1)

func (w *lockedWriter) Write(p []byte) (int, error) {
	logMu <- struct{}{}
	defer func() { <-logMu }()
	return w.buf.Write(p)
}

func (d *daemon) log() string {
	logMu <- struct{}{}
	defer func() { <-logMu }()
	return d.stderr.String()
}

func (d *daemon) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("daemon did not exit within %v; log:\n%s", timeout, d.log())
		return -1
	}
}

func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitUntil(t *testing.T, what string, cond func() bool, d *daemon) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; log:\n%s", what, d.log())
}

func daemonConfig(dataDir, key, admin string, links ...string) string {
	s := fmt.Sprintf("data_dir = %q\nencryption { key_file = %q }\nhttp { admin_address = %q }\n", dataDir, key, admin) +
		"superoffice \"acme\" {\n context_id = \"Cust1\"\n client_id = \"c\"\n client_secret = \"sekrit-marker-so\"\n endpoint = \"http://127.0.0.1:1\"\n}\n" +
		"calendar \"m365\" \"m\" {\n tenant_id = \"t\"\n client_id = \"c\"\n client_secret = \"sekrit-marker-m365\"\n endpoint = \"http://127.0.0.1:1\"\n}\n" +
		"profile \"p\" {\n superoffice = \"acme\"\n calendar = \"m\"\n"
	for _, l := range links {
		s += fmt.Sprintf(" user %q {\n  associate = %q\n  mailbox = \"%s@acme.example\"\n }\n", l, strings.ToUpper(l), l)
	}
	return s + "}\n"
}

// The daemon serves health, status and metrics with every service
// unreachable, reloads on SIGHUP (keeping the old configuration when the new
// one is broken) and stops cleanly on SIGTERM.
func TestDaemonProcessLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	if code, _, stderr := runCmd("keygen", "-out", key); code != 0 {
		t.Fatal(stderr)
	}
	admin := freeAddr(t)
	cfg := filepath.Join(dir, "synchronizer.hcl")
	os.WriteFile(cfg, []byte(daemonConfig(filepath.Join(dir, "data"), key, admin, "jane")), 0o600)
	notify := listenNotify(t, filepath.Join(dir, "notify.sock"))
	d := startDaemonEnv(t, []string{"NOTIFY_SOCKET=" + filepath.Join(dir, "notify.sock")}, "run", "-config", cfg)
	base := "http://" + admin
	waitUntil(t, "healthz", func() bool { code, _ := httpGet(base + "/healthz"); return code == 200 }, d)

	// Ready once the plugins have taken their settings.
	waitUntil(t, "readyz", func() bool { code, _ := httpGet(base + "/readyz"); return code == 200 }, d)
	_, body := httpGet(base + "/v1/status")
	var st web.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status: %v: %s", err, body)
	}
	if l := st.Profiles[0].Links[0]; l.State != "unlicensed" || l.LastError == "" {
		t.Fatalf("link = %+v", l)
	}
	_, metrics := httpGet(base + "/metrics")
	for _, want := range []string{"synchronizer_config_last_reload_successful 1", `synchronizer_links{profile="p",state="unlicensed"} 1`, "go_goroutines", "process_open_fds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "data", "state.db")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state.db: %v %v", info, err)
	}

	// A second daemon on the same data_dir is refused (after the 5 s lock wait).
	second := startDaemon(t, "run", "-config", cfg, "-admin-address", freeAddr(t))
	if code := second.wait(t, 15*time.Second); code != 1 || !strings.Contains(second.log(), "another synchronizer is using") {
		t.Fatalf("second instance: exit %d\n%s", code, second.log())
	}

	// A valid reload adds a link.
	os.WriteFile(cfg, []byte(daemonConfig(filepath.Join(dir, "data"), key, admin, "jane", "bob")), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the reloaded link", func() bool { _, b := httpGet(base + "/v1/status"); return strings.Contains(b, `"bob"`) }, d)

	// A broken reload is rejected; the old configuration keeps serving.
	os.WriteFile(cfg, []byte("this is { not valid"), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the rejected reload", func() bool {
		_, m := httpGet(base + "/metrics")
		return strings.Contains(m, "synchronizer_config_last_reload_successful 0")
	}, d)
	if _, b := httpGet(base + "/v1/status"); !strings.Contains(b, `"bob"`) {
		t.Fatalf("old configuration lost: %s", b)
	}
	if !strings.Contains(d.log(), "configuration rejected") {
		t.Fatalf("rejection not logged:\n%s", d.log())
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, d.log())
	}
	if !strings.Contains(d.log(), "msg=stopped") {
		t.Fatalf("no clean stop logged:\n%s", d.log())
	}
	// Secrets never reach the log, the status or the metrics.
	for what, text := range map[string]string{"log": d.log(), "metrics": metrics, "status": body} {
		if strings.Contains(text, "sekrit-marker") {
			t.Errorf("a client secret appears in the %s", what)
		}
	}
	// systemd heard: ready, two reloads each followed by ready, stopping.
	var got []string
	for _, m := range notify() {
		first, rest, _ := strings.Cut(m, "\n")
		if first == "RELOADING=1" && !strings.HasPrefix(rest, "MONOTONIC_USEC=") {
			t.Errorf("RELOADING without MONOTONIC_USEC: %q", m)
		}
		got = append(got, first)
	}
	want := "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1"
	if strings.Join(got, " ") != want {
		t.Errorf("notifications = %v, want %s", got, want)
	}
}

// listenNotify plays systemd's notification socket; the returned function
// gives the messages received so far.
func listenNotify(t *testing.T, path string) func() []string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	var seen []string
	return func() []string {
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					return seen
				}
				seen = append(seen, m)
			case <-time.After(200 * time.Millisecond):
				return seen
			}
		}
	}
}

func TestDaemonRefusesBadStartingPoints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	runCmd("keygen", "-out", key)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("too short"), 0o600)
	foreign := filepath.Join(dir, "foreign")
	os.MkdirAll(foreign, 0o700)
	garbage := []byte("SQLite format 3\x00 not ours")
	os.WriteFile(filepath.Join(foreign, "state.db"), garbage, 0o600)
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o600)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	cases := []struct {
		name, dataDir, key, admin, want string
	}{
		{"missing key", filepath.Join(dir, "d1"), filepath.Join(dir, "nokey"), freeAddr(t), "keygen"},
		{"short key", filepath.Join(dir, "d2"), short, freeAddr(t), "holds 9 bytes"},
		{"foreign state file", foreign, key, freeAddr(t), "not a bbolt database"},
		{"data_dir is a file", notDir, key, freeAddr(t), "a file is in the way"},
		{"port in use", filepath.Join(dir, "d3"), key, busy.Addr().String(), "is already in use"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "c.hcl")
			os.WriteFile(cfg, []byte(daemonConfig(c.dataDir, c.key, c.admin, "jane")), 0o600)
			d := startDaemon(t, "run", "-config", cfg)
			if code := d.wait(t, 10*time.Second); code != 1 || !strings.Contains(d.log(), c.want) {
				t.Fatalf("exit %d, want 1 mentioning %q:\n%s", code, c.want, d.log())
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(foreign, "state.db")); !bytes.Equal(b, garbage) {
		t.Fatal("the foreign state file was changed")
	}
}

// Every broken configuration of the config package's testdata fails validate
// with exit 1 and names its file, line and column.
func TestValidateBrokenConfigs(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../daemon/config/testdata/broken/*.hcl")
	if len(files) == 0 {
		t.Fatal("no broken configurations found")
	}
	for _, f := range files {
		code, stdout, stderr := runCmd("validate", "-config", f)
		if code != 1 || stdout != "" || !strings.Contains(stderr, f+":") || !strings.Contains(stderr, "problem") {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s", f, code, stdout, stderr)
		}
	}
}

func TestValidateLicenceCap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(licences int) string {
		p := filepath.Join(dir, fmt.Sprintf("c%d.hcl", licences))
		os.WriteFile(p, []byte(strings.Replace(daemonConfig("data", "key", "127.0.0.1:0", "jane", "bob"),
			"endpoint = \"http://127.0.0.1:1\"\n}", fmt.Sprintf("endpoint = \"http://127.0.0.1:1\"\n user_licenses = %d\n}", licences), 1)), 0o600)
		return p
	}
	code, _, stderr := runCmd("validate", "-config", write(1))
	if code != 1 || !strings.Contains(stderr, "tenant acme has 1 licence (1 user licence) for 2 links; over the cap: p/bob (") {
		t.Fatalf("over the cap: exit %d\n%s", code, stderr)
	}
	code, stdout, _ := runCmd("validate", "-config", write(2))
	if code != 0 || !strings.Contains(stdout, "tenant acme: 2 of 2 licences used") {
		t.Fatalf("at the cap: exit %d\n%s", code, stdout)
	}
}
