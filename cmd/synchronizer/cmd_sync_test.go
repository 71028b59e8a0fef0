package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"synchronizer/daemon/runner"
	"synchronizer/daemon/web"
)

func TestSyncCommandUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"sync"}, 2, "name a profile"},
		{[]string{"sync", "p", "l", "extra"}, 2, "name a profile"},
		{[]string{"sync", "-nope", "p"}, 2, "flag provided but not defined"},
		{[]string{"sync", "-h"}, 0, "Usage: synchronizer sync PROFILE [LINK]"},
		{[]string{"sync", "p", "-admin", "nope"}, 1, "not host:port"},
		{[]string{"sync", "p", "-admin", freeAddr(t)}, 1, "no synchronizer is listening on"},
	}
	for _, c := range cases {
		code, _, stderr := runCmd(c.args...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
}

// fakeSyncDaemon answers the sync routes with canned bodies and remembers the
// requests.
type fakeSyncDaemon struct {
	mu    sync.Mutex
	paths []string
	opts  []runner.SyncRequest
	code  int
	body  any
}

func (f *fakeSyncDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var o runner.SyncRequest
	json.Unmarshal(b, &o)
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.EscapedPath())
	f.opts = append(f.opts, o)
	code, body := f.code, f.body
	f.mu.Unlock()
	web.WriteJSON(w, code, body)
}

func TestSyncAgainstADaemon(t *testing.T) {
	t.Parallel()
	f := &fakeSyncDaemon{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	zero := map[string]int{"create": 0, "update": 0, "delete": 0}
	ok := runner.SyncResponse{Profile: "acme-365", DryRun: true, OK: true, Links: []runner.LinkSync{
		{Link: "jane", State: "active", Ran: true, OK: true, Pairs: 12, Conflicts: 1,
			Changes: map[string]map[string]int{"to_calendar": {"create": 2, "update": 0, "delete": 0}, "to_superoffice": {"create": 0, "update": 1, "delete": 0}},
			Actions: map[string][]string{
				"calendar":    {`create on calendar "Lunch" at 2025-03-01 11:00Z: new in superoffice`, `create on calendar "Review" at 2025-03-02 09:00Z: new in superoffice`},
				"superoffice": {`update on superoffice "Board" at 2025-03-03 08:00Z: changed in calendar`},
			},
			Notes: []string{"conflict on Board: the calendar's edit is newer"}},
		{Link: "room1", State: "pending_activation", Reason: "waiting for room1@acme.example to open the activation link and consent",
			ActivationURL: "https://sync.example.com/activate/abc", Pairs: 0},
		{Link: "bob", State: "error", Ran: true, Error: "calendar acme365: connection refused", Pairs: -1,
			Changes: map[string]map[string]int{"to_calendar": zero, "to_superoffice": zero}},
	}}
	ok.OK = true
	f.code, f.body = 200, ok

	code, stdout, stderr := runCmd("sync", "acme-365", "-dry-run", "-admin", addr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"acme-365/jane: dry run, 3 items would change (12 paired)",
		"  SuperOffice (1):\n    update on superoffice \"Board\"",
		"  calendar (2):\n    create on calendar \"Lunch\" at 2025-03-01 11:00Z: new in superoffice\n    create on calendar \"Review\"",
		"  conflicts: 1",
		"  note: conflict on Board",
		"acme-365/room1: not synced, the link is pending_activation: waiting for room1@acme.example",
		"  activation link: https://sync.example.com/activate/abc",
		"acme-365/bob: FAILED: calendar acme365: connection refused",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// Flags go anywhere; the link goes in the path, the options in the body.
	runCmd("sync", "-admin", addr, "acme-365", "-force-delete", "jane")
	f.mu.Lock()
	if got := f.paths[1]; got != "POST /v1/profiles/acme-365/links/jane/sync" {
		t.Errorf("path = %s", got)
	}
	if o := f.opts[0]; o.DryRun == nil || !*o.DryRun || o.ForceDelete == nil || *o.ForceDelete {
		t.Errorf("first request options = %+v", o)
	}
	if o := f.opts[1]; o.DryRun == nil || *o.DryRun || o.ForceDelete == nil || !*o.ForceDelete {
		t.Errorf("second request options = %+v", o)
	}
	f.mu.Unlock()

	cases := []struct {
		name   string
		code   int
		body   any
		exit   int
		stdout string
		stderr string
	}{
		{"a link failed", 200, runner.SyncResponse{Profile: "p", Links: []runner.LinkSync{{Link: "x", Ran: true, Error: "boom"}}}, 1, "p/x: FAILED: boom", ""},
		{"synced", 200, runner.SyncResponse{Profile: "p", OK: true, Links: []runner.LinkSync{{Link: "x", Ran: true, OK: true, Pairs: 4}}}, 0, "p/x: synced, nothing changed (4 paired)", ""},
		{"waiting for consent", 409, runner.ConflictBody{Error: "link p/x cannot sync now: it is needs_consent: revoked", State: "needs_consent", ActivationURL: "https://s/activate/z"}, 1, "",
			"synchronizer sync: link p/x cannot sync now: it is needs_consent: revoked\n  activation link: https://s/activate/z"},
		{"no link can run", 409, runner.ConflictBody{Error: "no link of profile p can sync now", Links: []runner.LinkSync{{Link: "x", State: "unlicensed", Reason: "over the cap"}}}, 1, "",
			"  p/x: unlicensed: over the cap"},
		{"unknown profile", 404, web.ErrorBody{Error: `no profile "p" in the configuration`}, 1, "", `said: no profile "p" in the configuration (HTTP 404)`},
		{"not JSON", 200, "surprise", 1, "", "not a sync result"},
	}
	for _, c := range cases {
		f.mu.Lock()
		f.code, f.body = c.code, c.body
		f.mu.Unlock()
		code, stdout, stderr := runCmd("sync", "p", "-admin", addr)
		if code != c.exit || !strings.Contains(stdout, c.stdout) || !strings.Contains(stderr, c.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", c.name, code, stdout, stderr)
		}
	}
}
