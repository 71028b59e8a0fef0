package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

const testMsg = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"

func TestSenderDelivers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		server   serverOptions
		cfg      SMTPConfig // Address and TLSConfig are filled in
		wantTLS  bool
		wantUser string
	}{
		{
			name:   "plain loopback relay without TLS or AUTH",
			server: serverOptions{},
			cfg:    SMTPConfig{},
		},
		{
			name:    "STARTTLS is used when offered",
			server:  serverOptions{startTLS: true},
			cfg:     SMTPConfig{},
			wantTLS: true,
		},
		{
			name:     "STARTTLS then AUTH PLAIN",
			server:   serverOptions{startTLS: true, requireTLS: true, mechs: []string{"PLAIN", "LOGIN"}, user: "sync", pass: "s3cret pw"},
			cfg:      SMTPConfig{Username: "sync", Password: "s3cret pw", TLS: TLSStartTLS},
			wantTLS:  true,
			wantUser: "sync",
		},
		{
			name:     "AUTH LOGIN when PLAIN is not offered",
			server:   serverOptions{startTLS: true, requireTLS: true, mechs: []string{"LOGIN"}, user: "sync", pass: "pw"},
			cfg:      SMTPConfig{Username: "sync", Password: "pw"},
			wantTLS:  true,
			wantUser: "sync",
		},
		{
			name:     "AUTH PLAIN to a loopback server without TLS",
			server:   serverOptions{mechs: []string{"PLAIN"}, user: "u", pass: "p"},
			cfg:      SMTPConfig{Username: "u", Password: "p"},
			wantUser: "u",
		},
		{
			name:     "implicit TLS",
			server:   serverOptions{implicit: true, requireTLS: true, mechs: []string{"PLAIN"}, user: "u", pass: "p"},
			cfg:      SMTPConfig{Username: "u", Password: "p", TLS: TLSImplicit},
			wantTLS:  true,
			wantUser: "u",
		},
		{
			name:   "TLS none ignores an offered STARTTLS",
			server: serverOptions{startTLS: true},
			cfg:    SMTPConfig{TLS: TLSNone},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tt.server)
			cfg := tt.cfg
			cfg.Address = srv.Addr
			cfg.HelloName = "client.test"
			if srv.Roots != nil {
				cfg.TLSConfig = &tls.Config{RootCAs: srv.Roots}
			}
			s, err := NewSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(context.Background(), "a@example.com", []string{"b@example.com"}, []byte(testMsg)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.only(t)
			if got.From != "a@example.com" || len(got.To) != 1 || got.To[0] != "b@example.com" {
				t.Errorf("envelope = %q -> %q", got.From, got.To)
			}
			if got.TLS != tt.wantTLS {
				t.Errorf("over TLS = %v, want %v", got.TLS, tt.wantTLS)
			}
			if got.User != tt.wantUser {
				t.Errorf("authenticated as %q, want %q", got.User, tt.wantUser)
			}
			if !strings.Contains(string(got.Data), "hello") {
				t.Errorf("data = %q", got.Data)
			}
		})
	}
}

func TestSenderFailures(t *testing.T) {
	t.Parallel()
	const password = "hunter2-very-secret"
	tests := []struct {
		name      string
		server    serverOptions
		cfg       SMTPConfig
		remote    bool // pretend the server is not on this machine
		untrusted bool // do not trust the server's certificate
		wantIs    error
		wantStep  string
		wantCode  int
		wantTemp  bool
		wantText  string
	}{
		{
			name:     "STARTTLS required but not offered",
			server:   serverOptions{},
			cfg:      SMTPConfig{TLS: TLSStartTLS},
			wantIs:   ErrTLSUnavailable,
			wantStep: "starttls",
			wantText: "requires it",
		},
		{
			name:     "remote server without STARTTLS",
			server:   serverOptions{},
			cfg:      SMTPConfig{},
			remote:   true,
			wantIs:   ErrTLSUnavailable,
			wantStep: "starttls",
			wantText: "587",
		},
		{
			name:     "password never sent in clear to a remote server",
			server:   serverOptions{mechs: []string{"PLAIN"}, user: "u", pass: password},
			cfg:      SMTPConfig{TLS: TLSNone, Username: "u", Password: password},
			remote:   true,
			wantIs:   ErrInsecureAuth,
			wantStep: "auth",
		},
		{
			name:      "certificate not trusted",
			server:    serverOptions{startTLS: true},
			cfg:       SMTPConfig{},
			untrusted: true,
			wantStep:  "starttls",
			wantText:  "certificate",
		},
		{
			name:     "wrong password",
			server:   serverOptions{startTLS: true, mechs: []string{"PLAIN"}, user: "u", pass: "right"},
			cfg:      SMTPConfig{Username: "u", Password: password},
			wantStep: "auth",
			wantCode: 535,
			wantText: "check the SMTP username and password",
		},
		{
			name:     "server offers no AUTH",
			server:   serverOptions{startTLS: true},
			cfg:      SMTPConfig{Username: "u", Password: password},
			wantIs:   ErrAuthUnsupported,
			wantStep: "auth",
		},
		{
			name:     "recipient refused for good",
			server:   serverOptions{rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
			wantStep: "rcpt to b@example.com",
			wantCode: 550,
			wantText: "no such user",
		},
		{
			name:     "recipient deferred",
			server:   serverOptions{rcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}},
			wantStep: "rcpt to b@example.com",
			wantCode: 451,
			wantTemp: true,
		},
		{
			name:     "message refused after DATA",
			server:   serverOptions{dataErr: &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "rejected"}},
			wantStep: "data",
			wantCode: 554,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tt.server)
			cfg := tt.cfg
			cfg.Address = srv.Addr
			if srv.Roots != nil && !tt.untrusted {
				cfg.TLSConfig = &tls.Config{RootCAs: srv.Roots}
			}
			s, err := NewSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.remote {
				s.loopback = false
			}
			err = s.Send(context.Background(), "a@example.com", []string{"b@example.com"}, []byte(testMsg))
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			t.Logf("error: %v", err)
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SendError", err)
			}
			if se.Step != tt.wantStep {
				t.Errorf("step = %q, want %q", se.Step, tt.wantStep)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error does not wrap %v", tt.wantIs)
			}
			if got := SMTPCode(err); got != tt.wantCode {
				t.Errorf("SMTPCode = %d, want %d", got, tt.wantCode)
			}
			if se.Temporary() != tt.wantTemp {
				t.Errorf("Temporary = %v, want %v", se.Temporary(), tt.wantTemp)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
			if !strings.Contains(err.Error(), srv.Addr) {
				t.Errorf("error %q does not name the server", err)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error leaks the password: %q", err)
			}
			if n := len(srv.messages()); n != 0 {
				t.Errorf("server received %d messages", n)
			}
		})
	}
}

// silentListener accepts connections and never says a word, like a server that hangs.
func silentListener(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 1)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String(), ch
}

func TestSenderTimeout(t *testing.T) {
	t.Parallel()
	addr, _ := silentListener(t)
	s, err := NewSender(SMTPConfig{Address: addr, Timeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), "a@example.com", []string{"b@example.com"}, []byte(testMsg))
	if err == nil {
		t.Fatal("Send to a silent server succeeded")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Send took %s despite a 150ms timeout", elapsed)
	}
	var se *SendError
	if !errors.As(err, &se) || se.Step != "greeting" {
		t.Fatalf("error = %v, want a SendError at the greeting", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 150ms") {
		t.Errorf("error = %q, want it to say the server did not answer in time", err)
	}
	if !se.Temporary() {
		t.Error("a timeout should be temporary")
	}
}

func TestSenderCancel(t *testing.T) {
	t.Parallel()
	addr, accepted := silentListener(t)
	s, err := NewSender(SMTPConfig{Address: addr, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-accepted
		cancel()
	}()
	errc := make(chan error, 1)
	go func() { errc <- s.Send(ctx, "a@example.com", []string{"b@example.com"}, []byte(testMsg)) }()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		var se *SendError
		if errors.As(err, &se) && se.Temporary() {
			t.Error("a cancelled send should not count as temporary")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return after its context was cancelled")
	}
}

func TestSenderConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s, err := NewSender(SMTPConfig{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), "a@example.com", []string{"b@example.com"}, []byte(testMsg))
	var se *SendError
	if !errors.As(err, &se) || se.Step != "connect" {
		t.Fatalf("error = %v, want a SendError at connect", err)
	}
	if !se.Temporary() {
		t.Error("a refused connection should be temporary")
	}
}

func TestNewSenderRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  SMTPConfig
		want string
	}{
		{"no port", SMTPConfig{Address: "smtp.example.com"}, "host:port"},
		{"empty", SMTPConfig{}, "host:port"},
		{"bad tls mode", SMTPConfig{Address: "smtp.example.com:587", TLS: "sometimes"}, "tls mode"},
		{"password without user", SMTPConfig{Address: "smtp.example.com:587", Password: "x"}, "no username"},
		{"bad hello", SMTPConfig{Address: "smtp.example.com:587", HelloName: "a\r\nb"}, "hello name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewSender(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSender error = %v, want one mentioning %q", err, tt.want)
			}
			if err != nil && tt.cfg.Password != "" && strings.Contains(err.Error(), tt.cfg.Password) {
				t.Errorf("error leaks the password")
			}
		})
	}
}

func TestSenderModeFromPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr     string
		mode     TLSMode
		want     TLSMode
		loopback bool
	}{
		{"smtp.example.com:465", "", TLSImplicit, false},
		{"smtp.example.com:587", "", TLSAuto, false},
		{"127.0.0.1:25", TLSAuto, TLSAuto, true},
		{"127.1.2.3:25", "", TLSAuto, true},
		{"[::1]:25", "", TLSAuto, true},
		{"localhost:25", "", TLSAuto, true},
		{"smtp.example.com:465", TLSStartTLS, TLSStartTLS, false},
		{"10.0.0.1:25", TLSNone, TLSNone, false},
	}
	for _, tt := range tests {
		s, err := NewSender(SMTPConfig{Address: tt.addr, TLS: tt.mode})
		if err != nil {
			t.Fatalf("%s: %v", tt.addr, err)
		}
		if s.mode != tt.want || s.loopback != tt.loopback {
			t.Errorf("%s %q: mode %q loopback %v, want %q %v", tt.addr, tt.mode, s.mode, s.loopback, tt.want, tt.loopback)
		}
	}
}

func TestSMTPConfigHidesPassword(t *testing.T) {
	t.Parallel()
	cfg := SMTPConfig{Address: "smtp.example.com:587", Username: "u", Password: "p4ssw0rd-secret"}
	for _, s := range []string{cfg.String(), cfg.LogValue().String()} {
		if strings.Contains(s, "p4ssw0rd-secret") {
			t.Errorf("password shown: %s", s)
		}
	}
	if !strings.Contains(cfg.String(), "REDACTED") {
		t.Errorf("String() = %s, want the password marked as set", cfg.String())
	}
}
