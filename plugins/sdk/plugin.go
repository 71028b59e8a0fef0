package sdk

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// The go-plugin side of the contract: the handshake both processes must agree on,
// the plugin set, and the gRPC message limits.

const (
	// PluginName is the one plugin a provider process serves.
	PluginName = "calendar"
	// MagicCookieKey and MagicCookieValue are the handshake cookie: the host sets
	// the variable in the plugin's environment, and a plugin started any other way
	// refuses to serve (and tells the person who ran it so). They are not a secret.
	MagicCookieKey   = "SYNCHRONIZER_PLUGIN_COOKIE"
	MagicCookieValue = "5f2c4a0e9b7d4e61a3c8f1d2b6e09a47-calendar"
	// MaxMessageSize bounds one gRPC message in both directions; a page of events
	// with long descriptions stays far below it.
	MaxMessageSize = 64 << 20
)

// Handshake returns the handshake configuration of the current protocol version.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// VersionedPlugins is the plugin map for go-plugin's version negotiation: protocol
// version -> plugin set. A host passes a nil impl; a plugin passes its provider.
func VersionedPlugins(impl Provider) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}

// GRPCServerOptions are the options of the plugin's gRPC server.
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}

// GRPCDialOptions are the options of the host's gRPC connection to a plugin.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
	}
}

// GRPCPlugin is the go-plugin plugin of the calendar contract. Impl is the
// provider served (plugin side) and is nil on the host side.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Provider
	// Logger receives the adapter's own messages (a provider's panic); nil means
	// NewLogger.
	Logger *slog.Logger
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("calendar plugin: no provider to serve")
	}
	logger := p.Logger
	if logger == nil {
		logger = pluginLogger()
	}
	RegisterGRPCServer(s, p.Impl, logger)
	return nil
}

// GRPCClient implements plugin.GRPCPlugin: the dispensed value is a *GRPCClient.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewGRPCClient(conn), nil
}
