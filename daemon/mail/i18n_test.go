package mail

import (
	"context"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestCatalogsComplete checks every language has every sentence, with the same
// arguments as English, so no mail shows "%!s(MISSING)" or drops a name.
func TestCatalogsComplete(t *testing.T) {
	t.Parallel()
	verbs := regexp.MustCompile(`%\[\d\][sd]`)
	en := reflect.ValueOf(*english())
	for _, code := range Languages() {
		c := lookupLanguage(code)
		if c.tag != code {
			t.Errorf("lookupLanguage(%q).tag = %q", code, c.tag)
		}
		v := reflect.ValueOf(*c)
		for i := 0; i < v.NumField(); i++ {
			name := v.Type().Field(i).Name
			f := v.Field(i)
			switch f.Kind() {
			case reflect.String:
				s := f.String()
				if strings.TrimSpace(s) == "" {
					t.Errorf("%s.%s is empty", code, name)
				}
				want := sortedMatches(verbs, en.Field(i).String())
				if got := sortedMatches(verbs, s); !reflect.DeepEqual(got, want) {
					t.Errorf("%s.%s has arguments %v, English has %v", code, name, got, want)
				}
				if strings.Count(s, "%") != len(verbs.FindAllString(s, -1)) {
					t.Errorf("%s.%s has a stray %%: %q", code, name, s)
				}
			case reflect.Array:
				for j := 0; j < f.Len(); j++ {
					if f.Index(j).String() == "" {
						t.Errorf("%s.%s[%d] is empty", code, name, j)
					}
				}
			}
		}
	}
}

func sortedMatches(re *regexp.Regexp, s string) []string {
	m := re.FindAllString(s, -1)
	sort.Strings(m)
	return m
}

func TestLookupLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code, want string
		supported  bool
	}{
		{"", "en", false},
		{"en", "en", true},
		{"DE", "de", true},
		{"de-AT", "de", true},
		{"nb", "no", true},
		{"nb_NO", "no", true},
		{"sv", "sv", true},
		{"fi", "en", false},
		{"klingon", "en", false},
	}
	for _, tt := range tests {
		if got := lookupLanguage(tt.code).tag; got != tt.want {
			t.Errorf("lookupLanguage(%q) = %q, want %q", tt.code, got, tt.want)
		}
		if got := SupportedLanguage(tt.code); got != tt.supported {
			t.Errorf("SupportedLanguage(%q) = %v, want %v", tt.code, got, tt.supported)
		}
	}
}

// TestEveryLanguageOverSMTP sends all three mails in every language through a real
// SMTP server and spot-checks what a reader of that language must see.
func TestEveryLanguageOverSMTP(t *testing.T) {
	t.Parallel()
	spot := map[string]struct {
		subject, greeting, button, date, expiredSubject, digestSubject, digestLabel string
	}{
		"en": {"Connect your calendar to SuperOffice", "Hello Jane Doe,", "Connect the calendar", "9 January 2026 at 10:00 (UTC)",
			"Your calendar sync has stopped – please sign in again", "Synchronizer: 5 links need attention", "Not activated yet"},
		"no": {"Koble kalenderen din til SuperOffice", "Hei Jane Doe,", "Koble til kalenderen", "9. januar 2026 kl. 10:00 (UTC)",
			"Kalendersynkroniseringen har stoppet – logg inn på nytt", "Synchronizer: 5 koblinger trenger oppfølging", "Ikke aktivert ennå"},
		"sv": {"Koppla din kalender till SuperOffice", "Hej Jane Doe,", "Koppla kalendern", "9 januari 2026 kl. 10:00 (UTC)",
			"Kalendersynkroniseringen har stoppat – logga in igen", "Synchronizer: 5 kopplingar behöver åtgärdas", "Inte aktiverad än"},
		"da": {"Forbind din kalender med SuperOffice", "Hej Jane Doe,", "Forbind kalenderen", "9. januar 2026 kl. 10:00 (UTC)",
			"Kalendersynkroniseringen er stoppet – log ind igen", "Synchronizer: 5 forbindelser kræver opmærksomhed", "Ikke aktiveret endnu"},
		"de": {"Verbinden Sie Ihren Kalender mit SuperOffice", "Guten Tag Jane Doe,", "Kalender verbinden", "9. Januar 2026, 10:00 Uhr (UTC)",
			"Kalendersynchronisierung angehalten – bitte melden Sie sich erneut an", "Synchronizer: 5 Verknüpfungen erfordern Aufmerksamkeit", "Noch nicht aktiviert"},
		"nl": {"Koppel je agenda aan SuperOffice", "Hallo Jane Doe,", "Agenda koppelen", "9 januari 2026 om 10:00 (UTC)",
			"Je agendasynchronisatie is gestopt – meld je opnieuw aan", "Synchronizer: 5 koppelingen vragen aandacht", "Nog niet geactiveerd"},
	}
	if len(spot) != len(Languages()) {
		t.Fatalf("spot checks for %d languages, %d supported", len(spot), len(Languages()))
	}
	for _, code := range Languages() {
		want := spot[code]
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverOptions{})
			m, err := NewSMTPMailer(SMTPConfig{Address: srv.Addr, From: "sync@acme.example", Admin: "admin@acme.example"}, Options{
				Clock:         ClockFunc(func() time.Time { return testNow }),
				Location:      time.UTC,
				AdminLanguage: code,
			})
			if err != nil {
				t.Fatal(err)
			}
			a := testActivation()
			a.Language = code
			a.Message = "Spørsmål? Ring 1234 – Grüße aus Köln."
			ctx := context.Background()
			if err := m.Activation(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := m.ExpiredCredentials(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := m.Digest(ctx, testDigest()); err != nil {
				t.Fatal(err)
			}
			msgs := srv.messages()
			if len(msgs) != 3 {
				t.Fatalf("%d messages delivered, want 3", len(msgs))
			}
			act, exp, dig := parseMessage(t, msgs[0].Data), parseMessage(t, msgs[1].Data), parseMessage(t, msgs[2].Data)

			check := func(what, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("activation subject", act.Subject, want.subject)
			check("expired subject", exp.Subject, want.expiredSubject)
			check("digest subject", dig.Subject, want.digestSubject)
			for _, p := range []parsed{act, exp, dig} {
				check("Content-Language", p.Header.Get("Content-Language"), code)
				if !strings.Contains(p.HTML, `<html lang="`+code+`">`) {
					t.Errorf("HTML does not declare lang=%s", code)
				}
				for _, part := range []string{p.Text, p.HTML} {
					for _, bad := range []string{"%!", "<no value>", "MISSING", "ZgotmplZ"} {
						if strings.Contains(part, bad) {
							t.Errorf("a part contains %q", bad)
						}
					}
				}
			}
			// The subject is RFC 2047-encoded whenever it is not plain ASCII.
			if raw := act.Header.Get("Subject"); !isASCII(want.subject) && !strings.Contains(raw, "=?utf-8?q?") {
				t.Errorf("raw Subject %q is not RFC 2047-encoded", raw)
			}
			for _, part := range []string{act.Text, act.HTML} {
				for _, s := range []string{want.greeting, want.date, a.Message} {
					if !strings.Contains(part, s) {
						t.Errorf("activation part lacks %q", s)
					}
				}
			}
			if !strings.Contains(act.HTML, ">"+want.button+"</a>") {
				t.Errorf("activation HTML lacks the button %q", want.button)
			}
			for _, part := range []string{dig.Text, dig.HTML} {
				if !strings.Contains(part, want.digestLabel) || !strings.Contains(part, "synchronizer activate acme-gw bob -resend") {
					t.Errorf("digest part lacks %q or the resend command", want.digestLabel)
				}
			}
		})
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
