// Package pluginhost is the only place that starts processes: it runs provider
// plugins (hashicorp/go-plugin over gRPC) and keeps them running.
//
// A built-in provider is this same binary re-run as `synchronizer plugin NAME`
// (BuiltinSpec); an external one is the executable synchronizer-plugin-NAME in
// plugin_dir (ExternalSpec), optionally pinned by its sha256. Each *Plugin is an
// sdk.Provider: the first call starts the process, a crash is noticed, and the next
// call starts a fresh process after a backoff that grows with consecutive crashes
// (counted as synchronizer_plugin_restarts_total). The settings given to Configure
// are kept and replayed into every new process. A call in flight when the process
// dies returns an error matching ErrPluginExited — never a panic or a hang; a call
// the caller cancelled returns the context's error.
//
// Processes get a minimal environment (no daemon secrets, no NOTIFY_SOCKET), their
// own TMPDIR below the host's runtime directory, AutoMTLS on their gRPC socket, and
// Pdeathsig so that they die with the daemon even when it is SIGKILLed. Their
// stderr lands in the daemon's log with the plugin's name.
//
// The package must not import a concrete provider; cmd wires those in.
package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/sdk"
)

// Errors callers may test with errors.Is.
var (
	// ErrPluginExited: the plugin process ended while the call was in flight, or
	// could not be (re)started.
	ErrPluginExited = errors.New("plugin process exited")
	// ErrClosed: the host is shutting down.
	ErrClosed = errors.New("plugin host closed")
	// ErrUnknownPlugin: no plugin of that name was added.
	ErrUnknownPlugin = errors.New("unknown plugin")
)

// Metrics is what the host reports to; daemon/telemetry's *Metrics implements it.
type Metrics interface {
	// PluginRestarted counts one restart of plugin after its process exited.
	PluginRestarted(plugin string)
	// Recorder returns the sink of the HTTP request records a provider reports.
	Recorder(provider string) sdk.Recorder
}

// Options configure a Host. Zero values take the defaults in brackets.
type Options struct {
	Logger  *slog.Logger // [discard]
	Metrics Metrics      // [none]
	// RuntimeDir holds one private TMPDIR per plugin process (unix sockets and any
	// temporary files). [a new directory under os.TempDir()]
	RuntimeDir string
	// StartTimeout bounds the handshake of a new process. [10s]
	StartTimeout time.Duration
	// MinBackoff is the wait before restarting a process that crashed, doubling for
	// every further crash without a healthy minute in between, up to MaxBackoff.
	// [1s, 1m]
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout bounds a call whose context has no deadline, so a hung plugin
	// cannot hang its caller. [5m]
	CallTimeout time.Duration
	// LogLevel is passed to plugins (debug, info, warn, error). [info]
	LogLevel string
	// Env lists extra KEY=VALUE pairs for every plugin.
	Env []string
	// Now and Sleep are the clock. [time.Now; a timer honouring ctx]
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// maxRuntimeDir keeps a plugin's unix socket path
// (RuntimeDir/NAME-N/plugin-dirN/pluginN) within the 107 bytes Linux allows.
const maxRuntimeDir = 107 - 66

// Spec says how to run one plugin.
type Spec struct {
	Name string // the provider name: "m365", "memory"
	Path string // the executable
	Args []string
	// SHA256 pins the executable (hex); checked before every start. "" = unpinned.
	SHA256 string
}

// validName accepts lower-case names of letters, digits, - and _ that start with a
// letter: they become file names and metric labels.
func validName(name string) bool {
	if name == "" || len(name) > 63 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// BuiltinSpec runs the built-in provider name from this very binary.
func BuiltinSpec(name string) (Spec, error) {
	if !validName(name) {
		return Spec{}, fmt.Errorf("plugin name %q: use lower-case letters, digits, - and _", name)
	}
	exe, err := os.Executable()
	if err != nil {
		return Spec{}, fmt.Errorf("find this executable to run plugin %s: %w", name, err)
	}
	return Spec{Name: name, Path: exe, Args: []string{"plugin", name}}, nil
}

// ExternalSpec runs dir/synchronizer-plugin-NAME, pinned to sha256 when non-empty.
func ExternalSpec(dir, name, sha256hex string) (Spec, error) {
	if !validName(name) {
		return Spec{}, fmt.Errorf("plugin name %q: use lower-case letters, digits, - and _", name)
	}
	if dir == "" {
		return Spec{}, fmt.Errorf("plugin %s is not built in and no plugin_dir is set", name)
	}
	path := filepath.Join(dir, "synchronizer-plugin-"+name)
	fi, err := os.Stat(path)
	if err != nil {
		return Spec{}, fmt.Errorf("plugin %s: %w (expected the executable %s)", name, err, path)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return Spec{}, fmt.Errorf("plugin %s: %s is not an executable file", name, path)
	}
	if sha256hex != "" {
		if _, err := hex.DecodeString(sha256hex); err != nil || len(sha256hex) != 64 {
			return Spec{}, fmt.Errorf("plugin %s: sha256 %q is not 64 hex digits", name, sha256hex)
		}
	}
	return Spec{Name: name, Path: path, SHA256: strings.ToLower(sha256hex)}, nil
}

// checkSum verifies a pinned executable.
func checkSum(path, want string) error {
	if want == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s to check its sha256: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s to check its sha256: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s has sha256 %s but the configuration pins %s: refusing to run it", path, got, want)
	}
	return nil
}

// Host owns every plugin process.
type Host struct {
	opts       Options
	log        *slog.Logger
	ownRuntime bool
	// closing is cancelled by Close, to end waits for a restart.
	closing context.Context
	stop    context.CancelFunc

	mu      sync.Mutex
	plugins map[string]*Plugin
	closed  bool
}

// New returns a host with no plugins. It starts nothing.
func New(opts Options) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(time.Minute, opts.MinBackoff)
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Minute
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	h := &Host{opts: opts, log: opts.Logger, plugins: map[string]*Plugin{}}
	h.closing, h.stop = context.WithCancel(context.Background())
	if len(opts.RuntimeDir) > maxRuntimeDir {
		h.log.Warn("runtime directory too long for the plugins' unix sockets; using one in the temporary directory",
			"dir", opts.RuntimeDir, "max_length", maxRuntimeDir)
		opts.RuntimeDir = ""
	}
	if opts.RuntimeDir == "" {
		dir, err := os.MkdirTemp("", "synchronizer-plugins-")
		if err != nil {
			h.stop()
			return nil, fmt.Errorf("create the plugins' runtime directory: %w", err)
		}
		h.opts.RuntimeDir, h.ownRuntime = dir, true
	} else if err := os.MkdirAll(opts.RuntimeDir, 0o700); err != nil {
		h.stop()
		return nil, fmt.Errorf("create the plugins' runtime directory: %w", err)
	}
	return h, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Add registers a plugin; nothing starts until its first call (or Start).
func (h *Host) Add(spec Spec) (*Plugin, error) {
	if !validName(spec.Name) {
		return nil, fmt.Errorf("plugin name %q: use lower-case letters, digits, - and _", spec.Name)
	}
	if spec.Path == "" {
		return nil, fmt.Errorf("plugin %s: no executable", spec.Name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if _, dup := h.plugins[spec.Name]; dup {
		return nil, fmt.Errorf("plugin %s added twice", spec.Name)
	}
	p := newPlugin(h, spec)
	h.plugins[spec.Name] = p
	return p, nil
}

// Plugin returns the plugin name, or an error matching ErrUnknownPlugin.
func (h *Host) Plugin(name string) (*Plugin, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plugins[name]
	if !ok {
		return nil, fmt.Errorf("plugin %q: %w", name, ErrUnknownPlugin)
	}
	return p, nil
}

// Status describes one plugin for /readyz and status output.
type Status struct {
	Name      string
	Running   bool
	PID       int
	Restarts  int
	LastError string
}

// Statuses returns the status of every plugin, sorted by name.
func (h *Host) Statuses() []Status {
	h.mu.Lock()
	ps := make([]*Plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	out := make([]Status, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Status())
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close stops every plugin process (a graceful shutdown over gRPC, then SIGKILL
// after two seconds) and removes the runtime directory it created. Calls after
// Close fail with ErrClosed.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.stop()
	ps := make([]*Plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(p.close)
	}
	wg.Wait()
	if h.ownRuntime {
		if err := os.RemoveAll(h.opts.RuntimeDir); err != nil {
			return fmt.Errorf("remove the plugins' runtime directory: %w", err)
		}
	}
	return nil
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// baseEnv is the whole environment a plugin gets besides go-plugin's handshake
// variables: what locating files, zones, certificates and proxies needs.
func (h *Host) baseEnv(tmp string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"TMPDIR=" + tmp,
		"HOME=" + tmp,
		sdk.LogLevelEnv + "=" + h.opts.LogLevel,
	}
	for _, k := range []string{"TZ", "ZONEINFO", "SSL_CERT_FILE", "SSL_CERT_DIR",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, h.opts.Env...)
}
