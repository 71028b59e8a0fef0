package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"synchronizer/daemon/config"
	"synchronizer/daemon/mail"
	"synchronizer/daemon/oauth"
	"synchronizer/daemon/state"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

// countingMailer records activation mails and fails while failing is set.
type countingMailer struct {
	mu      sync.Mutex
	to      []string
	failing bool
}

func (m *countingMailer) Activation(_ context.Context, a mail.Activation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing {
		return errors.New("smtp: 451 try later")
	}
	m.to = append(m.to, a.Mailbox)
	return nil
}
func (m *countingMailer) ExpiredCredentials(ctx context.Context, a mail.Activation) error {
	return m.Activation(ctx, a)
}
func (m *countingMailer) Digest(context.Context, mail.Digest) error { return nil }

func (m *countingMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.to)
}

// consentAdmin serves the consent side's admin routes over a memory provider
// whose sign-in is an authorization-code flow.
func consentAdmin(t *testing.T) (string, *countingMailer) {
	t.Helper()
	cal := &config.Calendar{Provider: "memory", Name: "mem", ClientID: "cid", ClientSecret: "secret",
		Settings: map[string]string{"auth_url": "https://login.example.test/auth", "token_url": "https://login.example.test/token"}}
	link := &config.Link{Profile: "p", Name: "jane", Kind: config.KindUser, Associate: "JANE", Mailbox: "jane@example.test"}
	cfg := &config.Config{HTTP: config.HTTP{PublicURL: "https://sync.example.test"}, Calendars: []*config.Calendar{cal},
		Profiles: []*config.Profile{{Name: "p", Calendar: "mem", Language: "en", Links: []*config.Link{link}}}}
	mailer := &countingMailer{}
	prov := memory.New()
	svc, err := oauth.New(oauth.Options{Config: func() *config.Config { return cfg }, Store: state.NewMemory(nil), Mailer: mailer,
		Providers: oauth.ProvidersFunc(func(context.Context, string) (sdk.Provider, error) { return prov, nil })})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), mailer
}

func runConsentCmd(f func([]string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := f(args, &out, &errb)
	return code, out.String(), errb.String()
}

func activateCmd(args []string, out, errb *bytes.Buffer) int { return cmdActivate(args, out, errb) }
func connectCmd(args []string, out, errb *bytes.Buffer) int  { return cmdConnect(args, out, errb) }

func TestActivateCommand(t *testing.T) {
	t.Parallel()
	addr, mailer := consentAdmin(t)
	code, first, stderr := runConsentCmd(activateCmd, "-admin", addr, "p", "jane")
	if code != 0 || !strings.HasPrefix(first, "https://sync.example.test/activate/") || strings.Count(first, "\n") != 1 {
		t.Fatalf("activate: exit %d, stdout %q, stderr %q", code, first, stderr)
	}
	if !strings.Contains(stderr, "usable once until") || mailer.count() != 1 {
		t.Errorf("first activate: stderr %q, %d mails", stderr, mailer.count())
	}
	// Asking again shows the same link and mails nothing.
	if code, again, _ := runConsentCmd(activateCmd, "p", "jane", "-admin", addr); code != 0 || again != first || mailer.count() != 1 {
		t.Errorf("second activate: exit %d, %q (first %q), %d mails", code, again, first, mailer.count())
	}
	// -resend, after the arguments as SPEC writes it: a new link, mailed.
	code, resent, stderr := runConsentCmd(activateCmd, "-admin", addr, "p", "jane", "-resend")
	if code != 0 || resent == first || !strings.Contains(stderr, "Mailed to jane@example.test") || mailer.count() != 2 {
		t.Errorf("resend: exit %d, %q, stderr %q, %d mails", code, resent, stderr, mailer.count())
	}
	code, js, _ := runConsentCmd(activateCmd, "-admin", addr, "-json", "p", "jane")
	if code != 0 || !strings.Contains(js, `"activation_url": "`+strings.TrimSpace(resent)+`"`) {
		t.Errorf("-json: %d %s", code, js)
	}
	mailer.mu.Lock()
	mailer.failing = true
	mailer.mu.Unlock()
	code, out, stderr := runConsentCmd(activateCmd, "-admin", addr, "-resend", "p", "jane")
	if code != 1 || !strings.HasPrefix(out, "https://") || !strings.Contains(stderr, "The mail could not be sent: ") {
		t.Errorf("resend with a failing mail: exit %d, %q, %q", code, out, stderr)
	}

	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-admin", addr, "p", "bob"}, 1, `link "bob" of profile p: not in the configuration (HTTP 404)`},
		{[]string{"-admin", addr, "nope", "jane"}, 1, "(HTTP 404)"},
		{[]string{"-admin", addr, "p"}, 2, "name a profile and one of its links"},
		{[]string{"-admin", addr, "p", "jane", "extra"}, 2, "name a profile"},
		{[]string{"-nope"}, 2, "flag provided but not defined"},
		{[]string{"-h"}, 0, "Usage: synchronizer activate"},
		{[]string{"-admin", freeAddr(t), "p", "jane"}, 1, "no synchronizer is listening"},
	} {
		code, _, stderr := runConsentCmd(activateCmd, c.args...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("activate %q: exit %d, stderr %q; want %d, %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
}

func TestConnectCommand(t *testing.T) {
	t.Parallel()
	addr, _ := consentAdmin(t)
	code, out, stderr := runConsentCmd(connectCmd, "mem", "-admin", addr)
	if code != 0 || out != "https://sync.example.test/setup/mem\n" || !strings.Contains(stderr, "sign in as an administrator of mem (memory)") {
		t.Errorf("connect: exit %d, %q, %q", code, out, stderr)
	}
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-admin", addr, "nope"}, 1, "no superoffice or calendar block is called \"nope\""},
		{[]string{"-admin", addr}, 2, "name one superoffice or calendar block"},
		{[]string{"-admin", "not-an-address", "mem"}, 1, "not host:port"},
	} {
		code, _, stderr := runConsentCmd(connectCmd, c.args...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("connect %q: exit %d, stderr %q; want %d, %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
}
