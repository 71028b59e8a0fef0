package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"synchronizer/cmd/synchronizer/internal/emulators"
	"synchronizer/daemon/state"
	"synchronizer/daemon/web"
)

// syncSetup is a daemon configuration pointed at emulators that live in the
// test process, so their data outlives the daemon.
type syncSetup struct {
	cl      *emulators.Cluster
	ids     map[string]int
	dir     string // the configuration directory
	dataDir string
	keyFile string
	admin   string
}

// newSyncSetup starts the emulators with users USER1..n and writes a
// configuration directory: the emulators' blocks plus extra (more HCL).
func newSyncSetup(t *testing.T, users int, layout emulators.Layout, extra string) *syncSetup {
	t.Helper()
	cl, err := emulators.Start(emulators.Options{AutoConsent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.Close(ctx)
	})
	ids, err := cl.Populate(users, 0)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s := &syncSetup{cl: cl, ids: ids, dir: filepath.Join(root, "conf"), dataDir: filepath.Join(root, "data"),
		keyFile: filepath.Join(root, "key"), admin: freeAddr(t)}
	layout.Tenant, layout.M365, layout.Google = "emu", "emu365", "emugw"
	err = cl.WriteConfig(emulators.ConfigFile{
		Path: filepath.Join(s.dir, "10-emulators.hcl"), Layout: layout,
		DataDir: s.dataDir, KeyFile: s.keyFile, ConsentAddress: freeAddr(t), AdminAddress: s.admin,
		UserLicenses: 20, Interval: "1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	if extra != "" {
		if err := os.WriteFile(filepath.Join(s.dir, "20-extra.hcl"), []byte(extra), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// storeTokens puts the emulators' admin tokens in place of consent: the tenant's
// connection and each link's calendar token.
func (s *syncSetup) storeTokens(t *testing.T, links ...state.LinkID) {
	t.Helper()
	cipher, err := state.LoadKey(s.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(s.dataDir, state.Options{Cipher: cipher})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	info := s.cl.Info()
	far := time.Now().Add(24 * time.Hour)
	if err := st.PutToken(ctx, state.ConnectionToken("emu"), state.Token{AccessToken: info.SuperOffice.Token, TokenType: "Bearer", Expiry: far}); err != nil {
		t.Fatal(err)
	}
	for _, id := range links {
		if err := st.PutToken(ctx, state.LinkToken(id), state.Token{AccessToken: info.M365.Token, TokenType: "Bearer", Expiry: far}); err != nil {
			t.Fatal(err)
		}
	}
}

// apiPost writes one item through a service's own API, as a user's client would.
func apiPost(ctx context.Context, target, token string, body any) error {
	return emulators.PostJSON(ctx, http.DefaultClient, target, token, body)
}

// seedDiary writes n single appointments in an associate's diary, titled
// prefix-0..n-1, one hour each from tomorrow on.
func (s *syncSetup) seedDiary(t *testing.T, associate string, n int, prefix string) {
	t.Helper()
	info := s.cl.Info()
	loc := s.cl.SuperOffice.Location()
	s.parallel(t, n, func(ctx context.Context, i int) error {
		start := seedStart(i).In(loc)
		return apiPost(ctx, info.SuperOffice.URL+"/v1/Appointment", info.SuperOffice.Token, map[string]any{
			"Associate": map[string]any{"AssociateId": s.ids[associate]},
			"Title":     fmt.Sprintf("%s-%d", prefix, i), "Description": "written in SuperOffice",
			"StartDate": start.Format("2006-01-02T15:04:05"), "EndDate": start.Add(time.Hour).Format("2006-01-02T15:04:05"),
		})
	})
}

// seedMailbox writes n single events in a Microsoft 365 mailbox.
func (s *syncSetup) seedMailbox(t *testing.T, mailbox string, n int, prefix string) {
	t.Helper()
	info := s.cl.Info()
	s.parallel(t, n, func(ctx context.Context, i int) error {
		start := seedStart(i).Add(30 * time.Minute)
		return apiPost(ctx, info.M365.URL+"/users/"+url.PathEscape(mailbox)+"/events", info.M365.Token, map[string]any{
			"subject": fmt.Sprintf("%s-%d", prefix, i),
			"body":    map[string]any{"contentType": "text", "content": "written in Microsoft 365"},
			"start":   map[string]any{"dateTime": start.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
			"end":     map[string]any{"dateTime": start.Add(time.Hour).Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
		})
	})
}

// seedStart spreads items over the next months, inside the default window.
func seedStart(i int) time.Time {
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1+i/10)
	return day.Add(time.Duration(7+i%10) * time.Hour)
}

// parallel calls fn for 0..n-1 from eight goroutines and fails the test with
// one of the errors.
func (s *syncSetup) parallel(t *testing.T, n int, fn func(ctx context.Context, i int) error) {
	t.Helper()
	parallel(t, 8, n, fn)
}

// parallel calls fn for 0..n-1 from workers goroutines, within five minutes,
// and fails the test with one of the errors.
func parallel(t *testing.T, workers, n int, fn func(ctx context.Context, i int) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("seed: %v", err)
	default:
	}
}

// graphSubjects lists the subjects of every event of a mailbox.
func (s *syncSetup) graphSubjects(t *testing.T, mailbox string) []string {
	t.Helper()
	info := s.cl.Info()
	next := info.M365.URL + "/users/" + url.PathEscape(mailbox) + "/events?$select=subject&$top=500"
	var out []string
	for pages := 0; next != "" && pages < 1000; pages++ {
		var page struct {
			Value []struct {
				Subject string `json:"subject"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		getJSON(t, next, info.M365.Token, &page)
		for _, v := range page.Value {
			out = append(out, v.Subject)
		}
		next = page.Next
	}
	return out
}

// diaryCount counts the appointments of an associate's diary.
func (s *syncSetup) diaryCount(t *testing.T, associate string) int {
	t.Helper()
	info := s.cl.Info()
	const page = 500
	n := 0
	for skip := 0; skip < 1_000_000; skip += page {
		q := url.Values{"$select": {"appointmentId"}, "$filter": {fmt.Sprintf("associateId associateIsOneOf (%d)", s.ids[associate])},
			"$orderBy": {"appointmentId"}, "$top": {strconv.Itoa(page)}, "$skip": {strconv.Itoa(skip)}}
		var resp struct {
			Value []map[string]any `json:"value"`
		}
		getJSON(t, info.SuperOffice.URL+"/v1/Appointment?"+q.Encode(), info.SuperOffice.Token, &resp)
		n += len(resp.Value)
		if len(resp.Value) < page {
			break
		}
	}
	return n
}

func getJSON(t *testing.T, target, token string, v any) {
	t.Helper()
	if err := emulators.GetJSON(context.Background(), http.DefaultClient, target, token, v); err != nil {
		t.Fatal(err)
	}
}

// linkStatus reads one link from a daemon's /v1/status.
func linkStatus(t *testing.T, admin, profile, link string) web.LinkStatus {
	t.Helper()
	code, body := httpGet("http://" + admin + "/v1/status")
	if code != 200 {
		return web.LinkStatus{}
	}
	var st web.Status
	json.Unmarshal([]byte(body), &st)
	for _, p := range st.Profiles {
		for _, l := range p.Links {
			if p.Name == profile && l.Name == link {
				return l
			}
		}
	}
	return web.LinkStatus{}
}

// waitReady waits for a daemon's /readyz, up to a minute.
func waitReady(t *testing.T, d *daemon, admin string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if code, _ := httpGet("http://" + admin + "/readyz"); code == 200 {
			return
		}
		select {
		case <-d.done:
			t.Fatalf("the daemon exited; log:\n%s", d.log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("the daemon was not ready within a minute; log:\n%s", d.log())
}

// metricValue finds one sample of a scrape.
func metricValue(scrape, series string) float64 {
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return -1
}

// pluginPID finds the process of a built-in plugin among a daemon's children.
func pluginPID(t *testing.T, daemonPID int, name string) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", daemonPID))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(field)
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
			if len(args) >= 3 && args[1] == "plugin" && args[2] == name {
				return pid
			}
		}
	}
	t.Fatalf("no %s plugin process under the daemon (pid %d)", name, daemonPID)
	return 0
}

// TestDaemonSyncsThroughAnExternalPlugin runs the real binary with the memory
// provider loaded from plugin_dir and the SuperOffice emulator: the sync command
// lists what would change and what changed, status and metrics follow.
func TestDaemonSyncsThroughAnExternalPlugin(t *testing.T) {
	t.Parallel()
	bin := buildSelf(t)
	pluginDir := t.TempDir()
	args := []string{"build", "-o", filepath.Join(pluginDir, "synchronizer-plugin-memory")}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, "synchronizer/plugins/memory/cmd/synchronizer-plugin-memory")...).CombinedOutput(); err != nil {
		t.Fatalf("build the memory plugin: %v\n%s", err, out)
	}
	s := newSyncSetup(t, 1, emulators.Layout{}, fmt.Sprintf(`plugin_dir = %q

calendar "memory" "mem" {}

profile "mp" {
  superoffice = "emu"
  calendar    = "mem"
  interval    = "1h"
  push        = false # runs only when asked, so the counts below are exact
  user "jane" {
    associate = "USER1"
    mailbox   = "jane@memory.test"
  }
}
`, pluginDir))
	s.storeTokens(t) // the memory provider needs no token
	s.seedDiary(t, "USER1", 5, "diary")

	cmd := exec.Command(bin, "run", "-config", s.dir)
	d := &daemon{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{buf: d.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.done
		}
	})
	waitReady(t, d, s.admin)

	code, stdout, stderr := runCmd("sync", "mp", "jane", "-dry-run", "-config", filepath.Join(s.dir, "10-emulators.hcl"))
	if code != 0 || !strings.Contains(stdout, "mp/jane: dry run, 5 items would change") || !strings.Contains(stdout, "calendar (5):\n    create on calendar \"diary-") {
		t.Fatalf("dry run: exit %d\n%s%s\n%s", code, stdout, stderr, d.log())
	}
	if l := linkStatus(t, s.admin, "mp", "jane"); l.Items != 0 && l.LastSync != nil {
		t.Fatalf("the dry run synced: %+v", l)
	}
	code, stdout, stderr = runCmd("sync", "mp", "jane", "-admin", s.admin)
	if code != 0 || !strings.Contains(stdout, "mp/jane: synced, 5 items changed (5 paired)") {
		t.Fatalf("sync: exit %d\n%s%s\n%s", code, stdout, stderr, d.log())
	}
	if l := linkStatus(t, s.admin, "mp", "jane"); l.State != "active" || l.Items != 5 || l.LastSync == nil || l.LastError != "" {
		t.Fatalf("status = %+v", l)
	}
	s.seedDiary(t, "USER1", 1, "later")
	code, stdout, _ = runCmd("sync", "mp", "-admin", s.admin)
	if code != 0 || !strings.Contains(stdout, "mp/jane: synced, 1 item changed (6 paired)") || !strings.Contains(stdout, `create on calendar "later-0"`) {
		t.Fatalf("profile sync: exit %d\n%s", code, stdout)
	}
	_, scrape := httpGet("http://" + s.admin + "/metrics")
	for series, want := range map[string]float64{
		`synchronizer_items_synced_total{direction="to_calendar",op="create",profile="mp"}`: 6,
		`synchronizer_sync_runs_total{profile="mp",result="ok"}`:                            2,
		`synchronizer_links{profile="mp",state="active"}`:                                   1,
	} {
		if got := metricValue(scrape, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := metricValue(scrape, `synchronizer_provider_requests_total{code="200",provider="superoffice"}`); got < 1 {
		t.Errorf("superoffice requests not counted: %v", got)
	}
	if got := metricValue(scrape, `synchronizer_last_success_timestamp_seconds{profile="mp"}`); time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("last success = %v", got)
	}
	// The memory calendar never reaches the diary's secret or tokens.
	if strings.Contains(d.log(), s.cl.Info().SuperOffice.Token) {
		t.Error("a token reached the log")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := d.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, d.log())
	}
}
