package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is one program the benchmark started: `synchronizer emulate` or
// `synchronizer run`. Its stderr goes to a log file; its stdout, when asked for,
// comes line by line on Lines.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	// Lines carries stdout's lines (nil when stdout goes to the log). It is
	// closed at EOF.
	Lines <-chan string
	done  chan struct{}
	err   error
}

// startProcess starts bin with args and, added to the benchmark's own, the
// environment variables env; its stderr (and stdout unless wantLines) is
// appended to logPath. The process gets SIGKILL if the benchmark dies first.
func startProcess(name, bin string, args, env []string, logPath string, wantLines bool) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: open its log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	var stdout io.ReadCloser
	if wantLines {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	if wantLines {
		lines := make(chan string, 64)
		p.Lines = lines
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
	}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *process) Done() <-chan struct{} { return p.done }

// exitError says how the process ended (call after Done).
func (p *process) exitError() error {
	if p.err == nil {
		return fmt.Errorf("%s exited (see %s)", p.name, p.log)
	}
	return fmt.Errorf("%s: %w (see %s)", p.name, p.err, p.log)
}

// stop sends SIGTERM and waits up to grace, then kills.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("stop %s: still running %v after SIGTERM; killed", p.name, grace)
	}
}

// nextLine waits for the next stdout line.
func (p *process) nextLine(ctx context.Context) (string, error) {
	select {
	case l, ok := <-p.Lines:
		if !ok {
			<-p.done
			return "", p.exitError()
		}
		return l, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// drain discards the rest of stdout so the process never blocks writing it.
func (p *process) drain() {
	if p.Lines == nil {
		return
	}
	go func() {
		for range p.Lines {
		}
	}()
}

// signal sends sig to the process.
func (p *process) signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	return nil
}
