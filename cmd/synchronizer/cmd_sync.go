package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"synchronizer/daemon/runner"
)

// syncTimeout bounds a sync request: the daemon answers when the runs are done.
const syncTimeout = 15 * time.Minute

func cmdSync(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sync", "PROFILE [LINK] [-dry-run] [-force-delete] [-admin ADDR] [-config PATH]", stderr)
	dryRun := fs.Bool("dry-run", false, "list what would change on each side without writing anything")
	forceDelete := fs.Bool("force-delete", false, "lift the mass-delete guard for this run (deletes what vanished on the other side)")
	daemon := addAdminFlags(fs)
	pos, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
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
	addr, err := daemon.address()
	if err != nil {
		return commandFailed(stderr, "sync", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	resp, conflict, err := postSync(ctx, addr, profile, link, runner.SyncRequest{DryRun: dryRun, ForceDelete: forceDelete})
	if err != nil {
		return commandFailed(stderr, "sync", err)
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
	status, raw, err := adminPost(ctx, addr, path, body)
	if err != nil {
		return nil, nil, err
	}
	switch status {
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
	return nil, nil, refusal(addr, status, raw)
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
