package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// consentDriver plays the person in front of the browser for the demo's consents:
// it opens an activation or setup link's /go address, follows the redirects to the
// emulated provider's sign-in page, approves there as the suggested account (the
// page's own form, as a person would press its button; an emulator started with
// AutoConsent skips the page), and follows the provider back to the consent
// listener's /oauth/callback, where the daemon exchanges the code itself. Nothing
// is skipped: the daemon sees exactly what a browser would send.
type consentDriver struct {
	// consentHost is the consent listener's host:port, where the flow must end.
	consentHost string
	// emulatorHosts are the emulated providers' host:port.
	emulatorHosts map[string]bool
	timeout       time.Duration
}

// maxSignInPages bounds the provider pages one flow may pass.
const maxSignInPages = 3

// complete runs one consent flow from goURL. loginHint, when set, is the account
// that signs in if the daemon suggested none (tenant-level setups name no account;
// the emulated sign-in needs to know who approves).
func (d *consentDriver) complete(ctx context.Context, goURL, loginHint string) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	var hops []string
	client := &http.Client{
		Jar:     jar,
		Timeout: d.timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			hops = append(hops, req.URL.Host+req.URL.Path)
			if d.emulatorHosts[req.URL.Host] && loginHint != "" {
				q := req.URL.Query()
				if q.Get("client_id") != "" && q.Get("login_hint") == "" {
					q.Set("login_hint", loginHint)
					req.URL.RawQuery = q.Encode()
				}
			}
			return nil
		},
	}
	fail := func(err error) error { return fmt.Errorf("consent at %s: %w", redactPath(goURL), err) }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, goURL, nil)
	if err != nil {
		return fail(err)
	}
	resp, body, err := fetch(client, req)
	if err != nil {
		return fail(err)
	}
	for pages := 0; d.emulatorHosts[resp.Request.URL.Host] && resp.StatusCode == http.StatusOK; pages++ {
		if pages == maxSignInPages {
			return fail(fmt.Errorf("still on the sign-in page of %s after %d approvals: %s", resp.Request.URL.Host, pages, pageText(body, 300)))
		}
		form, ok := approveForm(body, resp.Request.URL, loginHint)
		if !ok {
			return fail(fmt.Errorf("the page at %s%s has no form to approve: %s", resp.Request.URL.Host, resp.Request.URL.Path, pageText(body, 300)))
		}
		hops = append(hops, "approve at "+form.action.Host+form.action.Path)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, form.action.String(), strings.NewReader(form.values.Encode()))
		if err != nil {
			return fail(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, body, err = fetch(client, req); err != nil {
			return fail(err)
		}
	}
	final := resp.Request.URL
	if final.Host != d.consentHost || final.Path != "/oauth/callback" || resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("ended at %s%s with HTTP %d (through %s): %s",
			final.Host, final.Path, resp.StatusCode, strings.Join(hops, " -> "), pageText(body, 300)))
	}
	return nil
}

// fetch does req and reads the answer's body (up to 256 KiB).
func fetch(client *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	return resp, body, err
}

// signInForm is a sign-in page's form filled in to approve.
type signInForm struct {
	action *url.URL
	values url.Values
}

var (
	formPattern   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputPattern  = regexp.MustCompile(`(?i)<input\b[^>]*>`)
	buttonPattern = regexp.MustCompile(`(?i)<button\b[^>]*>`)
	attrPattern   = regexp.MustCompile(`(?i)\b([a-z_:-]+)\s*=\s*"([^"]*)"`)
)

func attrs(tag string) map[string]string {
	out := map[string]string{}
	for _, m := range attrPattern.FindAllStringSubmatch(tag, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return out
}

// approveForm reads the first form of a sign-in page: its hidden fields, the
// account field (filled with hint when the page left it empty) and the button
// that approves ("approve" or "yes").
func approveForm(page []byte, base *url.URL, hint string) (signInForm, bool) {
	m := formPattern.FindSubmatch(page)
	if m == nil {
		return signInForm{}, false
	}
	action := base
	if a := attrs(string(m[1]))["action"]; a != "" {
		u, err := base.Parse(a)
		if err != nil {
			return signInForm{}, false
		}
		action = u
	}
	values := url.Values{}
	for _, tag := range inputPattern.FindAll(m[2], -1) {
		a := attrs(string(tag))
		name := a["name"]
		if name == "" {
			continue
		}
		v, typ := a["value"], strings.ToLower(a["type"])
		switch {
		case typ == "checkbox" || typ == "radio":
			if !strings.Contains(strings.ToLower(string(tag)), " checked") {
				continue // a browser sends only what is ticked
			}
		case v == "" && typ != "hidden":
			v = hint
		}
		values.Add(name, v)
	}
	approved := false
	for _, tag := range buttonPattern.FindAll(m[2], -1) {
		a := attrs(string(tag))
		if v := strings.ToLower(a["value"]); a["name"] != "" && (v == "approve" || v == "yes") {
			values.Set(a["name"], a["value"])
			approved = true
			break
		}
	}
	return signInForm{action: action, values: values}, approved
}

// redactPath keeps an activation or setup URL's route but not its secret token.
func redactPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an invalid URL"
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) >= 2 && parts[0] == "activate" {
		parts[1] = "…"
	}
	return u.Scheme + "://" + u.Host + "/" + strings.Join(parts, "/")
}

var (
	tagPattern   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	spacePattern = regexp.MustCompile(`\s+`)
)

// pageText is the visible text of an HTML page, shortened to max runes.
func pageText(b []byte, max int) string {
	s := html.UnescapeString(tagPattern.ReplaceAllString(string(b), " "))
	s = strings.TrimSpace(spacePattern.ReplaceAllString(s, " "))
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}
