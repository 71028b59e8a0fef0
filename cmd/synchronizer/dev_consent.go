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
// it opens an activation or setup link's /go address and follows the redirects
// through the emulated provider's sign-in page (which approves at once) back to the
// consent listener's /oauth/callback, where the daemon exchanges the code itself.
// Nothing is skipped: the daemon sees exactly what a browser would send.
type consentDriver struct {
	// consentHost is the consent listener's host:port, where the flow must end.
	consentHost string
	// emulatorHosts are the emulated providers' host:port.
	emulatorHosts map[string]bool
	timeout       time.Duration
}

// complete runs one consent flow from goURL. loginHint, when set, is added to the
// provider's authorize request if the daemon did not send one (tenant-level setups
// name no account; the emulated sign-in needs to know who approves).
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, goURL, nil)
	if err != nil {
		return fmt.Errorf("consent at %s: %w", redactPath(goURL), err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("consent at %s: %w", redactPath(goURL), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	final := resp.Request.URL
	if final.Host != d.consentHost || final.Path != "/oauth/callback" || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("consent at %s ended at %s%s with HTTP %d (through %s): %s", redactPath(goURL),
			final.Host, final.Path, resp.StatusCode, strings.Join(hops, " -> "), pageText(body, 300))
	}
	return nil
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
