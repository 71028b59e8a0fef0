package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"synchronizer/cmd/synchronizer/internal/emulators"
	"synchronizer/daemon/state"
)

// oneLinkLayout is one profile p linking USER1 with user1@m365.test.
func oneLinkLayout() emulators.Layout { return linksLayout(1) }

// linksLayout is one profile p linking USERi with useri@m365.test, i = 1..n
// (links user1..userN).
func linksLayout(n int) emulators.Layout {
	p := emulators.Profile{Name: "p", Calendar: "emu365"}
	for i := 1; i <= n; i++ {
		name := "user" + strconv.Itoa(i)
		if i == 1 {
			name = "jane"
		}
		p.Links = append(p.Links, emulators.Link{Name: name, Kind: "user", Associate: emulators.SuperOfficeUser(i), Mailbox: emulators.M365User(i)})
	}
	return emulators.Layout{Profiles: []emulators.Profile{p}}
}

// envInt reads a positive integer from the environment.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// syncUntilQuiet runs `synchronizer sync p` until a run changes nothing on
// any link.
func syncUntilQuiet(t *testing.T, d *daemon, admin string, links int) string {
	t.Helper()
	var last string
	for range 10 {
		code, stdout, stderr := runCmd("sync", "p", "-admin", admin)
		last = stdout + stderr
		if code == 0 && strings.Count(stdout, "nothing changed") == links {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the links did not settle; last answer:\n%s\nlog:\n%s", last, d.log())
	return ""
}

// perMailbox keeps each mailbox's share of the crash test within the emulated
// Graph budget of 10,000 requests per mailbox and 10 minutes, as the real
// service's is: more items are spread over more links.
const perMailbox = 2500

// TestDaemonSurvivesSIGKILLDuringInitialSync is the crash test of the sync
// engine with the real daemon: N appointments over one link per 2,500, the
// daemon SIGKILLed at random moments of the initial sync and started again,
// until one run completes. Both sides must end with exactly N items and the
// links with N pairs. SYNC_CRASH_ITEMS (default 300), SYNC_CRASH_KILLS (default
// 4) and SYNC_CRASH_SEED (replay) tune it.
//
// Half of the items start in the diaries and half in the mailboxes, so the
// crashes hit creates on both sides. The superoffice provider stores an
// appointment and its correlation id (a foreign key) in two requests; a crash
// between the two leaves an untagged appointment, which the next run adopts
// (the test logs how many) instead of creating another.
// SYNC_CRASH_BOTH_SIDES=0 starts every item in the diaries.
func TestDaemonSurvivesSIGKILLDuringInitialSync(t *testing.T) {
	t.Parallel()
	n := envInt(t, "SYNC_CRASH_ITEMS", 300)
	kills := envInt(t, "SYNC_CRASH_KILLS", 4)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SYNC_CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SYNC_CRASH_SEED=%q", v)
		}
		seed = s
	}
	bothSides := os.Getenv("SYNC_CRASH_BOTH_SIDES") != "0"
	links := (n + perMailbox - 1) / perMailbox
	t.Logf("crash test: %d items over %d links (both sides seeded: %v), %d kills, seed %d (replay with SYNC_CRASH_SEED=%d)", n, links, bothSides, kills, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	layout := linksLayout(links)
	s := newSyncSetup(t, links, layout, "")
	var ids []state.LinkID
	for _, l := range layout.Profiles[0].Links {
		ids = append(ids, state.LinkID{Profile: "p", Link: l.Name})
	}
	s.storeTokens(t, ids...)
	// share(i) is link i's part of n.
	share := func(i int) int { return n/links + btoi(i < n%links) }
	// inDiary(k) of a link's k items start in the diary, the rest in the mailbox.
	inDiary := func(k int) int { return k }
	if bothSides {
		inDiary = func(k int) int { return k / 2 }
	}
	seedStarted := time.Now()
	for i := range links {
		k := share(i)
		s.seedDiary(t, emulators.SuperOfficeUser(i+1), inDiary(k), "diary")
		seedMailboxGently(t, s, emulators.M365User(i+1), k-inDiary(k), "mailbox")
	}
	t.Logf("seeded %d items in %v", n, time.Since(seedStarted).Round(time.Millisecond))

	// Progress is the number of items written by sync on either side.
	writes := func() int {
		total := s.cl.SuperOffice.Stats().Appointments
		for route, c := range s.cl.M365.Stats().Requests {
			if strings.HasPrefix(route, "POST ") && strings.HasSuffix(route, "/events") {
				total += c
			}
		}
		return total
	}
	base := writes()
	targets := make([]int, kills)
	for i := range targets {
		targets[i] = rng.IntN(n)
	}
	slices.Sort(targets)

	// On failure, what each process said about the writes it found unfinished.
	var started []*daemon
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, d := range started {
			for _, line := range strings.Split(d.log(), "\n") {
				if strings.Contains(line, "pending") || strings.Contains(line, "untagged") || strings.Contains(line, "level=ERROR") {
					t.Logf("process %d: %s", i+1, line)
				}
			}
		}
	})
	start := time.Now()
	for k, target := range targets {
		d := startDaemon(t, "run", "-config", s.dir)
		started = append(started, d)
		if rng.IntN(4) == 0 {
			// Killed while starting: opening the store, starting plugins,
			// settling what the last crash left.
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		} else {
			waitReady(t, d, s.admin)
			go func() {
				c := http.Client{Timeout: 10 * time.Minute}
				if resp, err := c.Post("http://"+s.admin+"/v1/profiles/p/sync", "application/json", nil); err == nil {
					resp.Body.Close()
				}
			}()
			stalled, last := time.Now(), writes()
			for writes()-base < target && time.Since(stalled) < 10*time.Second {
				if w := writes(); w != last {
					stalled, last = time.Now(), w
				}
				select {
				case <-d.done:
					t.Fatalf("the daemon exited by itself; log:\n%s", d.log())
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		d.cmd.Process.Signal(syscall.SIGKILL)
		d.wait(t, 30*time.Second)
		t.Logf("kill %d: %d of about %d writes done", k+1, writes()-base, n)
	}

	d := startDaemon(t, "run", "-config", s.dir)
	started = append(started, d)
	waitReady(t, d, s.admin)
	syncUntilQuiet(t, d, s.admin, links)
	t.Logf("settled %v after the first start, %d writes", time.Since(start).Round(time.Millisecond), writes()-base)

	total, pairs := 0, 0
	for i := range links {
		k := share(i)
		so, mailbox := emulators.SuperOfficeUser(i+1), emulators.M365User(i+1)
		if got := s.diaryCount(t, so); got != k {
			t.Errorf("the diary of %s holds %d appointments, want %d", so, got, k)
		}
		subjects := s.graphSubjects(t, mailbox)
		seen := map[string]int{}
		for _, sub := range subjects {
			seen[sub]++
		}
		for sub, c := range seen {
			if c > 1 {
				t.Errorf("%q is in %s %d times", sub, mailbox, c)
			}
		}
		for j := range inDiary(k) {
			if seen["diary-"+strconv.Itoa(j)] != 1 {
				t.Errorf("diary-%d is missing from %s", j, mailbox)
				break
			}
		}
		if len(subjects) != k {
			t.Errorf("%s holds %d events, want %d", mailbox, len(subjects), k)
		}
		total += len(subjects)
		l := linkStatus(t, s.admin, "p", ids[i].Link)
		if l.State != "active" || l.Items != k {
			t.Errorf("link = %+v, want active with %d pairs", l, k)
		}
		pairs += l.Items
	}
	t.Logf("%d pairs, %d events in the mailboxes", pairs, total)
	adopted := 0
	for _, d := range started {
		adopted += strings.Count(d.log(), "untagged copy of a pending create adopted")
	}
	t.Logf("%d interrupted creates adopted", adopted)
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.wait(t, 30*time.Second)
}

// seedMailboxGently writes n single events in a Microsoft 365 mailbox as
// seedMailbox does, within the four concurrent requests Graph allows per
// mailbox, and writes again what was throttled.
func seedMailboxGently(t *testing.T, s *syncSetup, mailbox string, n int, prefix string) {
	t.Helper()
	info := s.cl.Info()
	parallel(t, 3, n, func(ctx context.Context, i int) error {
		start := seedStart(i).Add(30 * time.Minute)
		body := map[string]any{
			"subject": fmt.Sprintf("%s-%d", prefix, i),
			"body":    map[string]any{"contentType": "text", "content": "written in Microsoft 365"},
			"start":   map[string]any{"dateTime": start.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
			"end":     map[string]any{"dateTime": start.Add(time.Hour).Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
		}
		var err error
		for try := 0; try < 50; try++ {
			err = apiPost(ctx, info.M365.URL+"/users/"+url.PathEscape(mailbox)+"/events", info.M365.Token, body)
			var throttled *emulators.APIError
			if !errors.As(err, &throttled) || throttled.Status != http.StatusTooManyRequests {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", mailbox, err)
		}
		return nil
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRunRecoversAfterPluginCrash kills the calendar's plugin process between
// runs: the plugin host starts a fresh one, the link syncs again, and the restart
// is counted.
func TestRunRecoversAfterPluginCrash(t *testing.T) {
	t.Parallel()
	s := newSyncSetup(t, 1, oneLinkLayout(), "")
	s.storeTokens(t, state.LinkID{Profile: "p", Link: "jane"})
	s.seedDiary(t, "USER1", 3, "diary")
	d := startDaemon(t, "run", "-config", s.dir)
	waitReady(t, d, s.admin)
	// The scheduler may have run the new link before this sync: either way the
	// three items are paired once it is done.
	if code, stdout, stderr := runCmd("sync", "p", "jane", "-admin", s.admin); code != 0 || !strings.Contains(stdout, "(3 paired)") {
		t.Fatalf("first sync: %d %s%s\n%s", code, stdout, stderr, d.log())
	}
	if got := len(s.graphSubjects(t, emulators.M365User(1))); got != 3 {
		t.Fatalf("after the first sync the mailbox holds %d events, want 3", got)
	}
	if err := syscall.Kill(pluginPID(t, d.cmd.Process.Pid, "m365"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.seedDiary(t, "USER1", 1, "after")
	var out string
	ok := false
	for range 20 {
		// The new item may be carried by this sync or, with push on, by the run a
		// notification woke first: either way a run after the crash succeeded.
		code, stdout, stderr := runCmd("sync", "p", "jane", "-admin", s.admin)
		out += stdout + stderr
		if code == 0 && slices.Contains(s.graphSubjects(t, emulators.M365User(1)), "after-0") {
			ok = true
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !ok {
		t.Fatalf("no run succeeded after the plugin crash:\n%s\nlog:\n%s", out, d.log())
	}
	if got := len(s.graphSubjects(t, emulators.M365User(1))); got != 4 {
		t.Errorf("the mailbox holds %d events, want 4", got)
	}
	if l := linkStatus(t, s.admin, "p", "jane"); l.State != "active" || l.Items != 4 {
		t.Errorf("link = %+v", l)
	}
	_, scrape := httpGet("http://" + s.admin + "/metrics")
	if got := metricValue(scrape, `synchronizer_plugin_restarts_total{plugin="m365"}`); got != 1 {
		t.Errorf("plugin restarts = %v, want 1", got)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if code := d.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM\n%s", code, d.log())
	}
}
