package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/oauth"
	"synchronizer/daemon/web"
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
	admin := fs.String("admin", "", "admin address of the running daemon (default: the config's http.admin_address, else "+config.DefaultAdminAddress+")")
	path := fs.String("config", "", "configuration to take http.admin_address from")
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
	addr, err := adminAddress(*admin, *path)
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer activate: %v\n", err)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(context.Background(), consentCommandTimeout)
	defer cancel()
	body, err := json.Marshal(oauth.ActivationRequest{Resend: *resend})
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer activate: %v\n", err)
		return exitFailed
	}
	raw, err := postAdmin(ctx, addr, "/v1/profiles/"+url.PathEscape(profile)+"/links/"+url.PathEscape(link)+"/activation", body)
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer activate: %v\n", err)
		return exitFailed
	}
	var res oauth.ActivationResult
	if err := json.Unmarshal(raw, &res); err != nil || res.URL == "" {
		fmt.Fprintf(stderr, "synchronizer activate: the daemon at %s answered something that is not an activation: %s\n", addr, clipText(raw, 200))
		return exitFailed
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

// parseInterspersed parses flags that may come before, between or after the
// positional arguments. code is -1 to go on, else the exit code.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos []string, code int) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK
			}
			return nil, exitUsage
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// postAdmin POSTs body to the daemon's admin API and returns the answer of a
// 200, or an error that says what the daemon said.
func postAdmin(ctx context.Context, addr, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no synchronizer is listening on %s: is it running (systemctl status synchronizer), and is that its admin_address?", addr)
		}
		return nil, fmt.Errorf("cannot reach the synchronizer at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e web.ErrorBody
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil, fmt.Errorf("the synchronizer at %s does not offer %s (HTTP %d): is it older than this command?", addr, path, resp.StatusCode)
		}
		return nil, fmt.Errorf("the synchronizer at %s answered HTTP %d", addr, resp.StatusCode)
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
