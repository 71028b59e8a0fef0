package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

// The TLS modes. The zero value is TLSAuto.
const (
	// TLSAuto: implicit TLS when the port is 465; otherwise STARTTLS whenever the
	// server offers it, and required unless the server is on a loopback address (a
	// local relay may speak plain SMTP; nothing crosses the network).
	TLSAuto TLSMode = "auto"
	// TLSStartTLS: STARTTLS is required, on loopback too.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit: TLS from the first byte (SMTPS), on any port.
	TLSImplicit TLSMode = "implicit"
	// TLSNone: never TLS, even when offered, for any address. Only for a relay whose
	// certificate cannot be verified on a network that is trusted; the password is
	// still never sent unencrypted except to a loopback address.
	TLSNone TLSMode = "none"
)

// Sentinel errors wrapped by a SendError, for errors.Is.
var (
	// ErrTLSUnavailable: TLS is required but the server does not offer STARTTLS.
	ErrTLSUnavailable = errors.New("the SMTP server offers no STARTTLS")
	// ErrInsecureAuth: a password would travel unencrypted to a non-loopback server.
	ErrInsecureAuth = errors.New("refusing to send the SMTP password over an unencrypted connection")
	// ErrAuthUnsupported: a username is configured but the server offers neither
	// AUTH PLAIN nor AUTH LOGIN.
	ErrAuthUnsupported = errors.New("the SMTP server offers no supported authentication (PLAIN or LOGIN)")
)

// SMTPConfig is the `smtp` block of the configuration, as this package needs it.
type SMTPConfig struct {
	// Address is host:port of the submission server, e.g. "smtp.example.com:587".
	Address string
	// From is the sender, e.g. "Synchronizer <sync@example.com>".
	From string
	// Admin receives the digest; empty means the digest is only logged.
	Admin string
	// Username and Password, when Username is set, authenticate with AUTH PLAIN
	// (or AUTH LOGIN when the server offers only that, as some hosted services do).
	Username string
	Password string
	// TLS is the TLS mode; empty means TLSAuto.
	TLS TLSMode
	// TLSConfig, if set, is used for STARTTLS and implicit TLS (for example RootCAs
	// for a private CA). ServerName defaults to Address's host.
	TLSConfig *tls.Config
	// Timeout bounds one whole delivery (connect, TLS, AUTH, DATA); 0 means 1 minute.
	Timeout time.Duration
	// HelloName is the name sent with EHLO; empty means this host's name.
	HelloName string
}

// String describes the config without its password.
func (c SMTPConfig) String() string {
	pw := ""
	if c.Password != "" {
		pw = " password=REDACTED"
	}
	return fmt.Sprintf("smtp{address=%s from=%s admin=%s username=%s%s tls=%s}", c.Address, c.From, c.Admin, c.Username, pw, c.tlsMode())
}

// LogValue keeps the password out of structured logs.
func (c SMTPConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("address", c.Address),
		slog.String("from", c.From),
		slog.String("admin", c.Admin),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != ""),
		slog.String("tls", string(c.tlsMode())),
	)
}

func (c SMTPConfig) tlsMode() TLSMode {
	if c.TLS == "" {
		return TLSAuto
	}
	return c.TLS
}

// SendError is a failed delivery: which server, at which step, and why. It never
// holds the message or the password.
type SendError struct {
	Addr string // host:port of the server
	Step string // connect, tls, starttls, auth, mail from, rcpt to, data, quit
	Err  error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send mail via %s: %s: %v", e.Addr, e.Step, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: a 4xx reply, a network
// failure or a timeout. A 5xx reply, a TLS policy or an authentication problem needs
// someone to change something first.
func (e *SendError) Temporary() bool {
	var tp *textproto.Error
	if errors.As(e.Err, &tp) {
		return tp.Code >= 400 && tp.Code < 500
	}
	if errors.Is(e.Err, context.Canceled) {
		return false
	}
	if errors.Is(e.Err, ErrTLSUnavailable) || errors.Is(e.Err, ErrInsecureAuth) || errors.Is(e.Err, ErrAuthUnsupported) {
		return false
	}
	var ne net.Error
	if errors.As(e.Err, &ne) {
		return true
	}
	return errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF)
}

// SMTPCode returns the SMTP reply code of err (550, 421, …) or 0 if err is not a reply
// from the server.
func SMTPCode(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}

// Sender delivers finished messages over SMTP. It keeps no connection open between
// messages: mails are rare, and a fresh connection never trips over a server's idle
// timeout.
type Sender struct {
	addr      string
	host      string
	port      string
	mode      TLSMode
	loopback  bool
	username  string
	password  string
	tlsConfig *tls.Config
	timeout   time.Duration
	helloName string
}

// NewSender checks cfg's server part and returns a Sender. It does no I/O.
func NewSender(cfg SMTPConfig) (*Sender, error) {
	host, port, err := net.SplitHostPort(cfg.Address)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("smtp address %q: want host:port, e.g. smtp.example.com:587", cfg.Address)
	}
	mode := cfg.tlsMode()
	switch mode {
	case TLSAuto, TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("smtp tls mode %q: want one of auto, starttls, implicit, none", cfg.TLS)
	}
	if mode == TLSAuto && port == "465" {
		mode = TLSImplicit
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("smtp: a password is set but no username")
	}
	s := &Sender{
		addr:      cfg.Address,
		host:      host,
		port:      port,
		mode:      mode,
		loopback:  isLoopbackHost(host),
		username:  cfg.Username,
		password:  cfg.Password,
		timeout:   cfg.Timeout,
		helloName: cfg.HelloName,
	}
	if s.timeout <= 0 {
		s.timeout = time.Minute
	}
	if cfg.TLSConfig != nil {
		s.tlsConfig = cfg.TLSConfig.Clone()
	} else {
		s.tlsConfig = &tls.Config{}
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = host
	}
	if s.tlsConfig.MinVersion == 0 {
		s.tlsConfig.MinVersion = tls.VersionTLS12
	}
	if s.helloName == "" {
		s.helloName = defaultHelloName()
	}
	if strings.ContainsAny(s.helloName, " \r\n") {
		return nil, fmt.Errorf("smtp hello name %q: must be a host name", s.helloName)
	}
	return s, nil
}

// defaultHelloName is this host's name when it looks like one, else "localhost".
func defaultHelloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \r\n") {
		return "localhost"
	}
	return h
}

// isLoopbackHost reports whether host names this machine without DNS: "localhost" or
// a loopback IP. Other names are taken as remote, whatever they resolve to.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send delivers msg (a complete RFC 5322 message with CRLF line ends) from the
// envelope sender from to the recipients to. It returns a *SendError on failure, or
// the context's error (wrapped) when ctx ends first.
func (s *Sender) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if len(to) == 0 {
		return fmt.Errorf("%w: no recipients", ErrInvalid)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	fail := func(step string, err error) error {
		// A deadline or cancellation shows up as an I/O error on the connection: name
		// the real cause.
		ctxErr := ctx.Err()
		var ne net.Error
		if dl, ok := ctx.Deadline(); ctxErr == nil && ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
			// The connection's deadline (the context's) fired a moment before the
			// context noticed.
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil {
			if errors.Is(ctxErr, context.DeadlineExceeded) {
				err = fmt.Errorf("no answer within %s: %w", s.timeout, ctxErr)
			} else {
				err = ctxErr
			}
		}
		return &SendError{Addr: s.addr, Step: step, Err: err}
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fail("connect", err)
		}
	}
	// Cancellation unblocks whatever read or write is under way.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	encrypted := false
	if s.mode == TLSImplicit {
		tc := tls.Client(conn, s.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("tls", err)
		}
		conn = tc
		encrypted = true
	}

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fail("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.helloName); err != nil {
		return fail("ehlo", err)
	}

	if !encrypted && s.mode != TLSNone {
		offered, _ := c.Extension("STARTTLS")
		switch {
		case offered:
			if err := c.StartTLS(s.tlsConfig); err != nil {
				return fail("starttls", err)
			}
			encrypted = true
		case s.mode == TLSStartTLS:
			return fail("starttls", fmt.Errorf("%w, and TLS mode starttls requires it", ErrTLSUnavailable))
		case !s.loopback:
			return fail("starttls", fmt.Errorf("%w, and mail to a server that is not on this machine is only sent encrypted: "+
				"use the submission port that offers STARTTLS (usually 587) or implicit TLS (port 465)", ErrTLSUnavailable))
		}
	}

	if s.username != "" {
		if !encrypted && !s.loopback {
			return fail("auth", fmt.Errorf("%w to a server that is not on this machine: use TLS mode auto, starttls or implicit", ErrInsecureAuth))
		}
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return fail("auth", fmt.Errorf("%w: it offers no AUTH at all; remove the username and password if it needs none", ErrAuthUnsupported))
		}
		var auth smtp.Auth
		switch {
		case hasMechanism(mechs, "PLAIN"):
			auth = &plainAuth{username: s.username, password: s.password}
		case hasMechanism(mechs, "LOGIN"):
			auth = &loginAuth{username: s.username, password: s.password}
		default:
			return fail("auth", fmt.Errorf("%w; it offers %s", ErrAuthUnsupported, clean(mechs, 200)))
		}
		if err := c.Auth(auth); err != nil {
			if code := SMTPCode(err); code >= 500 {
				err = fmt.Errorf("%w (check the SMTP username and password)", err)
			}
			return fail("auth", err)
		}
	}

	if err := c.Mail(from); err != nil {
		return fail("mail from", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fail("rcpt to "+rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("data", err)
	}
	if err := w.Close(); err != nil {
		return fail("data", err)
	}
	// The message is accepted once DATA is answered; a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func hasMechanism(list, mech string) bool {
	for _, m := range strings.Fields(list) {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// plainAuth is SASL PLAIN (RFC 4616). Send has already decided that the connection is
// encrypted or local, so unlike net/smtp's PlainAuth it does not judge that again
// (net/smtp only trusts the literal names localhost, 127.0.0.1 and ::1).
type plainAuth struct{ username, password string }

func (a *plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected challenge after AUTH PLAIN")
	}
	return nil, nil
}

// loginAuth is the widespread (if unstandardised) AUTH LOGIN: the server asks for the
// username, then the password.
type loginAuth struct {
	username, password string
	step               int
}

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	prompt := strings.ToLower(string(challenge))
	switch {
	case strings.Contains(prompt, "user"):
		return []byte(a.username), nil
	case strings.Contains(prompt, "pass"):
		return []byte(a.password), nil
	case a.step == 1:
		return []byte(a.username), nil
	case a.step == 2:
		return []byte(a.password), nil
	default:
		return nil, errors.New("unexpected challenge during AUTH LOGIN")
	}
}
