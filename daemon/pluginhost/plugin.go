package pluginhost

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"synchronizer/plugins/sdk"
)

const (
	// healthyAfter: a process that ran this long before it died restarts after the
	// minimum backoff again.
	healthyAfter = time.Minute
	// exitGrace is how long a call whose connection broke waits for the process's
	// exit to be observed before it gives up on the process.
	exitGrace = 2 * time.Second
)

// Plugin is one supervised plugin. It implements sdk.Provider; every call goes to
// the current process, starting one first when there is none.
type Plugin struct {
	h    *Host
	spec Spec
	log  *slog.Logger

	startMu sync.Mutex // one start at a time

	mu       sync.Mutex
	cur      *running
	configs  map[string]map[string]string // instance -> last settings Configure accepted
	failures int                          // crashes and failed starts since the last healthy run
	lastExit time.Time
	restarts int
	started  bool // a process ran before, so the next start is a restart
	lastErr  string
	closed   bool
}

var _ sdk.Provider = (*Plugin)(nil)

// running is one plugin process.
type running struct {
	client    *plugin.Client
	prov      sdk.Provider
	proc      *process
	startedAt time.Time
	done      chan struct{} // the owning goroutine ended (process gone, directory removed)

	cfgMu      sync.Mutex
	configured map[string]bool
}

func (r *running) dead() bool {
	select {
	case <-r.proc.exited:
		return true
	default:
		return r.client.Exited()
	}
}

func newPlugin(h *Host, spec Spec) *Plugin {
	return &Plugin{
		h:       h,
		spec:    spec,
		log:     h.log.With("plugin", spec.Name),
		configs: map[string]map[string]string{},
	}
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.spec.Name }

// Status reports the plugin's state.
func (p *Plugin) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Name: p.spec.Name, Restarts: p.restarts, LastError: p.lastErr}
	if p.cur != nil && !p.cur.dead() {
		st.Running, st.PID = true, p.cur.proc.pid
	}
	return st
}

// Start starts the process now if none is running (calls do it lazily anyway).
func (p *Plugin) Start(ctx context.Context) error {
	_, err := p.acquire(ctx)
	return err
}

// acquire returns the running process, starting one (after the backoff a previous
// crash imposes) when there is none.
func (p *Plugin) acquire(ctx context.Context) (*running, error) {
	p.mu.Lock()
	if r := p.cur; r != nil && !r.dead() && !p.closed {
		p.mu.Unlock()
		return r, nil
	}
	p.mu.Unlock()

	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	if p.closed || p.h.isClosed() {
		p.mu.Unlock()
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, ErrClosed)
	}
	if r := p.cur; r != nil {
		if !r.dead() {
			p.mu.Unlock()
			return r, nil
		}
		p.reapLocked(r)
	}
	wait := time.Duration(0)
	if p.failures > 0 {
		wait = p.lastExit.Add(p.backoffLocked()).Sub(p.h.opts.Now())
	}
	p.mu.Unlock()

	if wait > 0 {
		p.log.Info("plugin restarts after backoff", "wait", wait.String())
		// Close ends the wait too.
		wctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(p.h.closing, cancel)
		err := p.h.opts.Sleep(wctx, wait)
		stop()
		cancel()
		if p.h.isClosed() {
			return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, ErrClosed)
		}
		if err != nil {
			return nil, fmt.Errorf("plugin %s waits %s before it restarts: %w", p.spec.Name, wait.Round(time.Millisecond), err)
		}
	}

	r, err := p.launch()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failures++
		p.lastExit = p.h.opts.Now()
		p.lastErr = err.Error()
		p.log.Error("plugin failed to start", "err", err, "failures", p.failures)
		return nil, fmt.Errorf("start plugin %s: %w: %w", p.spec.Name, ErrPluginExited, err)
	}
	if p.closed || p.h.isClosed() {
		go r.client.Kill()
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, ErrClosed)
	}
	if p.started {
		p.restarts++
		if m := p.h.opts.Metrics; m != nil {
			m.PluginRestarted(p.spec.Name)
		}
		p.log.Warn("plugin restarted", "pid", r.proc.pid, "restarts", p.restarts)
	} else {
		p.log.Info("plugin started", "pid", r.proc.pid)
	}
	p.started = true
	p.cur = r
	return r, nil
}

// reapLocked records the end of a dead process. p.mu must be held.
func (p *Plugin) reapLocked(r *running) {
	if p.cur != r {
		return
	}
	p.cur = nil
	now := p.h.opts.Now()
	if now.Sub(r.startedAt) >= healthyAfter {
		p.failures = 0
	}
	p.failures++
	p.lastExit = now
	msg := "exited"
	if err := r.proc.exitError(); err != nil {
		msg = "exited: " + err.Error()
	}
	p.lastErr = msg
	p.log.Warn("plugin process ended", "pid", r.proc.pid, "how", msg)
	go r.client.Kill() // releases go-plugin's resources; the process is gone already
}

// backoffLocked is the wait before the next start. p.mu must be held.
func (p *Plugin) backoffLocked() time.Duration {
	d := p.h.opts.MinBackoff
	for i := 1; i < p.failures && d < p.h.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.h.opts.MaxBackoff)
}

// launch starts a process from a goroutine locked to its OS thread for the
// process's whole life: Pdeathsig fires when the thread that forked the child
// ends, so the thread must outlive the plugin — and when the daemon dies, every
// thread ends and every plugin with it.
func (p *Plugin) launch() (*running, error) {
	if err := checkSum(p.spec.Path, p.spec.SHA256); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(p.h.opts.RuntimeDir, shortName(p.spec.Name)+"-")
	if err != nil {
		return nil, fmt.Errorf("create the plugin's TMPDIR: %w", err)
	}
	type result struct {
		r   *running
		err error
	}
	res := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		// Never unlocked on purpose: this goroutine ends only once the process is
		// gone, and its thread ends with it.
		runtime.LockOSThread()
		defer close(done)
		defer os.RemoveAll(tmp)

		var proc *process
		client := plugin.NewClient(&plugin.ClientConfig{
			HandshakeConfig:  sdk.Handshake(),
			VersionedPlugins: sdk.VersionedPlugins(nil),
			AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
			AutoMTLS:         true,
			SkipHostEnv:      true,
			StartTimeout:     p.h.opts.StartTimeout,
			Logger:           newHCLogBridge(p.log.With("component", "go-plugin")),
			GRPCDialOptions:  sdk.GRPCDialOptions(),
			// What the plugin writes to os.Stdout/os.Stderr after Serve arrives
			// through go-plugin's stdio stream.
			SyncStdout:       newLogWriter(p.log.With("stream", "stdout")),
			SyncStderr:       newLogWriter(p.log),
			UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: tmp},
			RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
				cmd := exec.Command(p.spec.Path, p.spec.Args...)
				cmd.Env = append(p.h.baseEnv(tmp), spec.Env...)
				cmd.Dir = tmp
				var err error
				proc, err = newProcess(cmd, p.log)
				return proc, err
			},
		})
		prov, err := dispense(client)
		if err != nil {
			res <- result{err: err}
			client.Kill()
			if proc != nil && proc.pid != 0 {
				<-proc.exited
			}
			return
		}
		res <- result{r: &running{
			client:     client,
			prov:       prov,
			proc:       proc,
			startedAt:  p.h.opts.Now(),
			done:       done,
			configured: map[string]bool{},
		}}
		<-proc.exited
	}()
	out := <-res
	return out.r, out.err
}

// shortName keeps directory names, and so unix socket paths, short.
func shortName(name string) string {
	if len(name) > 16 {
		return name[:16]
	}
	return name
}

func dispense(client *plugin.Client) (sdk.Provider, error) {
	rpc, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense %s: %w", sdk.PluginName, err)
	}
	prov, ok := raw.(sdk.Provider)
	if !ok {
		return nil, fmt.Errorf("dispense %s: got %T, not a provider", sdk.PluginName, raw)
	}
	return prov, nil
}

// close ends the process for good.
func (p *Plugin) close() {
	p.startMu.Lock() // let a start in progress finish first
	p.mu.Lock()
	p.closed = true
	r := p.cur
	p.cur = nil
	p.mu.Unlock()
	p.startMu.Unlock()
	if r == nil {
		return
	}
	r.client.Kill()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		p.log.Error("plugin process did not end after kill", "pid", r.proc.pid)
	}
}

// call runs fn against the current process with the host's request recorder on
// the context, making sure instance (when given) is configured in that process.
func (p *Plugin) call(ctx context.Context, op, instance string, fn func(ctx context.Context, r *running) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.h.opts.CallTimeout)
		defer cancel()
	}
	r, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	if instance != "" {
		if err := p.ensureConfigured(ctx, r, instance); err != nil {
			return p.classify(ctx, r, "Configure", err)
		}
	}
	if err := fn(p.withRecorder(ctx), r); err != nil {
		return p.classify(ctx, r, op, err)
	}
	return nil
}

// ensureConfigured replays the instance's settings into a process that has not
// seen them (a fresh one after a restart).
func (p *Plugin) ensureConfigured(ctx context.Context, r *running, instance string) error {
	p.mu.Lock()
	settings, ok := p.configs[instance]
	p.mu.Unlock()
	if !ok {
		return nil
	}
	r.cfgMu.Lock()
	defer r.cfgMu.Unlock()
	if r.configured[instance] {
		return nil
	}
	if err := r.prov.Configure(ctx, instance, settings); err != nil {
		return fmt.Errorf("configure instance %s again in plugin %s: %w", instance, p.spec.Name, err)
	}
	r.configured[instance] = true
	return nil
}

// classify tells a dead or unreachable plugin from a provider's answer and from
// the caller's cancellation.
func (p *Plugin) classify(ctx context.Context, r *running, op string, err error) error {
	if ctx.Err() != nil || status.Code(err) != codes.Unavailable {
		return err
	}
	timer := time.NewTimer(exitGrace)
	defer timer.Stop()
	select {
	case <-r.proc.exited:
	case <-ctx.Done():
	case <-timer.C:
	}
	if p.h.isClosed() {
		return fmt.Errorf("plugin %s: %s interrupted by shutdown: %w", p.spec.Name, op, ErrClosed)
	}
	if r.dead() {
		how := "exited"
		if xerr := r.proc.exitError(); xerr != nil {
			how = xerr.Error()
		}
		return fmt.Errorf("plugin %s (pid %d) %s during %s: %w", p.spec.Name, r.proc.pid, how, op, ErrPluginExited)
	}
	// The process lives but its connection is gone: replace the process.
	p.log.Error("plugin connection lost; killing the process", "pid", r.proc.pid, "err", err)
	go r.client.Kill()
	return fmt.Errorf("plugin %s (pid %d) lost its connection during %s: %w: %w", p.spec.Name, r.proc.pid, op, ErrPluginExited, err)
}

// withRecorder sends the request records of a call to the host's metrics and to
// the recorder the caller put on ctx, if any.
func (p *Plugin) withRecorder(ctx context.Context) context.Context {
	m := p.h.opts.Metrics
	if m == nil {
		return ctx
	}
	return sdk.WithRecorder(ctx, teeRecorder{host: m.Recorder(p.spec.Name), caller: ctx})
}

type teeRecorder struct {
	host   sdk.Recorder
	caller context.Context
}

func (t teeRecorder) Record(rec sdk.RequestRecord) {
	if t.host != nil {
		t.host.Record(rec)
	}
	sdk.ObserveRequest(t.caller, rec)
}

// ---- sdk.Provider ----

// Info implements sdk.Provider.
func (p *Plugin) Info(ctx context.Context) (sdk.Info, error) {
	var out sdk.Info
	err := p.call(ctx, "Info", "", func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.Info(ctx)
		return err
	})
	return out, err
}

// Configure implements sdk.Provider. Accepted settings are kept and handed to
// every later process of this plugin before its first call on the instance.
func (p *Plugin) Configure(ctx context.Context, instance string, settings map[string]string) error {
	settings = maps.Clone(settings)
	if settings == nil {
		settings = map[string]string{}
	}
	return p.call(ctx, "Configure", "", func(ctx context.Context, r *running) error {
		r.cfgMu.Lock()
		defer r.cfgMu.Unlock()
		if err := r.prov.Configure(ctx, instance, settings); err != nil {
			return err
		}
		r.configured[instance] = true
		p.mu.Lock()
		p.configs[instance] = settings
		p.mu.Unlock()
		return nil
	})
}

// OAuth implements sdk.Provider.
func (p *Plugin) OAuth(ctx context.Context, req sdk.OAuthRequest) (sdk.OAuthSpec, error) {
	var out sdk.OAuthSpec
	err := p.call(ctx, "OAuth", req.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.OAuth(ctx, req)
		return err
	})
	return out, err
}

// Identify implements sdk.Provider.
func (p *Plugin) Identify(ctx context.Context, t sdk.Target, tok sdk.TokenInfo) (sdk.Account, error) {
	var out sdk.Account
	err := p.call(ctx, "Identify", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.Identify(ctx, t, tok)
		return err
	})
	return out, err
}

// LookupAccount implements sdk.Provider.
func (p *Plugin) LookupAccount(ctx context.Context, t sdk.Target, kind sdk.AccountKind, key string) (sdk.Account, error) {
	var out sdk.Account
	err := p.call(ctx, "LookupAccount", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.LookupAccount(ctx, t, kind, key)
		return err
	})
	return out, err
}

// Licenses implements sdk.Provider.
func (p *Plugin) Licenses(ctx context.Context, t sdk.Target) (sdk.Licenses, error) {
	var out sdk.Licenses
	err := p.call(ctx, "Licenses", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.Licenses(ctx, t)
		return err
	})
	return out, err
}

// ListChanges implements sdk.Provider.
func (p *Plugin) ListChanges(ctx context.Context, t sdk.Target, req sdk.ChangesRequest) (sdk.Changes, error) {
	var out sdk.Changes
	err := p.call(ctx, "ListChanges", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.ListChanges(ctx, t, req)
		return err
	})
	return out, err
}

// Get implements sdk.Provider.
func (p *Plugin) Get(ctx context.Context, t sdk.Target, id string) (sdk.Event, error) {
	var out sdk.Event
	err := p.call(ctx, "Get", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.Get(ctx, t, id)
		return err
	})
	return out, err
}

// Create implements sdk.Provider.
func (p *Plugin) Create(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	var out sdk.Event
	err := p.call(ctx, "Create", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.Create(ctx, t, ev)
		return err
	})
	return out, err
}

// Update implements sdk.Provider.
func (p *Plugin) Update(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	var out sdk.Event
	err := p.call(ctx, "Update", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.Update(ctx, t, ev)
		return err
	})
	return out, err
}

// Delete implements sdk.Provider.
func (p *Plugin) Delete(ctx context.Context, t sdk.Target, id, version string) error {
	return p.call(ctx, "Delete", t.Instance, func(ctx context.Context, r *running) error {
		return r.prov.Delete(ctx, t, id, version)
	})
}

// FindByCorrelation implements sdk.Provider.
func (p *Plugin) FindByCorrelation(ctx context.Context, t sdk.Target, correlationID string) ([]sdk.Event, error) {
	var out []sdk.Event
	err := p.call(ctx, "FindByCorrelation", t.Instance, func(ctx context.Context, r *running) (err error) {
		out, err = r.prov.FindByCorrelation(ctx, t, correlationID)
		return err
	})
	return out, err
}
