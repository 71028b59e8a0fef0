package bench

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

// consenter plays the person in front of the browser: it opens an activation or
// setup page's button (/go), follows the redirects through the emulated
// provider's sign-in page, which approves at once (emulate -auto-consent), and
// back to the consent listener's /oauth/callback, where the daemon exchanges the
// code itself.
type consenter struct {
	timeout time.Duration
	// consentHost is the consent listener's host:port, where every flow must end.
	consentHost string
}

// complete runs one flow from a page URL (the /go suffix is added). hint, when
// not empty, is sent as login_hint: setups name no account of their own.
func (c *consenter) complete(ctx context.Context, pageURL, hint string) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	var hops []string
	hc := &http.Client{
		Jar:     jar,
		Timeout: c.timeout,
		// No proxy: every hop is on loopback.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			hops = append(hops, req.URL.Host+req.URL.Path)
			return nil
		},
	}
	goURL := strings.TrimRight(pageURL, "/")
	if !strings.HasSuffix(goURL, "/go") {
		goURL += "/go"
	}
	if hint != "" {
		goURL += "?" + url.Values{"login_hint": {hint}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, goURL, nil)
	if err != nil {
		return fmt.Errorf("consent at %s: %w", redactURL(goURL), err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("consent at %s: %w", redactURL(goURL), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	end := resp.Request.URL
	if end.Host != c.consentHost || end.Path != "/oauth/callback" || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("consent at %s ended at %s%s with HTTP %d (through %s): %s", redactURL(goURL),
			end.Host, end.Path, resp.StatusCode, strings.Join(hops, " -> "), pageText(body, 200))
	}
	return nil
}

var (
	tagPattern   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	spacePattern = regexp.MustCompile(`\s+`)
)

// pageText is the visible text of an HTML page, shortened to n runes.
func pageText(b []byte, n int) string {
	s := html.UnescapeString(tagPattern.ReplaceAllString(string(b), " "))
	return shorten(strings.TrimSpace(spacePattern.ReplaceAllString(s, " ")), n)
}
