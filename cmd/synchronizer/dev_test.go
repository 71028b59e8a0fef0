package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/cmd/synchronizer/internal/emulators"
	"synchronizer/daemon/web"
)

// devDemo is a `run -dev` process and what its summary said.
type devDemo struct {
	p          *devProcess
	admin      string // http://host:port
	activation string // the pending link's activation URL
	dir        string // the demo's state directory
	ids        map[string]int
	summary    string
}

var (
	summaryAdmin      = regexp.MustCompile(`(?m)^\s+Admin API\s+(http://\S+)`)
	summaryDir        = regexp.MustCompile(`state in (\S+), removed at exit`)
	summaryActivation = regexp.MustCompile(`(?m)waits for it at\n\s+(http://\S+)`)
	summaryLink       = regexp.MustCompile(`(?m)^\s+demo-\S+\s+\S+\s+(\S+) \((\d+)\) <-> `)
)

// startDemo starts `run -dev` on free ports and waits for its summary.
func startDemo(t *testing.T) *devDemo {
	t.Helper()
	p := startDevProcess(t, nil, "run", "-dev", "-admin-address", "127.0.0.1:0", "-consent-address", "127.0.0.1:0")
	lines := p.linesUntil(t, "Lunch with Ada'", 3*time.Minute)
	d := &devDemo{p: p, summary: strings.Join(lines, "\n"), ids: map[string]int{}}
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *string
	}{{summaryAdmin, &d.admin}, {summaryDir, &d.dir}, {summaryActivation, &d.activation}} {
		m := f.re.FindStringSubmatch(d.summary)
		if m == nil {
			t.Fatalf("the summary lacks %s:\n%s\nstderr:\n%s", f.re, d.summary, p.log())
		}
		*f.dst = m[1]
	}
	for _, m := range summaryLink.FindAllStringSubmatch(d.summary, -1) {
		d.ids[m[1]], _ = strconv.Atoi(m[2])
	}
	return d
}

func (d *devDemo) status(t *testing.T) web.Status {
	t.Helper()
	code, body := httpGet(d.admin + "/v1/status")
	var st web.Status
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("status: %d %s", code, body)
	}
	return st
}

func (d *devDemo) link(t *testing.T, profile, link string) web.LinkStatus {
	t.Helper()
	for _, p := range d.status(t).Profiles {
		for _, l := range p.Links {
			if p.Name == profile && l.Name == link {
				return l
			}
		}
	}
	t.Fatalf("no link %s/%s in status", profile, link)
	return web.LinkStatus{}
}

func (d *devDemo) info(t *testing.T) emulators.Info {
	t.Helper()
	code, body := httpGet(d.admin + "/v1/dev")
	var info emulators.Info
	if code != 200 || json.Unmarshal([]byte(body), &info) != nil {
		t.Fatalf("/v1/dev: %d %s", code, body)
	}
	return info
}

// stop ends the demo and checks it cleaned up after itself.
func (d *devDemo) stop(t *testing.T) {
	t.Helper()
	if code := d.p.stop(t, 30*time.Second); code != 0 {
		t.Fatalf("run -dev exited %d after SIGTERM; stderr:\n%s", code, d.p.log())
	}
	if _, err := os.Stat(d.dir); !os.IsNotExist(err) {
		t.Errorf("the demo's state directory %s is still there: %v", d.dir, err)
	}
}

func doJSON(t *testing.T, method, target, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	c := http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The README walkthrough: `run -dev` comes up with every link active but the one
// left for a person, an appointment written into the SuperOffice emulator reaches
// the Microsoft 365 emulator after a sync of demo-m365, and the metrics show it.
func TestDevWalkthrough(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := startDemo(t)
	t.Logf("run -dev was up in %v", time.Since(start).Round(time.Millisecond))

	st := d.status(t)
	if len(st.Profiles) != 2 {
		t.Fatalf("profiles: %+v", st.Profiles)
	}
	for _, p := range st.Profiles {
		if len(p.Links) != 3 {
			t.Errorf("%s has %d links", p.Name, len(p.Links))
		}
		for _, l := range p.Links {
			pending := p.Name == emulators.DemoPendingProfile && l.Name == emulators.DemoPendingLink
			switch {
			case pending && (l.State != "pending_activation" || l.ActivationURL != d.activation):
				t.Errorf("%s/%s = %+v; want pending_activation at %s", p.Name, l.Name, l, d.activation)
			case !pending && (l.State != "active" || l.LastSync == nil || l.Items == 0 || l.ActivationURL != ""):
				t.Errorf("%s/%s = %+v; want active, synced, with items", p.Name, l.Name, l)
			}
		}
	}

	info := d.info(t)
	if !strings.HasSuffix(info.SuperOffice.URL, "/api") || !strings.HasSuffix(info.M365.URL, "/v1.0") || !strings.HasSuffix(info.Google.URL, "/calendar/v3") {
		t.Fatalf("/v1/dev = %+v", info)
	}
	if code, env := httpGet(d.admin + "/v1/dev?format=env"); code != 200 || !strings.Contains(env, "export SUPEROFFICE_URL='"+info.SuperOffice.URL+"'") {
		t.Fatalf("/v1/dev?format=env: %d %s", code, env)
	}

	// The walkthrough: write in SuperOffice, sync, read in Microsoft 365.
	user1 := d.ids[emulators.SuperOfficeUser(1)]
	if user1 == 0 {
		t.Fatalf("no associate id of USER1 in the summary:\n%s", d.summary)
	}
	day := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	title := fmt.Sprintf("Lunch with Ada %d", time.Now().UnixNano()%100000)
	code, body := doJSON(t, http.MethodPost, info.SuperOffice.URL+"/v1/Appointment", info.SuperOffice.Token, map[string]any{
		"Associate": map[string]any{"AssociateId": user1}, "Title": title,
		"StartDate": day + "T12:00:00", "EndDate": day + "T13:00:00"})
	if code != 200 {
		t.Fatalf("create in SuperOffice: %d %s", code, body)
	}
	synced := time.Now()
	if code, body := doJSON(t, http.MethodPost, d.admin+"/v1/profiles/demo-m365/sync", "", nil); code != 200 {
		t.Fatalf("sync demo-m365: %d %s", code, body)
	}
	t.Logf("sync of demo-m365 took %v", time.Since(synced).Round(time.Millisecond))
	code, body = doJSON(t, http.MethodGet, info.M365.URL+"/users/user1@m365.test/events?"+
		url.Values{"$filter": {"subject eq '" + title + "'"}, "$select": {"subject,start,end"}}.Encode(), info.M365.Token, nil)
	var found struct {
		Value []struct {
			Subject string
			Start   struct{ DateTime, TimeZone string }
		}
	}
	if code != 200 || json.Unmarshal(body, &found) != nil {
		t.Fatalf("read Microsoft 365: %d %s", code, body)
	}
	if len(found.Value) != 1 {
		t.Fatalf("%q in user1@m365.test: %d copies (%s); stderr:\n%s", title, len(found.Value), body, d.p.log())
	}
	oslo, _ := time.LoadLocation("Europe/Oslo")
	want, _ := time.ParseInLocation("2006-01-02T15:04:05", day+"T12:00:00", oslo)
	got, err := time.Parse("2006-01-02T15:04:05.0000000", found.Value[0].Start.DateTime)
	if err != nil || found.Value[0].Start.TimeZone != "UTC" || !got.Equal(want.UTC()) {
		t.Errorf("start in Microsoft 365 = %+v; want %s", found.Value[0].Start, want.UTC())
	}

	_, metrics := httpGet(d.admin + "/metrics")
	for _, want := range []string{`synchronizer_sync_runs_total{profile="demo-m365",result="ok"}`,
		`synchronizer_items_synced_total{direction="to_calendar",op="create",profile="demo-m365"}`,
		`synchronizer_links{profile="demo-google",state="pending_activation"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	d.stop(t)
	// The emulators' admin tokens are served by /v1/dev only: never logged, never
	// in the summary.
	for _, tok := range []string{info.SuperOffice.Token, info.M365.Token, info.Google.Token} {
		if strings.Contains(d.p.log(), tok) || strings.Contains(d.summary, tok) {
			t.Errorf("an emulator's admin token shows in the demo's output")
		}
	}
}

func TestPrintDevSummary(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	printDevSummary(&b, devSummary{AdminURL: "http://127.0.0.1:8421", ConsentURL: "http://127.0.0.1:8420",
		ActivationURL: "http://127.0.0.1:8420/activate/tok", Dir: "/tmp/x", Tomorrow: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		IDs:       map[string]int{"USER1": 3, "ROOM2": 8},
		Emulators: emulators.Info{SuperOffice: emulators.Service{URL: "http://so/api", Token: "SECRET-SO"}}})
	out := b.String()
	for _, want := range []string{"synchronizer status ", "demo-google/user4 waits for it at\n  http://127.0.0.1:8420/activate/tok",
		"USER1 (3) <-> user1@m365.test", "ROOM2 (8) <-> room2@resource.google.test", `"AssociateId":3`, `"StartDate":"2026-03-01T12:00:00"`,
		"synchronizer sync demo-m365\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET-SO") || strings.Contains(out, " -admin ") {
		t.Errorf("summary:\n%s", out)
	}
	b.Reset()
	printDevSummary(&b, devSummary{AdminURL: "http://127.0.0.1:9999"})
	if !strings.Contains(b.String(), "synchronizer status -admin 127.0.0.1:9999") || strings.Contains(b.String(), "waits for it") {
		t.Errorf("summary on another port:\n%s", b.String())
	}
}

func TestDevHandlerAndFlags(t *testing.T) {
	t.Parallel()
	h := devHandler(emulators.Info{SuperOffice: emulators.Service{URL: "http://a/api", Token: "t1"}})
	for _, c := range []struct {
		query, want string
		code        int
	}{
		{"", `"url": "http://a/api"`, 200},
		{"?format=env", "export SUPEROFFICE_URL='http://a/api' SUPEROFFICE_TOKEN='t1'", 200},
		{"?format=xml", "format must be json or env", 400},
	} {
		rec := httptestRecorder(h, "/v1/dev"+c.query)
		if rec.code != c.code || !strings.Contains(rec.body, c.want) {
			t.Errorf("GET /v1/dev%s: %d %s", c.query, rec.code, rec.body)
		}
	}
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-admin-address", "nope"}, 2, "-admin-address"},
		{[]string{"-consent-address", "1.2.3.4"}, 2, "-consent-address"},
		{[]string{"-config", "x.hcl"}, 2, "flag provided but not defined: -config"},
		{[]string{"-h"}, 0, "Usage: synchronizer run -dev"},
	} {
		var out, errb bytes.Buffer
		if code := cmdRunDev(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("run -dev %v: %d %q", c.args, code, errb.String())
		}
	}
	if a, err := devAddress("127.0.0.1:0", "127.0.0.1:1"); err != nil || strings.HasSuffix(a, ":0") {
		t.Errorf("devAddress with port 0 = %s, %v", a, err)
	}
	if a, err := devAddress("", freeAddr(t)); err != nil || a == "" {
		t.Errorf("devAddress default = %s, %v", a, err)
	}
}

type recorded struct {
	code int
	body string
}

func httptestRecorder(h http.Handler, target string) recorded {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return recorded{rec.Code, rec.Body.String()}
}

func TestRemoveStaleDevDirs(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name, pid string, age time.Duration) string {
		d := filepath.Join(tmp, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			os.WriteFile(filepath.Join(d, devPIDFile), []byte(pid), 0o600)
		}
		old := time.Now().Add(-age)
		os.Chtimes(d, old, old)
		return d
	}
	gone := []string{
		mk(devDirPrefix+"dead", strconv.Itoa(dead.Process.Pid), 0),
		mk(devDirPrefix+"garbage", "not a pid", 0),
		mk(devDirPrefix+"old-without-pid", "", 2*time.Hour),
	}
	kept := []string{
		mk(devDirPrefix+"alive", strconv.Itoa(os.Getpid()), 2*time.Hour),
		mk(devDirPrefix+"starting", "", time.Minute),
		mk("other-dead", strconv.Itoa(dead.Process.Pid), 0),
	}
	removeStaleDevDirs(tmp, slog.New(slog.DiscardHandler))
	for _, d := range gone {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there", filepath.Base(d))
		}
	}
	for _, d := range kept {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(d), err)
		}
	}
}
