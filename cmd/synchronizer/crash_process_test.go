package main

import (
	"math/rand/v2"
	"net/http"
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
func oneLinkLayout() emulators.Layout {
	return emulators.Layout{Profiles: []emulators.Profile{{Name: "p", Calendar: "emu365", Links: []emulators.Link{
		{Name: "jane", Kind: "user", Associate: emulators.SuperOfficeUser(1), Mailbox: emulators.M365User(1)},
	}}}}
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

// syncUntilQuiet runs `synchronizer sync p jane` until a run changes nothing.
func syncUntilQuiet(t *testing.T, d *daemon, admin string) string {
	t.Helper()
	var last string
	for range 10 {
		code, stdout, stderr := runCmd("sync", "p", "jane", "-admin", admin)
		last = stdout + stderr
		if code == 0 && strings.Contains(stdout, "nothing changed") {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the link did not settle; last answer:\n%s\nlog:\n%s", last, d.log())
	return ""
}

// TestDaemonSurvivesSIGKILLDuringInitialSync is the crash test of the sync
// engine with the real daemon: N appointments (half in the diary, half in the
// mailbox), the daemon SIGKILLed at random moments of the initial sync and
// started again, until one run completes. Both sides must end with exactly N
// items and the link with N pairs. SYNC_CRASH_ITEMS (default 300),
// SYNC_CRASH_KILLS (default 4) and SYNC_CRASH_SEED (replay) tune it.
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
	t.Logf("crash test: %d items, %d kills, seed %d (replay with SYNC_CRASH_SEED=%d)", n, kills, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	s := newSyncSetup(t, 1, oneLinkLayout(), "")
	s.storeTokens(t, state.LinkID{Profile: "p", Link: "jane"})
	mailbox := emulators.M365User(1)
	seedStarted := time.Now()
	s.seedDiary(t, "USER1", n/2, "diary")
	s.seedMailbox(t, mailbox, n-n/2, "mailbox")
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

	start := time.Now()
	for k, target := range targets {
		d := startDaemon(t, "run", "-config", s.dir)
		if rng.IntN(4) == 0 {
			// Killed while starting: opening the store, starting plugins,
			// settling what the last crash left.
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		} else {
			waitReady(t, d, s.admin)
			go func() {
				c := http.Client{Timeout: 10 * time.Minute}
				if resp, err := c.Post("http://"+s.admin+"/v1/profiles/p/links/jane/sync", "application/json", nil); err == nil {
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
	waitReady(t, d, s.admin)
	syncUntilQuiet(t, d, s.admin)
	t.Logf("settled %v after the first start, %d writes", time.Since(start).Round(time.Millisecond), writes()-base)

	if got := s.diaryCount(t, "USER1"); got != n {
		t.Errorf("the diary holds %d appointments, want %d", got, n)
	}
	subjects := s.graphSubjects(t, mailbox)
	seen := map[string]int{}
	for _, sub := range subjects {
		seen[sub]++
	}
	for sub, c := range seen {
		if c > 1 {
			t.Errorf("%q is in the mailbox %d times", sub, c)
		}
	}
	for i := range n / 2 {
		if seen["diary-"+strconv.Itoa(i)] != 1 {
			t.Errorf("diary-%d is missing from the mailbox", i)
			break
		}
	}
	if len(subjects) != n {
		t.Errorf("the mailbox holds %d events, want %d", len(subjects), n)
	}
	if l := linkStatus(t, s.admin, "p", "jane"); l.State != "active" || l.Items != n {
		t.Errorf("link = %+v, want active with %d pairs", l, n)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.wait(t, 30*time.Second)
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
	if code, stdout, stderr := runCmd("sync", "p", "jane", "-admin", s.admin); code != 0 || !strings.Contains(stdout, "3 items changed") {
		t.Fatalf("first sync: %d %s%s\n%s", code, stdout, stderr, d.log())
	}
	if err := syscall.Kill(pluginPID(t, d.cmd.Process.Pid, "m365"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.seedDiary(t, "USER1", 1, "after")
	var out string
	ok := false
	for range 20 {
		code, stdout, stderr := runCmd("sync", "p", "jane", "-admin", s.admin)
		out += stdout + stderr
		if code == 0 && strings.Contains(stdout, `create on calendar "after-0"`) {
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
