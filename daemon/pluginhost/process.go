package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"github.com/hashicorp/go-plugin/runner"
)

// process is the runner.Runner go-plugin drives for one plugin process. It exists
// (instead of go-plugin's own) to own the process the way the daemon needs:
//   - Pdeathsig: the kernel kills the plugin when the thread that started it ends,
//     so a daemon that dies abruptly (SIGKILL, panic) leaves no plugin behind;
//   - stderr is read here and relayed into the daemon's log under the plugin's name
//     (go-plugin gets an empty stream that ends when the real one ends);
//   - it runs in its own process group, killed as a whole;
//   - exit is observable as a channel.
type process struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	relay  *io.PipeReader
	log    *slog.Logger

	pid    int
	exited chan struct{}

	mu      sync.Mutex
	waitErr error
	waited  bool
}

var _ runner.Runner = (*process)(nil)

func newProcess(cmd *exec.Cmd, logger *slog.Logger) (*process, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("plugin stdout: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("plugin stderr: %w", err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// Its own process group, so Kill also reaches children it may have started
	// (which would otherwise hold its output pipes open).
	cmd.SysProcAttr.Setpgid = true
	return &process{cmd: cmd, stdout: stdout, stderr: stderr, log: logger, exited: make(chan struct{})}, nil
}

// Start implements runner.Runner.
func (p *process) Start(context.Context) error {
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cmd.Path, err)
	}
	p.pid = p.cmd.Process.Pid
	p.log = p.log.With("pid", p.pid)
	pr, pw := io.Pipe()
	p.relay = pr
	go func() {
		relayStderr(p.stderr, p.log)
		pw.Close()
	}()
	return nil
}

// Wait implements runner.Runner. go-plugin calls it once, after stdout and stderr
// reached EOF.
func (p *process) Wait(context.Context) error {
	err := p.cmd.Wait()
	p.mu.Lock()
	if !p.waited {
		p.waited, p.waitErr = true, err
		close(p.exited)
	}
	p.mu.Unlock()
	return err
}

// exitError says how the process ended, once it has.
func (p *process) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Kill implements runner.Runner.
func (p *process) Kill(context.Context) error {
	if p.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL) // the group; fails harmlessly once it is gone
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill plugin %d: %w", p.pid, err)
	}
	return nil
}

// Stdout implements runner.Runner.
func (p *process) Stdout() io.ReadCloser { return p.stdout }

// Stderr implements runner.Runner: an empty stream, since the lines go to the
// daemon's log through relayStderr.
func (p *process) Stderr() io.ReadCloser {
	if p.relay == nil { // not started
		return io.NopCloser(eofReader{})
	}
	return p.relay
}

// Name implements runner.Runner.
func (p *process) Name() string { return p.cmd.Path }

// ID implements runner.Runner.
func (p *process) ID() string {
	if p.pid == 0 {
		return ""
	}
	return strconv.Itoa(p.pid)
}

// Diagnose implements runner.Runner.
func (p *process) Diagnose(context.Context) string {
	return "check that the plugin is built for this system, is executable, and serves the calendar plugin protocol with sdk.Serve"
}

// PluginToHost implements runner.AddrTranslator: same host, same addresses.
func (p *process) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

// HostToPlugin implements runner.AddrTranslator.
func (p *process) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
