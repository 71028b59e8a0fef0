package emulators

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/config"
)

func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return c
}

func getJSON(t *testing.T, target, token string, v any) {
	t.Helper()
	if err := GetJSON(context.Background(), http.DefaultClient, target, token, v); err != nil {
		t.Fatal(err)
	}
}

func TestStartServesEachServiceOnItsOwnListener(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	info := c.Info()
	bases := map[string]bool{c.SuperOfficeBase: true, c.M365Base: true, c.GoogleBase: true}
	if len(bases) != 3 {
		t.Fatalf("bases %v", bases)
	}
	for _, s := range []struct {
		svc  Service
		base string
		tail string
	}{{info.SuperOffice, c.SuperOfficeBase, "/api"}, {info.M365, c.M365Base, "/v1.0"}, {info.Google, c.GoogleBase, "/calendar/v3"}} {
		if !strings.HasPrefix(s.svc.URL, s.base+"/") || !strings.HasSuffix(s.svc.URL, s.tail) || s.svc.Token == "" {
			t.Errorf("service %+v on %s", s.svc, s.base)
		}
	}
	var back Info
	if err := json.Unmarshal(info.JSON(), &back); err != nil || back != info {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
	if strings.Contains(string(info.JSON()), "\n") {
		t.Fatal("the JSON spans lines")
	}
}

func TestStartRefusesBadAddresses(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"nope", "127.0.0.1:x", "127.0.0.1:65535"} {
		if c, err := Start(Options{Addr: addr}); err == nil {
			c.Close(context.Background())
			t.Errorf("Start(%q) worked", addr)
		}
	}
	// A taken port is an error naming the service, and nothing stays bound.
	c := startCluster(t, Options{})
	taken := strings.TrimPrefix(c.SuperOfficeBase, "http://")
	if c2, err := Start(Options{Addr: taken}); err == nil || !strings.Contains(err.Error(), "SuperOffice") {
		if c2 != nil {
			c2.Close(context.Background())
		}
		t.Fatalf("second cluster on %s: %v", taken, err)
	}
}

func TestSeedDemoGivesEveryKindOnBothSides(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := startCluster(t, Options{Now: func() time.Time { return now }, Licenses: 20})
	ids, err := c.Populate(DemoUsers, DemoResources)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SeedDemo(context.Background(), DemoLayout(), ids, now); err != nil {
		t.Fatal(err)
	}
	info := c.Info()

	// Microsoft 365: user1 has a series, an all-day and a private event.
	var graph struct {
		Value []struct {
			Subject     string
			Type        string
			IsAllDay    bool
			Sensitivity string
		}
	}
	getJSON(t, info.M365.URL+"/users/user1@m365.test/events?$top=100", info.M365.Token, &graph)
	kinds := map[string]bool{}
	for _, e := range graph.Value {
		kinds["series"] = kinds["series"] || e.Type == "seriesMaster"
		kinds["allday"] = kinds["allday"] || e.IsAllDay
		kinds["private"] = kinds["private"] || e.Sensitivity == "private"
		kinds["single"] = kinds["single"] || e.Subject == "Project review"
	}
	if len(kinds) != 4 || !kinds["series"] || !kinds["allday"] || !kinds["private"] || !kinds["single"] {
		t.Errorf("m365 user1: %v in %+v", kinds, graph.Value)
	}

	// Google: user3 has the same kinds, the series with a moved occurrence.
	var gc struct {
		Items []struct {
			Summary          string
			Visibility       string
			Recurrence       []string
			RecurringEventID string `json:"recurringEventId"`
			Start            struct{ Date string }
		}
	}
	getJSON(t, info.Google.URL+"/calendars/"+url.PathEscape(GoogleUser(3))+"/events", info.Google.Token, &gc)
	kinds = map[string]bool{}
	for _, e := range gc.Items {
		kinds["series"] = kinds["series"] || len(e.Recurrence) > 0
		kinds["exception"] = kinds["exception"] || e.RecurringEventID != ""
		kinds["allday"] = kinds["allday"] || e.Start.Date != ""
		kinds["private"] = kinds["private"] || e.Visibility == "private"
	}
	if !kinds["series"] || !kinds["exception"] || !kinds["allday"] || !kinds["private"] {
		t.Errorf("google user3: %v in %+v", kinds, gc.Items)
	}

	// SuperOffice: every linked diary has its rows, people a series.
	for _, p := range DemoLayout().Profiles {
		for _, l := range p.Links {
			var so struct {
				Value []struct {
					Text      string
					Recurring bool
				}
			}
			getJSON(t, info.SuperOffice.URL+"/v1/Appointment?$select=text,recurring&$top=1000&$filter=associateId%20eq%20"+
				strconv.Itoa(ids[l.Associate]), info.SuperOffice.Token, &so)
			recurring := 0
			for _, r := range so.Value {
				if r.Recurring {
					recurring++
				}
			}
			switch {
			case l.Kind == "user" && (len(so.Value) < 12 || recurring < 8):
				t.Errorf("SuperOffice %s: %d rows, %d recurring", l.Associate, len(so.Value), recurring)
			case l.Kind == "resource" && len(so.Value) == 0:
				t.Errorf("SuperOffice %s: empty", l.Associate)
			}
		}
	}
}

func TestWriteConfigValidates(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "conf", "demo.hcl")
	f := ConfigFile{Path: path, Layout: DemoLayout(), DataDir: filepath.Join(dir, "data"), KeyFile: filepath.Join(dir, "key"),
		ConsentAddress: "127.0.0.1:18420", AdminAddress: "127.0.0.1:18421", UserLicenses: 8, Interval: "1m", LogLevel: "debug",
		Header: []string{"a comment with ${interpolation} and \"quotes\""}}
	if err := c.WriteConfig(f); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(f.KeyFile)
	cfg, res := config.Load(path, config.Options{})
	if cfg == nil || res.HasErrors() {
		t.Fatalf("load: %v", res.Error())
	}
	if cfg.HTTP.PublicURL != "http://127.0.0.1:18420" || cfg.LogLevel != "debug" || len(cfg.Links()) != 6 {
		t.Fatalf("config = %+v", cfg)
	}
	if p := cfg.Profile(DemoGoogleProfile); p == nil || p.Interval != time.Minute || p.Link(DemoPendingLink) == nil {
		t.Fatalf("profile %s = %+v", DemoGoogleProfile, p)
	}
	if so := cfg.Tenant(DemoTenant); so == nil || so.UserLicenses == nil || *so.UserLicenses != 8 {
		t.Fatalf("tenant = %+v", so)
	}
	// Writing again keeps the key.
	if err := c.WriteConfig(f); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(f.KeyFile); string(again) != string(key) || len(key) != 32 {
		t.Fatal("the key file changed on the second write")
	}
	// Incomplete requests are refused.
	if err := c.WriteConfig(ConfigFile{Path: path}); err == nil {
		t.Fatal("WriteConfig without addresses worked")
	}
	bad := f
	bad.Layout.Profiles = []Profile{{Name: "x", Calendar: DemoM365, Links: []Link{{Name: "a", Kind: "robot"}}}}
	if _, err := c.RenderConfig(bad, "p.pem"); err == nil || !strings.Contains(err.Error(), "robot") {
		t.Fatalf("bad kind: %v", err)
	}
}

func TestEmulateLayoutLinksEveryAccountTwice(t *testing.T) {
	t.Parallel()
	l := EmulateLayout(3, 2)
	if l.Tenant != "emu" || len(l.Profiles) != 2 || l.Profiles[0].Name != "emu-m365" || l.Profiles[1].Name != "emu-google" {
		t.Fatalf("layout = %+v", l)
	}
	for _, p := range l.Profiles {
		if len(p.Links) != 5 {
			t.Fatalf("%s: %d links", p.Name, len(p.Links))
		}
	}
	if g := l.Profiles[1].Links[4]; g.Associate != "ROOM2" || g.Mailbox != "room2@resource.google.test" || g.Kind != "resource" {
		t.Fatalf("last google link = %+v", g)
	}
}

func TestAPIClientAnswers(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/ok":
			if r.Method == http.MethodPost {
				b, _ := io.ReadAll(r.Body)
				if r.Header.Get("Content-Type") != "application/json" || string(b) != `{"a":1}` {
					http.Error(w, "bad body", http.StatusBadRequest)
					return
				}
				w.WriteHeader(http.StatusCreated)
				return
			}
			io.WriteString(w, `{"a":1}`)
		case "/busy":
			http.Error(w, " slow down ", http.StatusTooManyRequests)
		case "/garbage":
			io.WriteString(w, `{"a":`)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name, method, path, token string
		wantStatus                int    // of the *APIError; 0: none
		wantErr                   string // "" : no error
	}{
		{"post taken", http.MethodPost, "/ok", "tok", 0, ""},
		{"get taken", http.MethodGet, "/ok?x=1", "tok", 0, ""},
		{"post throttled", http.MethodPost, "/busy?secret=1", "tok", 429, "POST " + srv.URL + "/busy: 429: slow down"},
		{"get refused", http.MethodGet, "/ok", "bad", 401, "GET " + srv.URL + "/ok: 401: no token"},
		{"get garbage", http.MethodGet, "/garbage", "tok", 0, "GET " + srv.URL + "/garbage: unexpected end of JSON input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var err error
			var got struct{ A int }
			if tc.method == http.MethodPost {
				err = PostJSON(ctx, srv.Client(), srv.URL+tc.path, tc.token, map[string]int{"a": 1})
			} else {
				err = GetJSON(ctx, srv.Client(), srv.URL+tc.path, tc.token, &got)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.method == http.MethodGet && got.A != 1 {
					t.Fatalf("decoded %+v", got)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %s", err, tc.wantErr)
			}
			status := 0
			if apiErr := (*APIError)(nil); errors.As(err, &apiErr) {
				status = apiErr.Status
			}
			if status != tc.wantStatus {
				t.Fatalf("status of the *APIError %d, want %d", status, tc.wantStatus)
			}
		})
	}
}
