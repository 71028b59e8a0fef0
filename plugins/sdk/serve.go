package sdk

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// LogLevelEnv is the variable through which the host tells a plugin its log level
// (debug, info, warn, error).
const LogLevelEnv = "SYNCHRONIZER_PLUGIN_LOG_LEVEL"

// Serve serves p as a provider plugin process and returns when the host is done
// with it. Call it from main, and write nothing to stdout before it: stdout carries
// the handshake. Started by anything but the host, it says so and exits.
//
//	func main() {
//		logger := sdk.NewLogger()
//		sdk.Serve(mycalendar.New(logger))
//	}
func Serve(p Provider) {
	logger := NewLogger()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &GRPCPlugin{Impl: p, Logger: logger}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, GRPCServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclog.Info,
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	})
}

// NewLogger returns the logger a plugin should give its provider: JSON lines on the
// process's stderr in the form the host parses (keys "@level", "@message",
// "@timestamp", then the attributes), at the level the host asked for. The host
// re-logs each line in the daemon's log under the plugin's name. Create it before
// Serve, which redirects os.Stderr.
func NewLogger() *slog.Logger {
	return NewLoggerTo(os.Stderr, levelFromEnv())
}

// NewLoggerTo is NewLogger writing to w at level.
func NewLoggerTo(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func levelFromEnv() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv(LogLevelEnv))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// pluginLogger is the logger of a GRPCPlugin without one.
func pluginLogger() *slog.Logger { return NewLogger() }
