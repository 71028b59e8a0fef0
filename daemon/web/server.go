// Package web owns the daemon's HTTP listeners: the admin listener
// (/healthz, /readyz, /metrics, /v1/...) now, the consent listener later. It
// binds, serves with timeouts and shuts down gracefully; what the routes answer
// comes from the functions it is given, so it holds no state of the daemon.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Timeouts of every listener. WriteTimeout is long because a run-now request
// (POST /v1/profiles/{profile}/sync) answers when the sync is done.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 10 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// ErrAddressInUse is wrapped by Listen when another process holds the port.
var ErrAddressInUse = errors.New("address already in use")

// Server is one bound HTTP listener.
type Server struct {
	name string
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
}

// Listen binds addr now, so a taken port is reported before the daemon says it
// is ready. name ("admin_address", "consent_address") appears in errors.
func Listen(name, addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s %s is already in use (is another synchronizer running? change http.%s or pass -%s): %w",
				name, addr, name, flagName(name), ErrAddressInUse)
		}
		return nil, fmt.Errorf("listen on %s %s: %w", name, addr, err)
	}
	return &Server{
		name: name,
		ln:   ln,
		log:  log,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}, nil
}

func flagName(name string) string {
	switch name {
	case "admin_address":
		return "admin-address"
	case "consent_address":
		return "consent-address"
	}
	return name
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	s.log.Info("listening", "listener", s.name, "address", s.Addr())
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s %s: %w", s.name, s.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting, waits for requests in flight until ctx ends, then
// closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
		return fmt.Errorf("shut down %s: %w", s.name, err)
	}
	return nil
}
