package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The consent listener (http.consent_address, public through a reverse proxy at
// http.public_url) serves the pages ordinary staff see:
//
//	GET /activate/{token}      the activation page: which link, which account, a button
//	GET /activate/{token}/go   the button: a plain link that redirects to the provider
//	GET /setup/{name}          the same for an admin granting tenant-level access
//	GET /setup/{name}/go
//	GET /oauth/callback        back from the provider: finish, then a result page
//
// What the pages say comes from a ConsentFlow (daemon/oauth implements it); this file
// only speaks HTTP: routes, security headers, the cookie that binds a sign-in to the
// browser that started it, timeouts and size limits. Pages are server-rendered
// (html/template), need no JavaScript and carry no third-party content.

// ConsentTimeout bounds one consent request, including the provider calls a
// callback makes (token exchange, identification).
const ConsentTimeout = 60 * time.Second

// maxConsentURL bounds the request target: activation tokens, OAuth codes and
// state are short, so anything longer is not a sign-in.
const maxConsentURL = 8 << 10

// ConsentFlow is what the consent routes answer from.
type ConsentFlow interface {
	// ActivationPage describes the link an activation token belongs to.
	ActivationPage(ctx context.Context, token string) (ConsentPage, error)
	// StartActivation begins the provider's sign-in for an activation token.
	// loginHint, when not empty, replaces the account suggested to the provider.
	StartActivation(ctx context.Context, token, loginHint string) (ConsentStart, error)
	// SetupPage describes the tenant-level access an admin grants for the
	// superoffice or calendar block name.
	SetupPage(ctx context.Context, name string) (ConsentPage, error)
	// StartSetup begins the admin's sign-in for the block name.
	StartSetup(ctx context.Context, name, loginHint string) (ConsentStart, error)
	// Finish completes a sign-in from the provider's redirect: params is the
	// callback's query, binding the value of the cookie StartX set in this
	// browser ("" when the browser sent none).
	Finish(ctx context.Context, params url.Values, binding string) (ConsentDone, error)
}

// Purposes of a consent page, as the sdk names them.
const (
	PurposeUser     = "user"
	PurposeResource = "resource"
	PurposeAdmin    = "admin"
)

// ConsentPage is what an activation or setup page shows.
type ConsentPage struct {
	Language string // the profile's language; "" is English
	Purpose  string // PurposeUser, PurposeResource or PurposeAdmin
	// Name is the link's display name (a resource's name) or the block's name.
	Name    string
	Profile string // the link's profile; "" for a setup
	// System is the display name of the system signed in to ("Microsoft 365").
	System string
	// Account is the account to sign in with; "" when any administrator may.
	Account string
	// Manager: the account is not the calendar's own but one that manages it
	// (a Google resource calendar).
	Manager bool
	// Reconnect: the link was connected before and its sign-in stopped working.
	Reconnect bool
	// Connected is the account of the connection a setup would replace.
	Connected string
	Expires   time.Time
	// GoURL is the absolute URL of the button.
	GoURL string
}

// ConsentStart is where to send the browser to sign in, and how to remember
// in that browser that it started the sign-in.
type ConsentStart struct {
	AuthURL string // the provider's sign-in page
	State   string // the OAuth state carried by AuthURL
	// Binding is the cookie value Finish must see again; CookiePath is the
	// callback's path under the public URL; Secure is set for an https public URL.
	Binding    string
	CookiePath string
	Secure     bool
	MaxAge     time.Duration
}

// ConsentDone is what the success page shows.
type ConsentDone struct {
	Language string
	Purpose  string
	Name     string
	Profile  string
	System   string
	Account  string // the account that signed in
}

// ConsentErrorKind names what went wrong; each has its own page and status.
type ConsentErrorKind int

const (
	ErrConsentInternal      ConsentErrorKind = iota // 500: something broke on our side
	ErrConsentUnknown                               // 404: no such activation link
	ErrConsentExpired                               // 410: the link expired
	ErrConsentUsed                                  // 410: the link was used already
	ErrConsentDenied                                // 403: the person declined
	ErrConsentWrongAccount                          // 403: signed in as someone else
	ErrConsentNotAdmin                              // 403: not allowed to grant this
	ErrConsentState                                 // 400: state unknown, reused or from another browser
	ErrConsentProvider                              // 502: the provider reported an error
	ErrConsentTokenExchange                         // 502: the token endpoint refused or failed
	ErrConsentSetupClosed                           // 404: no setup is open for this block
	ErrConsentNotNeeded                             // 409: this block needs no sign-in here
	ErrConsentUnavailable                           // 503: configuration or store not usable now
)

// Status is the HTTP status of a page of this kind.
func (k ConsentErrorKind) Status() int {
	switch k {
	case ErrConsentUnknown, ErrConsentSetupClosed:
		return http.StatusNotFound
	case ErrConsentExpired, ErrConsentUsed:
		return http.StatusGone
	case ErrConsentDenied, ErrConsentWrongAccount, ErrConsentNotAdmin:
		return http.StatusForbidden
	case ErrConsentState:
		return http.StatusBadRequest
	case ErrConsentProvider, ErrConsentTokenExchange:
		return http.StatusBadGateway
	case ErrConsentNotNeeded:
		return http.StatusConflict
	case ErrConsentUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

var consentKindNames = map[ConsentErrorKind]string{
	ErrConsentInternal: "internal", ErrConsentUnknown: "unknown", ErrConsentExpired: "expired",
	ErrConsentUsed: "used", ErrConsentDenied: "denied", ErrConsentWrongAccount: "wrong_account",
	ErrConsentNotAdmin: "not_admin", ErrConsentState: "state", ErrConsentProvider: "provider",
	ErrConsentTokenExchange: "token_exchange", ErrConsentSetupClosed: "setup_closed",
	ErrConsentNotNeeded: "not_needed", ErrConsentUnavailable: "unavailable",
}

func (k ConsentErrorKind) String() string {
	if s, ok := consentKindNames[k]; ok {
		return s
	}
	return "internal"
}

// ConsentError is a failure a person sees as a page. Every field but Err is
// shown, so none may carry a secret.
type ConsentError struct {
	Kind     ConsentErrorKind
	Language string
	Purpose  string
	// Account is who signed in; Expected the account the link is for.
	Account  string
	Expected string
	// Name is the block a setup is for (shown in the command to open it).
	Name string
	// Detail is the provider's own description of its error, shown verbatim.
	Detail string
	// Retry is the absolute URL that starts again (the activation page).
	Retry string
	// Err is the cause, for errors.Is/As and the daemon's log only.
	Err error
}

func (e *ConsentError) Error() string {
	msg := "consent failed: " + e.Kind.String()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ConsentError) Unwrap() error { return e.Err }

// ConsentOptions configure the consent listener's handler.
type ConsentOptions struct {
	Flow   ConsentFlow
	Logger *slog.Logger
	// Timeout bounds one request (ConsentTimeout when zero).
	Timeout time.Duration
	// CookiePath is the callback's path as browsers see it (the public URL's
	// path + "/oauth/callback"), so the binding cookie can be removed; nil
	// means "/oauth/callback".
	CookiePath func() string
}

// NewConsentHandler builds the consent listener's routes. Requests with a body,
// with another method than GET/HEAD or with an outsized URL are refused.
func NewConsentHandler(o ConsentOptions) http.Handler {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = ConsentTimeout
	}
	h := &consentHandler{flow: o.Flow, log: log, path: o.CookiePath}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /activate/{token}", h.activationPage)
	mux.HandleFunc("GET /activate/{token}/go", h.activationGo)
	mux.HandleFunc("GET /setup/{name}", h.setupPage)
	mux.HandleFunc("GET /setup/{name}/go", h.setupGo)
	mux.HandleFunc("GET /oauth/callback", h.callback)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, &ConsentError{Kind: ErrConsentUnknown})
	})
	timeoutPage, _ := renderError(&ConsentError{Kind: ErrConsentUnavailable})
	return secureHeaders(limitConsent(http.TimeoutHandler(mux, o.Timeout, string(timeoutPage)), h))
}

type consentHandler struct {
	flow ConsentFlow
	log  *slog.Logger
	path func() string
}

func (h *consentHandler) cookiePath() string {
	if h.path != nil {
		if p := h.path(); p != "" {
			return p
		}
	}
	return "/oauth/callback"
}

// secureHeaders sets what every consent response carries: nothing is cached, no
// page can be framed, no referrer leaves (the URL holds the activation token), and
// only the page's own inline style may apply.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consentCSP)
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// limitConsent refuses what no browser following our links sends.
func limitConsent(next http.Handler, h *consentHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writePlain(w, http.StatusMethodNotAllowed, "method not allowed\n")
			return
		}
		if len(r.URL.RequestURI()) > maxConsentURL {
			writePlain(w, http.StatusRequestURITooLong, "request URL too long\n")
			return
		}
		if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
			writePlain(w, http.StatusRequestEntityTooLarge, "a request body is not accepted here\n")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 0)
		next.ServeHTTP(w, r)
	})
}

func writePlain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(msg))
}

func (h *consentHandler) activationPage(w http.ResponseWriter, r *http.Request) {
	page, err := h.flow.ActivationPage(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "page", page.Language, page)
}

func (h *consentHandler) activationGo(w http.ResponseWriter, r *http.Request) {
	start, err := h.flow.StartActivation(r.Context(), r.PathValue("token"), hint(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, start)
}

func (h *consentHandler) setupPage(w http.ResponseWriter, r *http.Request) {
	page, err := h.flow.SetupPage(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "page", page.Language, page)
}

func (h *consentHandler) setupGo(w http.ResponseWriter, r *http.Request) {
	start, err := h.flow.StartSetup(r.Context(), r.PathValue("name"), hint(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, start)
}

// hint is the optional login_hint of a /go request: the account to suggest to
// the provider instead of the configured one (an admin naming themselves).
func hint(r *http.Request) string {
	v := strings.TrimSpace(r.URL.Query().Get("login_hint"))
	if len(v) > 320 {
		return ""
	}
	return v
}

// BindingCookie names the cookie that binds the sign-in with this state to the
// browser that started it. Each sign-in has its own, so several can run at once.
func BindingCookie(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "consent_" + hex.EncodeToString(sum[:8])
}

func (h *consentHandler) redirect(w http.ResponseWriter, r *http.Request, s ConsentStart) {
	if s.Binding != "" && s.State != "" {
		maxAge := s.MaxAge
		if maxAge <= 0 {
			maxAge = 15 * time.Minute
		}
		path := s.CookiePath
		if path == "" {
			path = "/oauth/callback"
		}
		http.SetCookie(w, &http.Cookie{
			Name: BindingCookie(s.State), Value: s.Binding, Path: path, MaxAge: int(maxAge / time.Second),
			HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode,
		})
	}
	http.Redirect(w, r, s.AuthURL, http.StatusFound)
}

func (h *consentHandler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	binding := ""
	if st := q.Get("state"); st != "" {
		name := BindingCookie(st)
		if c, err := r.Cookie(name); err == nil {
			binding = c.Value
		}
		// The binding is single-use like the state: drop it whatever happens.
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: h.cookiePath(), MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	done, err := h.flow.Finish(r.Context(), q, binding)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "done", done.Language, done)
}

// fail renders err as a page: a *ConsentError as its kind says, anything else
// as an internal error (logged, never shown).
func (h *consentHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ce *ConsentError
	if !errors.As(err, &ce) {
		h.log.Error("consent request failed", "route", routeOf(r), "err", err)
		ce = &ConsentError{Kind: ErrConsentInternal}
	}
	body, rerr := renderError(ce)
	if rerr != nil {
		h.log.Error("render consent error page", "err", rerr)
		writePlain(w, http.StatusInternalServerError, "internal error\n")
		return
	}
	writeHTML(w, ce.Kind.Status(), body)
}

func (h *consentHandler) render(w http.ResponseWriter, r *http.Request, code int, name, lang string, data any) {
	body, err := renderPage(name, lang, data)
	if err != nil {
		h.log.Error("render consent page", "route", routeOf(r), "page", name, "err", err)
		h.fail(w, r, &ConsentError{Kind: ErrConsentInternal, Language: lang})
		return
	}
	writeHTML(w, code, body)
}

func writeHTML(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(body)
}

// routeOf names the route without its tokens, for logs: the activation token
// in the path is a secret.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " (unmatched)"
}
