package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates
var templateFS embed.FS

// templates are the parsed mail layouts. They hold no words of their own: every
// sentence comes from a catalog, so one layout serves every language.
type templates struct {
	accountText *texttemplate.Template
	accountHTML *htmltemplate.Template
	digestText  *texttemplate.Template
	digestHTML  *htmltemplate.Template
}

func parseTemplates() (*templates, error) {
	textFuncs := texttemplate.FuncMap{
		"wrap": func(s string) string { return wrapText(s, textWidth, "", "") },
		"wrapIndent": func(first, rest, s string) string {
			return wrapText(s, textWidth, first, rest)
		},
		"sig": func() string { return "-- " }, // the signature separator keeps its space
	}
	var t templates
	var err error
	if t.accountText, err = texttemplate.New("account.txt.tmpl").Funcs(textFuncs).ParseFS(templateFS, "templates/account.txt.tmpl"); err != nil {
		return nil, fmt.Errorf("parse account text template: %w", err)
	}
	if t.accountHTML, err = htmltemplate.New("account.html.tmpl").ParseFS(templateFS, "templates/account.html.tmpl"); err != nil {
		return nil, fmt.Errorf("parse account html template: %w", err)
	}
	if t.digestText, err = texttemplate.New("digest.txt.tmpl").Funcs(textFuncs).ParseFS(templateFS, "templates/digest.txt.tmpl"); err != nil {
		return nil, fmt.Errorf("parse digest text template: %w", err)
	}
	if t.digestHTML, err = htmltemplate.New("digest.html.tmpl").ParseFS(templateFS, "templates/digest.html.tmpl"); err != nil {
		return nil, fmt.Errorf("parse digest html template: %w", err)
	}
	return &t, nil
}

// rendered is a mail's content before it becomes a MIME message.
type rendered struct {
	Lang    string
	Subject string
	Text    string
	HTML    string
}

// accountView is what the activation and expired-credentials layouts show.
type accountView struct {
	Lang     string
	Subject  string
	Greeting string
	Intro    rich // what this is about
	Action   rich // whom to sign in as
	Button   string
	URL      string
	Fallback string
	Expiry   *rich
	Message  [][]string // the profile's custom message: paragraphs of lines
	Ignore   *rich
	Footer   rich
}

// Limits on what a mail shows of a value, so a runaway name cannot bloat a header.
const (
	maxName  = 120
	maxError = 500
)

// ErrInvalid is wrapped by every error about a mail that cannot be composed from what
// the caller gave (no recipient, a malformed address or URL). Sending it again will
// not help; fixing the config or the link will.
var ErrInvalid = errors.New("invalid mail")

// calendarName is how the mail names the calendar system.
func calendarName(provider, override string) string {
	if s := clean(override, maxName); s != "" {
		return s
	}
	switch provider {
	case ProviderM365:
		return "Microsoft 365"
	case ProviderGoogle:
		return "Google"
	default:
		return clean(provider, maxName)
	}
}

// checkActivationURL accepts only an absolute http(s) URL: anything else would be
// neutralised by html/template or would not open.
func checkActivationURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("%w: no activation URL", ErrInvalid)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		strings.ContainsAny(raw, " \t\r\n<>\"") {
		// The URL carries a token: say what is wrong without repeating it.
		return fmt.Errorf("%w: the activation URL is not an absolute http(s) URL", ErrInvalid)
	}
	return nil
}

// renderAccount renders the activation mail (expired=false) or the expired-credentials
// mail (expired=true).
func (t *templates) renderAccount(a Activation, expired bool, loc *time.Location) (rendered, error) {
	if err := checkActivationURL(a.URL); err != nil {
		return rendered{}, err
	}
	cal := calendarName(a.Provider, a.CalendarName)
	if cal == "" {
		return rendered{}, fmt.Errorf("%w: no calendar provider for link %s", ErrInvalid, a.Link)
	}
	c := lookupLanguage(a.Language)
	name := clean(a.displayName(), maxName)
	mailbox := clean(a.Mailbox, maxName)
	resource := a.Kind == KindResource

	v := accountView{
		Lang:     c.tag,
		URL:      a.URL,
		Fallback: c.linkFallback,
		Message:  messageParagraphs(a.Message),
		Footer:   richf(c.footer, txt(clean(a.Profile, maxName))),
	}
	switch {
	case resource:
		v.Greeting = c.helloResource
	case name != "":
		v.Greeting = fmt.Sprintf(c.hello, name)
	default:
		v.Greeting = c.helloResource
	}

	var signIn rich
	switch {
	case !resource:
		signIn = richf(c.signInAs, em(mailbox))
	case a.Provider == ProviderGoogle:
		signIn = richf(c.signInManager, em(mailbox))
	default:
		signIn = richf(c.signInResourceSelf, em(mailbox))
	}

	if expired {
		v.Button = c.buttonReconnect
		if resource {
			v.Subject = fmt.Sprintf(c.subjectExpiredResource, name)
			v.Intro = join(richf(c.introExpiredResource, em(name), word(cal), txt(mailbox)), richf(c.expiredCause))
		} else {
			v.Subject = c.subjectExpiredUser
			v.Intro = join(richf(c.introExpiredUser, word(cal), txt(mailbox)), richf(c.expiredCause))
		}
		v.Action = join(signIn, richf(c.catchUp))
	} else {
		v.Button = c.buttonActivate
		if resource {
			v.Subject = fmt.Sprintf(c.subjectActivationResource, name)
			v.Intro = join(richf(c.introActivationResource, em(name), word(cal), txt(mailbox)), richf(directionSentence(c, a.Direction)))
		} else {
			v.Subject = c.subjectActivationUser
			v.Intro = join(richf(c.introActivationUser, word(cal), txt(mailbox)), richf(directionSentence(c, a.Direction)))
		}
		v.Action = join(signIn, richf(c.onceOnly))
		ignore := richf(c.ignore)
		v.Ignore = &ignore
	}
	v.Subject = clean(v.Subject, 0)
	if !a.Expires.IsZero() {
		e := richf(c.expires, word(c.formatDate(a.Expires, loc)))
		v.Expiry = &e
	}

	var text, page bytes.Buffer
	if err := t.accountText.Execute(&text, v); err != nil {
		return rendered{}, fmt.Errorf("render %s text: %w", accountKind(expired), err)
	}
	if err := t.accountHTML.Execute(&page, v); err != nil {
		return rendered{}, fmt.Errorf("render %s html: %w", accountKind(expired), err)
	}
	return rendered{Lang: c.tag, Subject: v.Subject, Text: text.String(), HTML: page.String()}, nil
}

func accountKind(expired bool) string {
	if expired {
		return "expired-credentials mail"
	}
	return "activation mail"
}

func directionSentence(c *catalog, d Direction) string {
	switch d {
	case DirectionToCalendar:
		return c.dirToCalendar
	case DirectionToSuperOffice:
		return c.dirToSuperOffice
	default:
		return c.dirTwoWay
	}
}

// digestView is what the digest layouts show.
type digestView struct {
	Lang    string
	Subject string
	Intro   string
	Cols    digestCols
	Groups  []digestGroup
	Footer  rich
}

type digestCols struct{ Profile, Link, Account, Since, Details string }

type digestGroup struct {
	Label string
	Rows  []digestRow
}

type digestRow struct {
	Profile string
	Link    string
	Name    string // shown beside the link name when it differs
	Account string
	Since   string
	Hint    rich
}

// digestOrder is the order of the digest's sections: what broke first, what was never
// started last.
func digestOrder() []string {
	return []string{StateNeedsConsent, StateError, StateUnlicensed, StatePendingActivation}
}

func (t *templates) renderDigest(d Digest, language string, loc *time.Location) (rendered, error) {
	if len(d.Links) == 0 {
		return rendered{}, fmt.Errorf("%w: a digest without links", ErrInvalid)
	}
	c := lookupLanguage(language)
	v := digestView{
		Lang:   c.tag,
		Intro:  c.digestIntro,
		Cols:   digestCols{c.colProfile, c.colLink, c.colAccount, c.colSince, c.colDetails},
		Footer: richf(c.digestFooter, cmd("synchronizer status")),
	}
	if len(d.Links) == 1 {
		v.Subject = c.subjectDigestOne
	} else {
		v.Subject = fmt.Sprintf(c.subjectDigestOther, len(d.Links))
	}

	links := append([]LinkStatus(nil), d.Links...)
	sort.SliceStable(links, func(i, j int) bool {
		if links[i].Profile != links[j].Profile {
			return links[i].Profile < links[j].Profile
		}
		return links[i].Link < links[j].Link
	})
	byState := map[string][]LinkStatus{}
	var extra []string // states outside digestOrder, in first-seen order
	for _, l := range links {
		if _, seen := byState[l.State]; !seen && !contains(digestOrder(), l.State) {
			extra = append(extra, l.State)
		}
		byState[l.State] = append(byState[l.State], l)
	}
	for _, state := range append(digestOrder(), extra...) {
		ls := byState[state]
		if len(ls) == 0 {
			continue
		}
		g := digestGroup{Label: stateLabel(c, state)}
		for _, l := range ls {
			row := digestRow{
				Profile: clean(l.Profile, maxName),
				Link:    clean(l.Link, maxName),
				Account: clean(l.Mailbox, maxName),
				Hint:    digestHint(c, l, d.At, loc),
			}
			if n := clean(l.displayName(), maxName); n != row.Link {
				row.Name = n
			}
			if !l.Since.IsZero() {
				row.Since = c.formatDate(l.Since, loc)
			}
			g.Rows = append(g.Rows, row)
		}
		v.Groups = append(v.Groups, g)
	}

	var text, page bytes.Buffer
	if err := t.digestText.Execute(&text, v); err != nil {
		return rendered{}, fmt.Errorf("render digest text: %w", err)
	}
	if err := t.digestHTML.Execute(&page, v); err != nil {
		return rendered{}, fmt.Errorf("render digest html: %w", err)
	}
	return rendered{Lang: c.tag, Subject: v.Subject, Text: text.String(), HTML: page.String()}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func stateLabel(c *catalog, state string) string {
	switch state {
	case StatePendingActivation:
		return c.statePending
	case StateNeedsConsent:
		return c.stateNeedsConsent
	case StateError:
		return c.stateError
	case StateUnlicensed:
		return c.stateUnlicensed
	default:
		return clean(state, maxName)
	}
}

func digestHint(c *catalog, l LinkStatus, at time.Time, loc *time.Location) rich {
	resend := cmd("synchronizer activate " + shellWord(l.Profile) + " " + shellWord(l.Link) + " -resend")
	switch l.State {
	case StatePendingActivation:
		if !l.ActivationExpires.IsZero() && !l.ActivationExpires.After(at) {
			return richf(c.hintPendingExpired, word(c.formatDate(l.ActivationExpires, loc)), resend)
		}
		return richf(c.hintPending, resend)
	case StateNeedsConsent:
		return richf(c.hintNeedsConsent, resend)
	case StateError:
		msg := clean(l.LastError, maxError)
		if msg == "" {
			msg = "–"
		}
		return richf(c.hintError, txt(strings.TrimRight(msg, ".")), cmd("synchronizer sync "+shellWord(l.Profile)+" "+shellWord(l.Link)))
	case StateUnlicensed:
		return richf(c.hintUnlicensed)
	default:
		return rich{}
	}
}
