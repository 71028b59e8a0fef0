package oauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"synchronizer/daemon/config"
	"synchronizer/daemon/oauth"
	"synchronizer/daemon/state"
	"synchronizer/plugins/google"
	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/m365"
	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
	"synchronizer/plugins/superoffice/sotest"
)

// RSA keys take a while to make; every emulator of the package shares two.
var (
	keysOnce          sync.Once
	signKey, partnerK *rsa.PrivateKey
)

func testKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if signKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if partnerK, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return signKey, partnerK
}

// clock is a settable clock shared by the service and the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer keeps every log line of the daemon side (service and providers).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is a daemon's consent side against the three emulators, all on loopback.
type env struct {
	t     *testing.T
	clk   *clock
	logs  *logBuffer
	log   *slog.Logger
	store *state.Memory
	svc   *oauth.Service
	cfg   *config.Config

	so    *sotest.Server
	graph *graphtest.Server
	gcal  *gcaltest.Server

	bases map[string]string // emulator roots by provider name

	providers map[string]sdk.Provider
	consent   *httptest.Server
	admin     *httptest.Server
	smtp      *smtpServer

	mu        sync.Mutex
	activated []state.LinkID
	connected []string
	visited   []string // every URL the browsers were sent to
}

type envOptions struct {
	noSMTP bool // no smtp block: the LogMailer
}

const (
	googleClientID     = "emu-client.apps.googleusercontent.com"
	googleClientSecret = "emu-google-secret-5f2a"
)

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	sign, partner := testKeys(t)
	e := &env{t: t, clk: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &logBuffer{}}
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	e.so = sotest.New(sotest.Options{ContextID: "Cust9", AutoConsent: true, SigningKey: sign, PartnerKey: partner})
	e.graph = graphtest.New(graphtest.Options{AutoConsent: true})
	e.gcal = gcaltest.New(gcaltest.Options{AutoConsent: true, ClientID: googleClientID, ClientSecret: googleClientSecret})
	soSrv := httptest.NewServer(e.so)
	graphSrv := httptest.NewServer(e.graph)
	gcalSrv := httptest.NewServer(e.gcal)
	e.bases = map[string]string{"superoffice": soSrv.URL, "m365": graphSrv.URL, "google": gcalSrv.URL}
	t.Cleanup(func() {
		soSrv.Close()
		graphSrv.Close()
		gcalSrv.Close()
		e.so.Close()
		e.graph.Close()
		e.gcal.Close()
	})
	must(t, func() error {
		_, err := e.so.AddUser(sotest.User{Login: "ADMIN", Email: "admin@superoffice.test", Admin: true})
		return err
	}())
	must(t, func() error {
		_, err := e.so.AddUser(sotest.User{Login: "USER1", Email: "user1@superoffice.test"})
		return err
	}())
	for _, u := range []graphtest.User{{UserPrincipalName: "admin@m365.test", Admin: true}, {UserPrincipalName: "user1@m365.test", DisplayName: "User 1"},
		{UserPrincipalName: "user2@m365.test", DisplayName: "User 2"}} {
		_, err := e.graph.AddUser(u)
		must(t, err)
	}
	_, err := e.graph.AddResource(graphtest.Room{Email: "room1@m365.test", DisplayName: "Meeting room 1"})
	must(t, err)
	must(t, e.gcal.AddUser(gcaltest.User{Email: "admin@google.test", Name: "Admin", Admin: true}))
	must(t, e.gcal.AddUser(gcaltest.User{Email: "user1@google.test", Name: "User 1"}))
	must(t, e.gcal.AddUser(gcaltest.User{Email: "user2@google.test", Name: "User 2"}))
	must(t, e.gcal.AddResource(gcaltest.Resource{Email: "room1@resource.google.test", Name: "Meeting room 1"}))

	e.providers = map[string]sdk.Provider{
		config.ProviderSuperOffice: superoffice.New(e.log),
		config.ProviderM365:        m365.New(e.log),
		config.ProviderGoogle:      google.New(e.log),
	}
	e.consent = httptest.NewUnstartedServer(nil)
	e.admin = httptest.NewUnstartedServer(nil)
	if !o.noSMTP {
		e.smtp = startSMTP(t)
	}
	ms := e.graph.Settings(graphSrv.URL, false)
	e.cfg = &config.Config{
		HTTP: config.HTTP{PublicURL: "http://" + e.consent.Listener.Addr().String()},
		SuperOffice: []*config.SuperOffice{{Name: "acme", ContextID: "Cust9", Environment: "online", ClientID: e.so.ClientID(),
			ClientSecret: e.so.ClientSecret(), PartnerKey: string(e.so.PartnerKeyPEM()), Endpoint: soSrv.URL, Resources: true}},
		Calendars: []*config.Calendar{
			{Provider: "m365", Name: "m365", TenantID: ms["tenant_id"], ClientID: ms["client_id"], ClientSecret: ms["client_secret"], Auth: "delegated", Endpoint: graphSrv.URL},
			{Provider: "m365", Name: "m365app", TenantID: ms["tenant_id"], ClientID: ms["client_id"], ClientSecret: ms["client_secret"], Auth: "application", Endpoint: graphSrv.URL},
			{Provider: "google", Name: "gw", ClientID: googleClientID, ClientSecret: googleClientSecret, Endpoint: gcalSrv.URL, Admin: "admin@google.test"},
		},
		Profiles: []*config.Profile{
			{Name: "p365", SuperOffice: "acme", Calendar: "m365", Direction: "two-way", Language: "en", Message: "Questions? Call the helpdesk on 1234.", Links: []*config.Link{
				{Profile: "p365", Name: "u1", Kind: config.KindUser, Associate: "USER1", Mailbox: "User1@M365.test"},
				{Profile: "p365", Name: "room1", Kind: config.KindResource, Associate: "Meeting room 1", Mailbox: "room1@m365.test"},
			}},
			{Name: "pgw", SuperOffice: "acme", Calendar: "gw", Direction: "two-way", Language: "de", Links: []*config.Link{
				{Profile: "pgw", Name: "u1", Kind: config.KindUser, Associate: "USER1", Mailbox: "user1@google.test"},
				{Profile: "pgw", Name: "room1", Kind: config.KindResource, Associate: "Meeting room 1", Mailbox: "room1@resource.google.test"},
			}},
			{Name: "papp", SuperOffice: "acme", Calendar: "m365app", Direction: "two-way", Language: "en", Links: []*config.Link{
				{Profile: "papp", Name: "u2", Kind: config.KindUser, Associate: "USER1", Mailbox: "user2@m365.test"},
			}},
		},
	}
	if e.smtp != nil {
		e.cfg.SMTP = &config.SMTP{Address: e.smtp.addr, From: "Synchronizer <sync@example.test>", Admin: "it-ops@example.test"}
	}
	e.store = state.NewMemory(e.clk.Now)
	e.svc = e.newService()
	e.consent.Config.Handler = e.svc.Handler()
	e.consent.Start()
	mux := http.NewServeMux()
	e.svc.Mount(mux)
	e.admin.Config.Handler = mux
	e.admin.Start()
	t.Cleanup(e.consent.Close)
	t.Cleanup(e.admin.Close)
	return e
}

// newService builds a Service on the env's store, as a daemon (re)start does.
func (e *env) newService() *oauth.Service {
	svc, err := oauth.New(oauth.Options{
		Config: func() *config.Config { return e.cfg },
		Store:  e.store,
		Providers: oauth.ProvidersFunc(func(_ context.Context, name string) (sdk.Provider, error) {
			if p := e.providers[name]; p != nil {
				return p, nil
			}
			return nil, errors.New("no provider " + name)
		}),
		Logger:   e.log,
		Now:      e.clk.Now,
		Location: time.UTC,
		OnActivated: func(_ context.Context, id state.LinkID) {
			e.mu.Lock()
			e.activated = append(e.activated, id)
			e.mu.Unlock()
		},
		OnConnected: func(_ context.Context, name string) {
			e.mu.Lock()
			e.connected = append(e.connected, name)
			e.mu.Unlock()
		},
	})
	must(e.t, err)
	return svc
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) profile(name string) *config.Profile { return e.cfg.Profile(name) }

func (e *env) link(profile, name string) (*config.Profile, *config.Link) {
	p := e.cfg.Profile(profile)
	return p, p.Link(name)
}

// browser is a person's browser: a cookie jar, redirects followed, every URL
// it is sent to recorded.
func (e *env) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	must(e.t, err)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		e.mu.Lock()
		e.visited = append(e.visited, req.URL.String())
		e.mu.Unlock()
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
}

// stopAt is a browser that does not follow redirects away from the consent
// listener, so a test can play the provider's answer itself.
func (e *env) stopAt(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

type page struct {
	status int
	body   string
	url    string // where the browser ended
	header http.Header
}

func (e *env) get(c *http.Client, u string) page {
	e.t.Helper()
	e.mu.Lock()
	e.visited = append(e.visited, u)
	e.mu.Unlock()
	resp, err := c.Get(u)
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(e.t, err)
	return page{status: resp.StatusCode, body: string(b), url: resp.Request.URL.String(), header: resp.Header}
}

var dataPage = regexp.MustCompile(`data-page="([^"]+)"`)

// kind is the page's machine-readable name (data-page).
func (p page) kind() string {
	m := dataPage.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// ---- SMTP ----

type delivered struct {
	from string
	to   []string
	data []byte
}

type smtpServer struct {
	addr string
	mu   sync.Mutex
	msgs []delivered
}

func (s *smtpServer) messages() []delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivered(nil), s.msgs...)
}

type smtpSession struct {
	srv *smtpServer
	msg delivered
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.msg = delivered{from: from}
	return nil
}
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.msg.to = append(ss.msg.to, to)
	return nil
}
func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.msg.data = b
	ss.srv.mu.Lock()
	ss.srv.msgs = append(ss.srv.msgs, ss.msg)
	ss.srv.mu.Unlock()
	return nil
}
func (ss *smtpSession) Reset()        { ss.msg = delivered{} }
func (ss *smtpSession) Logout() error { return nil }

// startSMTP runs a real SMTP server on 127.0.0.1 in this process.
func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = smtpLog{t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = ln.Close()
		<-done
	})
	return s
}

type smtpLog struct{ t *testing.T }

func (l smtpLog) Printf(format string, v ...any) { l.t.Logf("smtp: "+format, v...) }
func (l smtpLog) Println(v ...any)               { l.t.Log(v...) }

// mailText returns a delivered mail's subject and its text parts, decoded.
func mailText(t *testing.T, d delivered) (subject, text string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(d.data))
	must(t, err)
	dec := new(mime.WordDecoder)
	subject, err = dec.DecodeHeader(m.Header.Get("Subject"))
	must(t, err)
	var out strings.Builder
	var walk func(h map[string][]string, body io.Reader)
	walk = func(h map[string][]string, body io.Reader) {
		hdr := mail.Header(h)
		mt, params, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(p.Header, p)
			}
		}
		if strings.EqualFold(hdr.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, _ := io.ReadAll(body)
		if mt == "text/plain" {
			out.Write(b)
		}
	}
	walk(m.Header, m.Body)
	return subject, out.String()
}

var activateURL = regexp.MustCompile(`https?://[^\s<>"]+/activate/[A-Za-z0-9_-]+`)

// urlIn finds the activation URL in a mail's text.
func urlIn(t *testing.T, text string) string {
	t.Helper()
	u := activateURL.FindString(text)
	if u == "" {
		t.Fatalf("no activation URL in the mail:\n%s", text)
	}
	return u
}

func queryOf(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	must(t, err)
	return u.Query()
}

func (e *env) gcalBase() string { return e.bases["google"] }

func newPost(u, body string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
