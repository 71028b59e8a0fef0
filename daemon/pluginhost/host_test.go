package pluginhost

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"synchronizer/daemon/telemetry"
	"synchronizer/plugins/sdk"
)

// capture is a slog.Handler that keeps records and wakes waiters on a message.
type capture struct {
	mu    sync.Mutex
	recs  []captured
	attrs []slog.Attr
	root  *capture
}

type captured struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newCapture() *capture { c := &capture{}; c.root = c; return c }

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	rec := captured{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range c.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value.String(); return true })
	c.root.mu.Lock()
	c.root.recs = append(c.root.recs, rec)
	c.root.mu.Unlock()
	return nil
}
func (c *capture) WithAttrs(as []slog.Attr) slog.Handler {
	return &capture{root: c.root, attrs: append(append([]slog.Attr{}, c.attrs...), as...)}
}
func (c *capture) WithGroup(string) slog.Handler { return c }

// find returns the first record with msg, waiting up to 5 s for it.
func (c *capture) find(t *testing.T, msg string) captured {
	t.Helper()
	for range 500 {
		c.root.mu.Lock()
		for _, r := range c.root.recs {
			if r.msg == msg {
				c.root.mu.Unlock()
				return r
			}
		}
		c.root.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	c.root.mu.Lock()
	for _, r := range c.root.recs {
		t.Logf("log: %v %q %v", r.level, r.msg, r.attrs)
	}
	c.root.mu.Unlock()
	t.Fatalf("no log record %q", msg)
	return captured{}
}

type fakeMetrics struct {
	mu       sync.Mutex
	restarts map[string]int
	records  map[string][]sdk.RequestRecord
}

func (m *fakeMetrics) PluginRestarted(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.restarts == nil {
		m.restarts = map[string]int{}
	}
	m.restarts[p]++
}

func (m *fakeMetrics) Recorder(provider string) sdk.Recorder {
	return recorderFunc(func(r sdk.RequestRecord) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.records == nil {
			m.records = map[string][]sdk.RequestRecord{}
		}
		m.records[provider] = append(m.records[provider], r)
	})
}

func (m *fakeMetrics) counts(p string) (restarts, records int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.restarts[p], len(m.records[p])
}

type recorderFunc func(sdk.RequestRecord)

func (f recorderFunc) Record(r sdk.RequestRecord) { f(r) }

type testHost struct {
	*Host
	log     *capture
	metrics *fakeMetrics
}

func newTestHost(t *testing.T, opts Options) testHost {
	t.Helper()
	c := newCapture()
	m := &fakeMetrics{}
	opts.Logger = slog.New(c)
	opts.Metrics = m
	opts.Env = append(opts.Env, roleEnv+"=plugin")
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 10 * time.Millisecond
	}
	if opts.RuntimeDir == "" {
		opts.RuntimeDir = shortTempDir(t)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return testHost{h, c, m}
}

// shortTempDir is a temporary directory short enough for unix socket paths below
// it (t.TempDir's names are long).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ph-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func addSelf(t *testing.T, h testHost, name string) *Plugin {
	t.Helper()
	p, err := h.Add(selfSpec(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// alive reports whether pid is a live process (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndex(s, ") ")
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after %s", pid, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitNoticed waits until the host has seen its plugin's process end.
func waitNoticed(t *testing.T, p *Plugin) {
	t.Helper()
	for range 500 {
		if !p.Status().Running {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the host never noticed the plugin's exit")
}

func TestLazyStartAndCalls(t *testing.T) {
	h := newTestHost(t, Options{})
	p := addSelf(t, h, "test")
	if st := p.Status(); st.Running || st.PID != 0 {
		t.Fatalf("started before the first call: %+v", st)
	}
	ctx := ctxT(t)
	info, err := p.Info(ctx)
	if err != nil || info.Name != "test" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	st := p.Status()
	if !st.Running || st.PID == 0 || !alive(st.PID) {
		t.Fatalf("status after a call: %+v", st)
	}
	if _, err := p.Get(ctx, sdk.Target{}, "missing"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("typed error lost: %v", err)
	}
	if _, n := h.metrics.counts("test"); n != 1 {
		t.Fatalf("request records reaching the host's metrics: %d, want 1", n)
	}
	// The caller's own recorder sees them too.
	var log sdk.RequestLog
	if _, err := p.Get(sdk.WithRecorder(ctx, &log), sdk.Target{}, "missing"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatal(err)
	}
	if len(log.Records()) != 1 {
		t.Fatalf("caller's recorder got %d records", len(log.Records()))
	}
	// A panic in the provider is an error; the process lives on.
	if _, err := p.Get(ctx, sdk.Target{}, "panic"); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panic: %v", err)
	}
	if p.Status().PID != st.PID {
		t.Fatal("a provider panic replaced the process")
	}
}

func TestSIGKILLMidCallThenRestart(t *testing.T) {
	h := newTestHost(t, Options{})
	p := addSelf(t, h, "test")
	ctx := ctxT(t)
	if err := p.Configure(ctx, "acme", map[string]string{"endpoint": "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	pid := p.Status().PID

	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(ctx, sdk.Target{Instance: "acme"}, "block")
		errc <- err
	}()
	h.log.find(t, "blocking")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrPluginExited) || errors.Is(err, context.Canceled) {
			t.Fatalf("call in flight: %v, want ErrPluginExited", err)
		}
		if !strings.Contains(err.Error(), "killed") {
			t.Errorf("error does not say how the plugin ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight hangs after the plugin was killed")
	}
	waitGone(t, pid, 5*time.Second)

	// The next call starts a fresh process, configured as before.
	ev, err := p.Get(ctx, sdk.Target{Instance: "acme"}, "setting:endpoint")
	if err != nil {
		t.Fatalf("call after the crash: %v", err)
	}
	if ev.Title != "http://127.0.0.1:1" {
		t.Fatalf("settings not replayed into the new process: %q", ev.Title)
	}
	st := p.Status()
	if st.PID == pid || st.PID == 0 || st.Restarts != 1 {
		t.Fatalf("status after restart: %+v (old pid %d)", st, pid)
	}
	if n, _ := h.metrics.counts("test"); n != 1 {
		t.Fatalf("restart counter = %d, want 1", n)
	}
}

func TestCallerCancelIsNotACrash(t *testing.T) {
	h := newTestHost(t, Options{})
	p := addSelf(t, h, "test")
	ctx, cancel := context.WithCancel(ctxT(t))
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(ctx, sdk.Target{}, "block")
		errc <- err
	}()
	h.log.find(t, "blocking")
	pid := p.Status().PID
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || errors.Is(err, ErrPluginExited) {
		t.Fatalf("cancelled call: %v", err)
	}
	if st := p.Status(); st.PID != pid || !st.Running || st.Restarts != 0 {
		t.Fatalf("a cancelled call disturbed the process: %+v", st)
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	var mu sync.Mutex
	var waits []time.Duration
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newTestHost(t, Options{
		MinBackoff: time.Second,
		MaxBackoff: 4 * time.Second,
		Now:        func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return nil
		},
	})
	p := addSelf(t, h, "test")
	ctx := ctxT(t)
	for i := range 4 {
		if _, err := p.Get(ctx, sdk.Target{}, "exit"); !errors.Is(err, ErrPluginExited) {
			t.Fatalf("crash %d: %v", i, err)
		}
	}
	if _, err := p.Get(ctx, sdk.Target{}, "missing"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("after the crashes: %v", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("backoff waits = %v, want %v", waits, want)
	}
	if st := p.Status(); st.Restarts != 4 {
		t.Fatalf("restarts = %d", st.Restarts)
	}
}

func TestBrokenPluginsFailCleanly(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	notExec := filepath.Join(dir, "plain")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	self := selfSpec(t, "x")
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"garbage on stdout", Spec{Path: script("garbage", "echo hello; sleep 5")}, "Unrecognized remote plugin message"},
		{"exits at once", Spec{Path: script("exit", "echo oops >&2; exit 1")}, "Failed to read any lines"},
		{"never answers", Spec{Path: script("silent", "sleep 30")}, "timeout"},
		{"not executable", Spec{Path: notExec}, "permission denied"},
		{"missing", Spec{Path: filepath.Join(dir, "nope")}, "no such file"},
		{"wrong pin", Spec{Path: self.Path, Args: self.Args, SHA256: strings.Repeat("0", 64)}, "refusing to run it"},
	}
	h := newTestHost(t, Options{StartTimeout: 500 * time.Millisecond})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = fmt.Sprintf("broken%d", i)
			p, err := h.Add(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = p.Info(ctxT(t))
			if !errors.Is(err, ErrPluginExited) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want ErrPluginExited mentioning %q", err, tc.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("failing took %s", took)
			}
			if st := p.Status(); st.Running || st.LastError == "" {
				t.Fatalf("status = %+v", st)
			}
		})
	}
}

func TestPinnedPluginRuns(t *testing.T) {
	self := selfSpec(t, "test")
	b, err := os.ReadFile(self.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	self.SHA256 = hex.EncodeToString(sum[:])
	h := newTestHost(t, Options{})
	p, err := h.Add(self)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Info(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestPluginEnvironmentIsMinimal(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("SMTP_PASSWORD", "hunter2")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
	h := newTestHost(t, Options{LogLevel: "debug"})
	p := addSelf(t, h, "test")
	ctx := ctxT(t)
	get := func(name string) (string, bool) {
		ev, err := p.Get(ctx, sdk.Target{}, "env:"+name)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Title, ev.Category == "true"
	}
	for _, name := range []string{"NOTIFY_SOCKET", "SMTP_PASSWORD"} {
		if v, ok := get(name); ok {
			t.Errorf("plugin sees %s=%q", name, v)
		}
	}
	if v, _ := get("HTTPS_PROXY"); v != "http://127.0.0.1:3128" {
		t.Errorf("HTTPS_PROXY = %q, want it passed on", v)
	}
	if v, _ := get(sdk.LogLevelEnv); v != "debug" {
		t.Errorf("%s = %q", sdk.LogLevelEnv, v)
	}
	tmp, _ := get("TMPDIR")
	if !strings.HasPrefix(tmp, h.opts.RuntimeDir+string(os.PathSeparator)) {
		t.Errorf("TMPDIR = %q, not below the runtime dir %s", tmp, h.opts.RuntimeDir)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("plugin TMPDIR: %v", err)
	}
}

func TestPluginLogsLandInTheDaemonLog(t *testing.T) {
	h := newTestHost(t, Options{})
	p := addSelf(t, h, "test")
	if _, err := p.Get(ctxT(t), sdk.Target{}, "log"); err != nil {
		h.log.find(t, "no such message")
		t.Fatal(err)
	}
	r := h.log.find(t, "structured line")
	if r.level != slog.LevelWarn || r.attrs["plugin"] != "test" || r.attrs["link"] != "jane" || r.attrs["n"] != "3" || r.attrs["pid"] == "" {
		t.Errorf("structured line relayed as %+v", r)
	}
	if r := h.log.find(t, "a plain line"); r.attrs["plugin"] != "test" {
		t.Errorf("plain line relayed as %+v", r)
	}
}

func TestCloseLeavesNothingBehind(t *testing.T) {
	h := newTestHost(t, Options{})
	p := addSelf(t, h, "test")
	q := addSelf(t, h, "other")
	ctx := ctxT(t)
	for _, pl := range []*Plugin{p, q} {
		if err := pl.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pids := []int{p.Status().PID, q.Status().PID}
	start := time.Now()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	for _, pid := range pids {
		waitGone(t, pid, 2*time.Second)
	}
	if _, err := p.Info(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	entries, _ := os.ReadDir(h.opts.RuntimeDir)
	if len(entries) != 0 {
		t.Errorf("runtime dir keeps %d entries after Close", len(entries))
	}
}

// TestNoPluginOutlivesAKilledDaemon runs a small daemon (this binary in the "host"
// role) that starts a plugin, SIGKILLs the daemon, and checks in /proc that the
// plugin is gone too.
func TestNoPluginOutlivesAKilledDaemon(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"=host", "PLUGINHOST_TEST_RUNTIME="+shortTempDir(t))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var pid int
	select {
	case line := <-lines:
		if _, err := fmt.Sscanf(line, "pid %d", &pid); err != nil || pid == 0 {
			t.Fatalf("host said %q", line)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the host never reported its plugin")
	}
	if !alive(pid) {
		t.Fatalf("plugin %d not running before the kill", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pid, 5*time.Second)
}

func TestSpecs(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "synchronizer-plugin-cal")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "synchronizer-plugin-noexec"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, plugin, sum string
		want                   string // "" = ok
	}{
		{"found", dir, "cal", "", ""},
		{"pinned", dir, "cal", strings.Repeat("ab", 32), ""},
		{"bad pin", dir, "cal", "xyz", "not 64 hex digits"},
		{"missing", dir, "nope", "", "synchronizer-plugin-nope"},
		{"not executable", dir, "noexec", "", "not an executable"},
		{"no plugin_dir", "", "cal", "", "no plugin_dir"},
		{"bad name", dir, "../cal", "", "plugin name"},
	}
	for _, tc := range tests {
		spec, err := ExternalSpec(tc.dir, tc.plugin, tc.sum)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && spec.Path != filepath.Join(dir, "synchronizer-plugin-"+tc.plugin):
			t.Errorf("%s: path %q", tc.name, spec.Path)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	spec, err := BuiltinSpec("m365")
	if err != nil || spec.Args[0] != "plugin" || spec.Args[1] != "m365" || !filepath.IsAbs(spec.Path) {
		t.Errorf("BuiltinSpec = %+v, %v", spec, err)
	}
	if _, err := BuiltinSpec("M 365"); err == nil {
		t.Error("BuiltinSpec accepted a bad name")
	}
}

func TestLongRuntimeDirFallsBack(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 50))
	h := newTestHost(t, Options{RuntimeDir: long})
	if h.opts.RuntimeDir == long || len(h.opts.RuntimeDir) > maxRuntimeDir {
		t.Fatalf("runtime dir = %q", h.opts.RuntimeDir)
	}
	p := addSelf(t, h, "test")
	if _, err := p.Info(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	h.log.find(t, "runtime directory too long for the plugins' unix sockets; using one in the temporary directory")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h.opts.RuntimeDir); !os.IsNotExist(err) {
		t.Fatalf("own runtime dir left after Close: %v", err)
	}
}

func TestRelayLines(t *testing.T) {
	c := newCapture()
	w := newLogWriter(slog.New(c))
	input := `{"@level":"error","@message":"boom","@timestamp":"2024-01-01T00:00:00.000000Z","link":"x"}` + "\n" +
		`{"@message":17}` + "\n" +
		"[DEBUG] tagged\n" +
		"plain\n" +
		"panic: oh no\n" +
		"goroutine 1 [running]:\n" +
		strings.Repeat("y", maxLogLine+10) + "\n" + "partial"
	// Written in small pieces, as a pipe delivers it.
	for i := 0; i < len(input); i += 7 {
		_, _ = w.Write([]byte(input[i:min(i+7, len(input))]))
	}
	want := []struct {
		level slog.Level
		msg   string
	}{
		{slog.LevelError, "boom"},
		{slog.LevelInfo, "plugin log"},
		{slog.LevelDebug, "tagged"},
		{slog.LevelInfo, "plain"},
		{slog.LevelError, "panic: oh no"},
		{slog.LevelError, "goroutine 1 [running]:"},
		{slog.LevelError, strings.Repeat("y", maxLogLine)},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.recs) != len(want) {
		for i, r := range c.recs {
			t.Logf("record %d: %v %.40q (%d bytes)", i, r.level, r.msg, len(r.msg))
		}
		t.Fatalf("%d records, want %d", len(c.recs), len(want))
	}
	for i, w := range want {
		if c.recs[i].level != w.level || c.recs[i].msg != w.msg {
			t.Errorf("record %d = %v %.40q, want %v %.40q", i, c.recs[i].level, c.recs[i].msg, w.level, w.msg)
		}
	}
	if c.recs[0].attrs["link"] != "x" {
		t.Errorf("attributes lost: %v", c.recs[0].attrs)
	}
}

func TestCloseEndsABackoffWait(t *testing.T) {
	h := newTestHost(t, Options{MinBackoff: time.Minute})
	p := addSelf(t, h, "test")
	ctx := ctxT(t)
	if _, err := p.Get(ctx, sdk.Target{}, "exit"); !errors.Is(err, ErrPluginExited) {
		t.Fatalf("crash: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Info(ctx) // waits a minute before the restart
		errc <- err
	}()
	h.log.find(t, "plugin restarts after backoff")
	start := time.Now()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("the waiting call: %v, want ErrClosed", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %s", took)
	}
}

var _ Metrics = (*telemetry.Metrics)(nil)

func TestCloseInterruptsCallsInFlight(t *testing.T) {
	h := newTestHost(t, Options{})
	p := addSelf(t, h, "test")
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(ctxT(t), sdk.Target{}, "block")
		errc <- err
	}()
	h.log.find(t, "blocking")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("call in flight at shutdown: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight hangs after Close")
	}
}
