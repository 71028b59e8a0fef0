package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"synchronizer/daemon/oauth"
)

// consentCommandTimeout bounds a request to the daemon: issuing a link may send
// a mail, which has its own one-minute limit.
const consentCommandTimeout = 90 * time.Second

// cmdActivate is `synchronizer activate PROFILE LINK [-resend]`: it prints the
// link's activation URL (issuing one, and mailing it, when there is none), or
// with -resend replaces it and mails it again. The URL alone goes to stdout so a
// script can take it; what happened goes to stderr.
func cmdActivate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("activate", "PROFILE LINK [-resend] [-json] [-admin ADDR] [-config PATH]", stderr)
	resend := fs.Bool("resend", false, "issue a new activation link (the old one stops working) and mail it again")
	asJSON := fs.Bool("json", false, "print the daemon's JSON answer")
	daemon := addAdminFlags(fs)
	pos, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "synchronizer activate: name a profile and one of its links")
		fs.Usage()
		return exitUsage
	}
	profile, link := pos[0], pos[1]
	addr, err := daemon.address()
	if err != nil {
		return commandFailed(stderr, "activate", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), consentCommandTimeout)
	defer cancel()
	body, err := json.Marshal(oauth.ActivationRequest{Resend: *resend})
	if err != nil {
		return commandFailed(stderr, "activate", err)
	}
	raw, err := postAdmin(ctx, addr, "/v1/profiles/"+url.PathEscape(profile)+"/links/"+url.PathEscape(link)+"/activation", body)
	if err != nil {
		return commandFailed(stderr, "activate", err)
	}
	var res oauth.ActivationResult
	if err := json.Unmarshal(raw, &res); err != nil || res.URL == "" {
		return commandFailed(stderr, "activate", fmt.Errorf("the daemon at %s answered something that is not an activation: %s", addr, clipText(raw, 200)))
	}
	if *asJSON {
		stdout.Write(raw)
	} else {
		fmt.Fprintln(stdout, res.URL)
		fmt.Fprintf(stderr, "Activation link of %s/%s (state %s), usable once until %s.\n", profile, link, orDash(res.State), res.Expires.Local().Format("2006-01-02 15:04 MST"))
	}
	switch {
	case res.MailError != "":
		fmt.Fprintf(stderr, "The mail could not be sent: %s\nGive the link to the account owner yourself, or fix the smtp block and run this again with -resend.\n", res.MailError)
		return exitFailed
	case res.Mailed:
		fmt.Fprintf(stderr, "Mailed to %s.\n", res.MailedTo)
	case *resend:
		fmt.Fprintln(stderr, "No mail was sent (no smtp block is configured): give the link to the account owner yourself.")
	}
	return exitOK
}

// postAdmin POSTs body to the daemon's admin API and returns the answer of a
// 200, or an error that says what the daemon said.
func postAdmin(ctx context.Context, addr, path string, body []byte) ([]byte, error) {
	status, raw, err := adminPost(ctx, addr, path, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		if msg := daemonSaid(raw); msg != "" {
			return nil, fmt.Errorf("%s (HTTP %d)", msg, status)
		}
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return nil, fmt.Errorf("the synchronizer at %s does not offer %s (HTTP %d): is it older than this command?", addr, path, status)
		}
		return nil, fmt.Errorf("the synchronizer at %s answered HTTP %d", addr, status)
	}
	return raw, nil
}

func clipText(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
