package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the fixed time of every test mail.
var testNow = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

const testToken = "tok_3f9a7c1e5b2d4f6a8c0e1b3d5f7a9c2e"

func testActivation() Activation {
	return Activation{
		Profile:  "acme-365",
		Link:     "jane",
		Kind:     KindUser,
		Name:     "Jane Doe",
		Mailbox:  "jane@acme.example",
		Provider: ProviderM365,
		URL:      "https://sync.example.com/activate/" + testToken,
		Expires:  testNow.Add(7 * 24 * time.Hour),
		Language: "en",
		Message:  "Questions? Call the helpdesk on 1234.\nOr write to helpdesk@acme.example.",
	}
}

func testDigest() Digest {
	return Digest{At: testNow, Links: []LinkStatus{
		{Profile: "acme-365", Link: "jane", Kind: KindUser, Name: "Jane Doe", Mailbox: "jane@acme.example",
			State: StateNeedsConsent, Since: testNow.Add(-26 * time.Hour)},
		{Profile: "acme-365", Link: "room1", Kind: KindResource, Name: "Meeting room 1", Mailbox: "room1@acme.example",
			State: StateError, Since: testNow.Add(-3 * time.Hour), LastError: "mass-delete guard: the calendar listed 0 items where 42 were paired."},
		{Profile: "acme-gw", Link: "bob", Kind: KindUser, Name: "Bob", Mailbox: "bob@acme.example",
			State: StatePendingActivation, Since: testNow.Add(-10 * 24 * time.Hour), ActivationExpires: testNow.Add(-3 * 24 * time.Hour)},
		{Profile: "acme-gw", Link: "carol", Kind: KindUser, Mailbox: "carol@acme.example",
			State: StatePendingActivation, Since: testNow.Add(-4 * 24 * time.Hour), ActivationExpires: testNow.Add(3 * 24 * time.Hour)},
		{Profile: "acme gw 2", Link: "dave", Kind: KindUser, Name: "Dave", Mailbox: "dave@acme.example",
			State: StateUnlicensed, Since: testNow.Add(-1 * time.Hour)},
	}}
}

// seededRandom is a deterministic random source, so Message-IDs and boundaries (and so
// the whole message) repeat from run to run.
func seededRandom() io.Reader {
	return rand.NewChaCha8([32]byte{1, 2, 3})
}

func newTestMailer(t *testing.T, srv *testServer, admin string, log *slog.Logger) *SMTPMailer {
	t.Helper()
	m, err := NewSMTPMailer(SMTPConfig{
		Address: srv.Addr,
		From:    "Synchronizer <sync@acme.example>",
		Admin:   admin,
	}, Options{
		Logger:   log,
		Clock:    ClockFunc(func() time.Time { return testNow }),
		Random:   seededRandom(),
		Location: time.UTC,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// parsed is a delivered message taken apart the way a mail client would.
type parsed struct {
	Header   mail.Header
	Subject  string // decoded
	Text     string
	HTML     string
	PartCTEs []string // Content-Transfer-Encoding of each part
}

func parseMessage(t *testing.T, data []byte) parsed {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("message has a bare LF line end")
	}
	for i, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i, len(line))
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	var p parsed
	p.Header = m.Header
	var dec mime.WordDecoder
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for i := 0; ; i++ {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		cte := part.Header.Get("Content-Transfer-Encoding")
		p.PartCTEs = append(p.PartCTEs, cte)
		var r io.Reader = part
		if strings.EqualFold(cte, "quoted-printable") {
			r = quotedprintable.NewReader(part)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("part %d body: %v", i, err)
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part %d content type: %v", i, err)
		}
		if !strings.EqualFold(pp["charset"], "utf-8") {
			t.Errorf("part %d charset = %q", i, pp["charset"])
		}
		switch pt {
		case "text/plain":
			p.Text = strings.ReplaceAll(string(body), "\r\n", "\n")
		case "text/html":
			p.HTML = strings.ReplaceAll(string(body), "\r\n", "\n")
		default:
			t.Errorf("part %d has type %s", i, pt)
		}
	}
	if len(p.PartCTEs) != 2 {
		t.Errorf("message has %d parts, want 2", len(p.PartCTEs))
	}
	return p
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestActivationMailOverSMTP(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	var logs bytes.Buffer
	m := newTestMailer(t, srv, "", slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err := m.Activation(context.Background(), testActivation()); err != nil {
		t.Fatalf("Activation: %v", err)
	}
	d := srv.only(t)
	if d.From != "sync@acme.example" || len(d.To) != 1 || d.To[0] != "jane@acme.example" {
		t.Errorf("envelope %q -> %q", d.From, d.To)
	}
	p := parseMessage(t, d.Data)

	from, err := p.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "sync@acme.example" || from[0].Name != "Synchronizer" {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := p.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "jane@acme.example" || to[0].Name != "Jane Doe" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if p.Subject != "Connect your calendar to SuperOffice" {
		t.Errorf("Subject = %q", p.Subject)
	}
	if date, err := p.Header.Date(); err != nil || !date.Equal(testNow) {
		t.Errorf("Date = %v (%v), want %v", date, err, testNow)
	}
	if id := p.Header.Get("Message-ID"); !regexp.MustCompile(`^<[0-9a-f]{32}@acme\.example>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	for k, want := range map[string]string{
		"MIME-Version":     "1.0",
		"Content-Language": "en",
		"Auto-Submitted":   "auto-generated",
	} {
		if got := p.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for i, cte := range p.PartCTEs {
		if cte != "quoted-printable" {
			t.Errorf("part %d Content-Transfer-Encoding = %q", i, cte)
		}
	}
	url := testActivation().URL
	for _, part := range []string{p.Text, p.HTML} {
		for _, want := range []string{url, "Jane Doe", "jane@acme.example", "acme-365", "Microsoft 365",
			"Questions? Call the helpdesk on 1234.", "9 January 2026 at 10:00 (UTC)"} {
			if !strings.Contains(part, want) {
				t.Errorf("a part lacks %q", want)
			}
		}
	}
	if !strings.Contains(p.HTML, `href="`+url+`"`) {
		t.Error("the HTML part has no link to the activation URL")
	}
	if !strings.Contains(p.HTML, `<html lang="en">`) {
		t.Error("the HTML part does not declare its language")
	}
	golden(t, "activation_user.en.txt", p.Text)
	golden(t, "activation_user.en.html", p.HTML)

	if strings.Contains(logs.String(), testToken) {
		t.Errorf("the log shows the activation token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "activation mail sent") || !strings.Contains(logs.String(), "link=jane") {
		t.Errorf("no log line for the sent mail:\n%s", logs.String())
	}
}

func TestMailsGolden(t *testing.T) {
	t.Parallel()
	resourceM365 := testActivation()
	resourceM365.Kind, resourceM365.Link, resourceM365.Name, resourceM365.Mailbox = KindResource, "room1", "Meeting room 1", "room1@acme.example"
	resourceM365.Message = ""
	resourceGoogle := resourceM365
	resourceGoogle.Provider, resourceGoogle.Profile = ProviderGoogle, "acme-gw"
	resourceGoogle.Mailbox = "c_1888abc@resource.calendar.google.com"
	resourceGoogle.To = "it-ops@acme.example"
	resourceGoogle.Direction = DirectionToCalendar

	tests := []struct {
		name string
		send func(context.Context, *SMTPMailer) error
	}{
		{"expired_user.en", func(ctx context.Context, m *SMTPMailer) error { return m.ExpiredCredentials(ctx, testActivation()) }},
		{"activation_resource_m365.en", func(ctx context.Context, m *SMTPMailer) error { return m.Activation(ctx, resourceM365) }},
		{"activation_resource_google.en", func(ctx context.Context, m *SMTPMailer) error { return m.Activation(ctx, resourceGoogle) }},
		{"expired_resource_m365.en", func(ctx context.Context, m *SMTPMailer) error { return m.ExpiredCredentials(ctx, resourceM365) }},
		{"digest.en", func(ctx context.Context, m *SMTPMailer) error { return m.Digest(ctx, testDigest()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverOptions{})
			m := newTestMailer(t, srv, "IT Ops <it-ops@acme.example>", nil)
			if err := tt.send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			p := parseMessage(t, srv.only(t).Data)
			golden(t, tt.name+".txt", "Subject: "+p.Subject+"\n\n"+p.Text)
			golden(t, tt.name+".html", p.HTML)
		})
	}
}

func TestNoHeaderInjection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	m := newTestMailer(t, srv, "", nil)
	a := testActivation()
	a.Name = "Jane\r\nBcc: evil@attacker.example\r\n\r\n<b>x</b>"
	a.Profile = "acme\nX-Injected: 1"
	a.Kind = KindResource // the name goes into the subject too
	if err := m.Activation(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	d := srv.only(t)
	if len(d.To) != 1 || d.To[0] != "jane@acme.example" {
		t.Errorf("envelope recipients = %q", d.To)
	}
	p := parseMessage(t, d.Data)
	for _, h := range []string{"Bcc", "X-Injected"} {
		if v := p.Header.Get(h); v != "" {
			t.Errorf("header %s injected: %q", h, v)
		}
	}
	if want := "Connect the calendar of Jane Bcc: evil@attacker.example <b>x</b> to SuperOffice"; p.Subject != want {
		t.Errorf("Subject = %q, want %q", p.Subject, want)
	}
	if strings.Contains(p.HTML, "<b>x</b>") || !strings.Contains(p.HTML, "&lt;b&gt;x&lt;/b&gt;") {
		t.Error("the name was not escaped in the HTML part")
	}
}

func TestSubjectEncodingAndFolding(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Møterom på sjøen ", 8) + "slutt"
	got := encodeSubject(long)
	for i, line := range strings.Split(got, "\r\n") {
		// An encoded word is at most 75 characters and cannot be split, so the first
		// line may reach 9+75; every further line is one space and one word.
		limit := 76
		if i == 0 {
			limit = 75
		}
		if len(line) > limit || (i > 0 && !strings.HasPrefix(line, " ")) {
			t.Errorf("line %d badly folded: %q", i, line)
		}
	}
	var dec mime.WordDecoder
	h, err := dec.DecodeHeader(strings.ReplaceAll(got, "\r\n", ""))
	if err != nil || h != strings.TrimSpace(long) {
		t.Errorf("decoded %q (%v), want %q", h, err, long)
	}
	if ascii := encodeSubject("Plain subject"); ascii != "Plain subject" {
		t.Errorf("ASCII subject encoded as %q", ascii)
	}
}

func TestInvalidMailsAreRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	m := newTestMailer(t, srv, "", nil)
	tests := []struct {
		name   string
		change func(*Activation)
	}{
		{"no mailbox", func(a *Activation) { a.Mailbox = "" }},
		{"mailbox with a line break", func(a *Activation) { a.Mailbox = "jane@acme.example\r\nRCPT TO:<x@y>" }},
		{"mailbox not an address", func(a *Activation) { a.Mailbox = "jane" }},
		{"no URL", func(a *Activation) { a.URL = "" }},
		{"javascript URL", func(a *Activation) { a.URL = "javascript:alert(1)//" + testToken }},
		{"relative URL", func(a *Activation) { a.URL = "/activate/" + testToken }},
		{"no provider", func(a *Activation) { a.Provider = "" }},
	}
	for _, tt := range tests {
		a := testActivation()
		tt.change(&a)
		err := m.Activation(context.Background(), a)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", tt.name, err)
			continue
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: error shows the token: %v", tt.name, err)
		}
		if !strings.Contains(err.Error(), "acme-365/jane") {
			t.Errorf("%s: error %q does not name the link", tt.name, err)
		}
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d invalid mails were sent", n)
	}
}

func TestNewSMTPMailerRejectsBadAddresses(t *testing.T) {
	t.Parallel()
	for _, cfg := range []SMTPConfig{
		{Address: "127.0.0.1:25", From: ""},
		{Address: "127.0.0.1:25", From: "not an address"},
		{Address: "127.0.0.1:25", From: "a@example.com", Admin: "ops\r\n@example.com"},
		{Address: "nowhere", From: "a@example.com"},
	} {
		if _, err := NewSMTPMailer(cfg, Options{}); err == nil {
			t.Errorf("NewSMTPMailer(%v) succeeded", cfg)
		}
	}
}

func TestSendFailureKeepsSecrets(t *testing.T) {
	t.Parallel()
	const password = "pw-never-shown-5c1d"
	srv := startServer(t, serverOptions{startTLS: true, mechs: []string{"PLAIN"}, user: "u", pass: "other"})
	var logs bytes.Buffer
	m, err := NewSMTPMailer(SMTPConfig{
		Address: srv.Addr, From: "sync@acme.example", Username: "u", Password: password,
		TLSConfig: &tls.Config{RootCAs: srv.Roots},
	}, Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Activation(context.Background(), testActivation())
	var se *SendError
	if !errors.As(err, &se) || se.Step != "auth" {
		t.Fatalf("error = %v, want a SendError at auth", err)
	}
	for what, s := range map[string]string{"error": err.Error(), "log": logs.String()} {
		for _, secret := range []string{password, testToken} {
			if strings.Contains(s, secret) {
				t.Errorf("the %s shows a secret: %s", what, s)
			}
		}
	}
	if !strings.Contains(err.Error(), "activation mail for acme-365/jane") {
		t.Errorf("error %q does not say which mail failed", err)
	}
}

func TestLogMailer(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	l := NewLogMailer(slog.New(slog.NewJSONHandler(&logs, nil)))
	ctx := context.Background()
	a := testActivation()
	if err := l.Activation(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := l.ExpiredCredentials(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := l.Digest(ctx, testDigest()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2+1+len(testDigest().Links) {
		t.Fatalf("%d log lines:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{`"level":"INFO"`, `"level":"WARN"`} {
		for _, s := range []string{want, `"activation_url":"` + a.URL + `"`, `"profile":"acme-365"`, `"link":"jane"`, `"mailbox":"jane@acme.example"`} {
			if !strings.Contains(lines[i], s) {
				t.Errorf("line %d lacks %s: %s", i, s, lines[i])
			}
		}
	}
	if !strings.Contains(logs.String(), `"last_error":"mass-delete guard`) {
		t.Error("the digest log lacks the last error")
	}
}

func TestDigestWithoutAdminIsLogged(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	var logs bytes.Buffer
	m := newTestMailer(t, srv, "", slog.New(slog.NewTextHandler(&logs, nil)))
	if err := m.Digest(context.Background(), testDigest()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d mails sent without an admin address", n)
	}
	if !strings.Contains(logs.String(), "links need attention") || !strings.Contains(logs.String(), "link=room1") {
		t.Errorf("digest not logged:\n%s", logs.String())
	}
}
