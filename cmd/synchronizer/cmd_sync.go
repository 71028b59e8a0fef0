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
	"strings"
	"syscall"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/runner"
	"synchronizer/daemon/web"
)

// syncTimeout bounds a sync request: the daemon answers when the runs are done.
const syncTimeout = 15 * time.Minute

func cmdSync(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sync", "PROFILE [LINK] [-dry-run] [-force-delete] [-admin ADDR] [-config PATH]", stderr)
	dryRun := fs.Bool("dry-run", false, "list what would change on each side without writing anything")
	forceDelete := fs.Bool("force-delete", false, "lift the mass-delete guard for this run (deletes what vanished on the other side)")
	admin := fs.String("admin", "", "admin address of the running daemon (default: the config's http.admin_address, else "+config.DefaultAdminAddress+")")
	path := fs.String("config", "", "configuration to take http.admin_address from")
	// Flags may come before, between or after PROFILE and LINK.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(stderr, "synchronizer sync: name a profile, and optionally one of its links")
		fs.Usage()
		return exitUsage
	}
	profile, link := pos[0], ""
	if len(pos) == 2 {
		link = pos[1]
	}
	addr, err := adminAddress(*admin, *path)
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer sync: %v\n", err)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	resp, conflict, err := postSync(ctx, addr, profile, link, runner.SyncRequest{DryRun: dryRun, ForceDelete: forceDelete})
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer sync: %v\n", err)
		return exitFailed
	}
	if conflict != nil {
		renderConflict(stderr, profile, conflict)
		return exitFailed
	}
	renderSync(stdout, resp)
	if !resp.OK {
		return exitFailed
	}
	return exitOK
}

// postSync asks the daemon to sync; a 409 comes back as the conflict body.
func postSync(ctx context.Context, addr, profile, link string, opts runner.SyncRequest) (*runner.SyncResponse, *runner.ConflictBody, error) {
	path := "/v1/profiles/" + url.PathEscape(profile)
	if link != "" {
		path += "/links/" + url.PathEscape(link)
	}
	path += "/sync"
	body, _ := json.Marshal(opts) // two booleans always marshal
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil, fmt.Errorf("no synchronizer is listening on %s: is it running (systemctl status synchronizer), and is that its admin_address?", addr)
		}
		return nil, nil, fmt.Errorf("cannot reach the synchronizer at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer from %s: %w", addr, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var out runner.SyncResponse
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, nil, fmt.Errorf("the synchronizer at %s answered something that is not a sync result: %v", addr, err)
		}
		return &out, nil, nil
	case http.StatusConflict:
		var c runner.ConflictBody
		if err := json.Unmarshal(raw, &c); err == nil && c.Error != "" {
			return nil, &c, nil
		}
	}
	var e web.ErrorBody
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return nil, nil, fmt.Errorf("the synchronizer at %s said: %s (HTTP %d)", addr, e.Error, resp.StatusCode)
	}
	return nil, nil, fmt.Errorf("the synchronizer at %s answered HTTP %d", addr, resp.StatusCode)
}

// sideNames are the sides as a person reads them, in the order they are listed.
var sideNames = []struct{ key, name string }{{"superoffice", "SuperOffice"}, {"calendar", "calendar"}}

// renderSync prints what changed (or would change) per link and side.
func renderSync(w io.Writer, r *runner.SyncResponse) {
	for i, l := range r.Links {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := r.Profile + "/" + l.Link
		switch {
		case !l.Ran:
			fmt.Fprintf(w, "%s: not synced, the link is %s", name, l.State)
			if l.Reason != "" {
				fmt.Fprintf(w, ": %s", l.Reason)
			}
			fmt.Fprintln(w)
			if l.ActivationURL != "" {
				fmt.Fprintf(w, "  activation link: %s\n", l.ActivationURL)
			}
			continue
		case !l.OK:
			fmt.Fprintf(w, "%s: FAILED: %s\n", name, l.Error)
		case r.DryRun:
			fmt.Fprintf(w, "%s: dry run, %s%s\n", name, changeCount(l.CountChanges(), "would change"), pairsNote(l.Pairs))
		default:
			fmt.Fprintf(w, "%s: synced, %s%s\n", name, changeCount(l.CountChanges(), "changed"), pairsNote(l.Pairs))
		}
		for _, s := range sideNames {
			acts := l.Actions[s.key]
			more := l.MoreActions[s.key]
			if len(acts) == 0 && more == 0 {
				continue
			}
			fmt.Fprintf(w, "  %s (%d):\n", s.name, len(acts)+more)
			for _, a := range acts {
				fmt.Fprintf(w, "    %s\n", a)
			}
			if more > 0 {
				fmt.Fprintf(w, "    ... and %d more\n", more)
			}
		}
		if l.Conflicts > 0 {
			fmt.Fprintf(w, "  conflicts: %d\n", l.Conflicts)
		}
		for _, e := range l.ItemErrors {
			fmt.Fprintf(w, "  not written: %s\n", e)
		}
		for _, n := range l.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	if len(r.Links) == 0 {
		fmt.Fprintf(w, "profile %s has no links\n", r.Profile)
	}
}

func changeCount(n int, verb string) string {
	switch n {
	case 0:
		return "nothing " + verb
	case 1:
		return "1 item " + verb
	}
	return fmt.Sprintf("%d items %s", n, verb)
}

func pairsNote(n int) string {
	if n < 0 {
		return ""
	}
	return fmt.Sprintf(" (%d paired)", n)
}

// renderConflict explains why nothing could run.
func renderConflict(w io.Writer, profile string, c *runner.ConflictBody) {
	fmt.Fprintf(w, "synchronizer sync: %s\n", c.Error)
	if c.ActivationURL != "" {
		fmt.Fprintf(w, "  activation link: %s\n", c.ActivationURL)
	}
	for _, l := range c.Links {
		line := fmt.Sprintf("  %s/%s: %s", profile, l.Link, l.State)
		if l.Reason != "" {
			line += ": " + l.Reason
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if l.ActivationURL != "" {
			fmt.Fprintf(w, "    activation link: %s\n", l.ActivationURL)
		}
	}
}
