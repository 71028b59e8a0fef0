package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxLogLine bounds one line of plugin stderr; the rest of a longer line is dropped.
const maxLogLine = 64 << 10

// relayStderr reads a plugin's stderr until EOF and re-logs every line in the
// daemon's log. JSON lines in the SDK's format ("@level", "@message", attributes)
// keep their level and attributes; other lines are logged as they are, at info, or
// at error from a Go panic or fatal error on.
func relayStderr(r io.Reader, logger *slog.Logger) {
	br := bufio.NewReaderSize(r, 4096)
	inPanic := false
	for {
		line, err := readLine(br)
		if line != "" {
			inPanic = relayLine(logger, line, inPanic)
		}
		if err != nil {
			return
		}
	}
}

// readLine returns one line without its newline, cut at maxLogLine.
func readLine(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		frag, isPrefix, err := br.ReadLine()
		if b.Len() < maxLogLine {
			rest := maxLogLine - b.Len()
			if len(frag) > rest {
				frag = frag[:rest]
			}
			b.Write(frag)
		}
		if err != nil || !isPrefix {
			return b.String(), err
		}
	}
}

// logWriter relays what is written to it line by line, like relayStderr.
type logWriter struct {
	mu         sync.Mutex
	buf        []byte
	log        *slog.Logger
	inPanic    bool
	discarding bool // the rest of an over-long line is being dropped
}

func newLogWriter(l *slog.Logger) *logWriter { return &logWriter{log: l} }

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf[:min(i, maxLogLine)]), "\r")
		w.buf = w.buf[i+1:]
		if w.discarding {
			w.discarding = false
			continue
		}
		if line != "" {
			w.inPanic = relayLine(w.log, line, w.inPanic)
		}
	}
	if len(w.buf) > maxLogLine { // a line without end: log what fits, drop the rest
		if !w.discarding {
			w.inPanic = relayLine(w.log, string(w.buf[:maxLogLine]), w.inPanic)
		}
		w.discarding = true
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

func relayLine(logger *slog.Logger, line string, inPanic bool) bool {
	ctx := context.Background()
	if !inPanic && strings.HasPrefix(line, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			level := levelOf(fmt.Sprint(m["@level"]))
			msg, _ := m["@message"].(string)
			if msg == "" {
				msg = "plugin log"
			}
			attrs := make([]slog.Attr, 0, len(m))
			for k, v := range m {
				switch k {
				case "@level", "@message", "@timestamp", "timestamp", "@module":
					continue
				}
				attrs = append(attrs, slog.Any(strings.TrimPrefix(k, "@"), v))
			}
			logger.LogAttrs(ctx, level, msg, attrs...)
			return false
		}
	}
	switch {
	case strings.HasPrefix(line, "panic: "), strings.HasPrefix(line, "fatal error: "):
		inPanic = true
	}
	level := slog.LevelInfo
	if inPanic {
		level = slog.LevelError
	} else {
		for _, p := range []string{"[TRACE]", "[DEBUG]", "[INFO]", "[WARN]", "[ERROR]"} {
			if strings.HasPrefix(line, p) {
				level = levelOf(strings.Trim(p, "[]"))
				line = strings.TrimSpace(line[len(p):])
			}
		}
	}
	logger.Log(ctx, level, line)
	return inPanic
}

func levelOf(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace":
		return slog.LevelDebug - 4
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// hclogBridge is an hclog.Logger that writes to slog, for go-plugin's own messages.
type hclogBridge struct {
	l    *slog.Logger
	name string
	args []any
}

func newHCLogBridge(l *slog.Logger) hclog.Logger { return &hclogBridge{l: l} }

func (b *hclogBridge) level(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (b *hclogBridge) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	all := append(append([]any{}, b.args...), args...)
	if b.name != "" {
		all = append(all, "component", b.name)
	}
	b.l.Log(context.Background(), b.level(level), msg, all...)
}

func (b *hclogBridge) Trace(msg string, args ...any) { b.Log(hclog.Trace, msg, args...) }
func (b *hclogBridge) Debug(msg string, args ...any) { b.Log(hclog.Debug, msg, args...) }
func (b *hclogBridge) Info(msg string, args ...any)  { b.Log(hclog.Info, msg, args...) }
func (b *hclogBridge) Warn(msg string, args ...any)  { b.Log(hclog.Warn, msg, args...) }
func (b *hclogBridge) Error(msg string, args ...any) { b.Log(hclog.Error, msg, args...) }

func (b *hclogBridge) enabled(l hclog.Level) bool {
	return b.l.Enabled(context.Background(), b.level(l))
}
func (b *hclogBridge) IsTrace() bool { return b.enabled(hclog.Trace) }
func (b *hclogBridge) IsDebug() bool { return b.enabled(hclog.Debug) }
func (b *hclogBridge) IsInfo() bool  { return b.enabled(hclog.Info) }
func (b *hclogBridge) IsWarn() bool  { return b.enabled(hclog.Warn) }
func (b *hclogBridge) IsError() bool { return b.enabled(hclog.Error) }

func (b *hclogBridge) ImpliedArgs() []any { return append([]any{}, b.args...) }

func (b *hclogBridge) With(args ...any) hclog.Logger {
	return &hclogBridge{l: b.l, name: b.name, args: append(append([]any{}, b.args...), args...)}
}

func (b *hclogBridge) Name() string { return b.name }

func (b *hclogBridge) Named(name string) hclog.Logger {
	n := name
	if b.name != "" {
		n = b.name + "." + name
	}
	return &hclogBridge{l: b.l, name: n, args: b.args}
}

func (b *hclogBridge) ResetNamed(name string) hclog.Logger {
	return &hclogBridge{l: b.l, name: name, args: b.args}
}

// SetLevel is ignored: the slog handler decides.
func (b *hclogBridge) SetLevel(hclog.Level) {}

func (b *hclogBridge) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if b.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (b *hclogBridge) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(b.StandardWriter(opts), "", 0)
}

func (b *hclogBridge) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		b.Info(strings.TrimRight(string(p), "\n"))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
