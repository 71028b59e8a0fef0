package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
)

//go:embed templates/consent.html templates/consent.css
var consentFiles embed.FS

// The page template, its style sheet and the Content-Security-Policy that
// allows exactly that style sheet are fixed at build time.
var (
	consentTemplate = template.Must(template.ParseFS(consentFiles, "templates/consent.html"))
	consentStyle    = mustRead("templates/consent.css")
	consentCSP      = "default-src 'none'; style-src 'sha256-" + styleHash(consentStyle) +
		"'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

func mustRead(name string) string {
	b, err := consentFiles.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("web: embedded %s: %v", name, err))
	}
	return string(b)
}

func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pageView is what the template renders: every sentence already in the page's
// language.
type pageView struct {
	Lang        string
	CSS         template.CSS
	Page        string // a machine-readable name of the page (data-page), for tests and monitoring
	Title       string
	OK          bool // the success page
	Alert       bool // a failure page
	Paras       []string
	DetailLabel string
	Detail      string
	Command     string
	Button      *pageLink
	Notes       []string
	Footer      string
}

type pageLink struct {
	URL  template.URL
	Text string
}

func execute(v pageView) ([]byte, error) {
	v.CSS = template.CSS(consentStyle)
	var buf bytes.Buffer
	if err := consentTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render consent page %s: %w", v.Page, err)
	}
	return buf.Bytes(), nil
}

// safeURL accepts only absolute http(s) URLs for buttons, so a bad value can
// never become a javascript: link.
func safeURL(u string) (template.URL, bool) {
	if len(u) > 7 && (u[:7] == "http://" || (len(u) > 8 && u[:8] == "https://")) {
		return template.URL(u), true
	}
	return "", false
}

// renderPage renders the activation/setup page ("page") or the success page ("done").
func renderPage(name, lang string, data any) ([]byte, error) {
	c := consentLanguage(lang)
	switch d := data.(type) {
	case ConsentPage:
		return execute(activationView(c, d))
	case ConsentDone:
		return execute(doneView(c, d))
	}
	return nil, fmt.Errorf("render consent page %s: unexpected data %T", name, data)
}

func activationView(c *consentText, p ConsentPage) pageView {
	v := pageView{Lang: c.tag, Page: "activate-" + purposeOr(p.Purpose)}
	switch p.Purpose {
	case PurposeAdmin:
		v.Page = "setup"
		v.Title = fmt.Sprintf(c.headAdmin, p.System, p.Name)
		v.Paras = append(v.Paras, fmt.Sprintf(c.introAdmin, p.System))
		if p.Account != "" {
			v.Paras = append(v.Paras, fmt.Sprintf(c.signInAs, p.Account))
		} else {
			v.Paras = append(v.Paras, fmt.Sprintf(c.signInAdmin, p.System))
		}
		if p.Connected != "" {
			v.Notes = append(v.Notes, fmt.Sprintf(c.connected, p.Connected))
		}
	case PurposeResource:
		v.Title = fmt.Sprintf(c.headResource, p.Name)
		v.Paras = append(v.Paras, fmt.Sprintf(c.introResource, p.Name, p.System, p.Account, p.Profile))
	default:
		v.Title = c.headUser
		v.Paras = append(v.Paras, fmt.Sprintf(c.introUser, p.System, p.Account, p.Profile))
	}
	if p.Reconnect {
		v.Title = c.headReconnect
		v.Paras = append(v.Paras, c.reconnect)
	}
	if p.Purpose != PurposeAdmin {
		switch {
		case p.Manager && p.Connected != "":
			v.Paras = append(v.Paras, fmt.Sprintf(c.signInAs, p.Connected))
		case p.Manager:
			v.Paras = append(v.Paras, fmt.Sprintf(c.signInManager, p.Account, p.System))
		default:
			v.Paras = append(v.Paras, fmt.Sprintf(c.signInAs, p.Account))
		}
	}
	if u, ok := safeURL(p.GoURL); ok {
		v.Button = &pageLink{URL: u, Text: fmt.Sprintf(c.button, p.System)}
	}
	if !p.Expires.IsZero() {
		v.Notes = append(v.Notes, fmt.Sprintf(c.expires, c.formatDate(p.Expires)))
	}
	v.Notes = append(v.Notes, fmt.Sprintf(c.privacy, p.System))
	if p.Profile != "" {
		v.Footer = fmt.Sprintf(c.footer, p.Profile)
	}
	return v
}

func purposeOr(p string) string {
	if p == "" {
		return PurposeUser
	}
	return p
}

func doneView(c *consentText, d ConsentDone) pageView {
	v := pageView{Lang: c.tag, Page: "done", OK: true, Title: c.doneHead}
	switch d.Purpose {
	case PurposeAdmin:
		v.Paras = append(v.Paras, fmt.Sprintf(c.doneAdmin, d.System, d.Account))
	case PurposeResource:
		v.Paras = append(v.Paras, fmt.Sprintf(c.doneResource, d.Name, d.System))
	default:
		v.Paras = append(v.Paras, fmt.Sprintf(c.doneUser, d.System, d.Account))
	}
	v.Paras = append(v.Paras, c.doneClose)
	if d.Profile != "" {
		v.Footer = fmt.Sprintf(c.footer, d.Profile)
	}
	return v
}

// renderError renders a failure page in the language of e.
func renderError(e *ConsentError) ([]byte, error) {
	c := consentLanguage(e.Language)
	kind := e.Kind
	if _, ok := consentKindNames[kind]; !ok {
		kind = ErrConsentInternal
	}
	v := pageView{Lang: c.tag, Page: "error-" + kind.String(), Alert: true, Title: c.errHead[kind]}
	switch {
	case kind == ErrConsentWrongAccount && e.Account != "" && e.Expected != "":
		v.Paras = append(v.Paras, fmt.Sprintf(c.wrongText, e.Account, e.Expected), fmt.Sprintf(c.wrongNext, e.Account, e.Expected))
	case kind == ErrConsentNotAdmin && e.Account != "":
		v.Paras = append(v.Paras, fmt.Sprintf(c.notAdminWho, e.Account), c.errNext[ErrConsentNotAdmin])
	default:
		if t := c.errText[kind]; t != "" {
			v.Paras = append(v.Paras, t)
		}
		if n := c.errNext[kind]; n != "" {
			v.Paras = append(v.Paras, n)
		}
	}
	if e.Detail != "" {
		v.DetailLabel, v.Detail = c.detail, clip(e.Detail, 500)
	}
	if kind == ErrConsentSetupClosed && e.Name != "" {
		v.Command = "synchronizer connect " + e.Name
	}
	if u, ok := safeURL(e.Retry); ok {
		v.Button = &pageLink{URL: u, Text: c.retry}
	}
	return execute(v)
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
