package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"synchronizer/cmd/synchronizer/internal/emulators"
	"synchronizer/daemon/agent"
	"synchronizer/daemon/config"
	"synchronizer/daemon/web"
)

// How long the demo waits for each stage before it says what is missing (and
// keeps running, so the person can look).
const (
	devStartTimeout   = 30 * time.Second
	devConsentTimeout = 30 * time.Second
	devSyncTimeout    = 90 * time.Second
)

// devOptions are `run -dev`'s settings.
type devOptions struct {
	AdminAddress   string // "" = 127.0.0.1:8421, or a free port when that is taken
	ConsentAddress string // "" = 127.0.0.1:8420, or a free port when that is taken
	// Ready, when set, receives the demo's summary once the first sync is done.
	Ready func(devSummary)
}

// devSummary is what the demo prints once it is up.
type devSummary struct {
	AdminURL      string
	ConsentURL    string
	ActivationURL string // the link left pending
	Emulators     emulators.Info
	Dir           string
	// IDs are the SuperOffice associate ids by login or resource name.
	IDs map[string]int
	// Tomorrow is the day the walkthrough's appointment is planned on.
	Tomorrow time.Time
	// Problem says what kept the demo from coming up completely ("" when it did).
	Problem string
}

// cmdRunDev is `synchronizer run -dev`: the three emulated services in-process, a
// demo tenant with two profiles, consent completed through the real flow for every
// link but one, a first sync, and where to look. args are run's flags without -dev.
func cmdRunDev(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run -dev", "[-admin-address ADDR] [-consent-address ADDR]", stderr)
	adminAddr := fs.String("admin-address", "", "listen address of the admin API (default "+config.DefaultAdminAddress+", a free port when taken)")
	consentAddr := fs.String("consent-address", "", "listen address of the consent listener (default "+config.DefaultConsentAddress+", a free port when taken)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	return runDevCommand(*adminAddr, *consentAddr, stdout, stderr)
}

// runDevCommand is `run -dev` once its flags are read: adminAddr and consentAddr
// override the listeners ("" for the defaults). It runs until SIGINT or SIGTERM.
func runDevCommand(adminAddr, consentAddr string, stdout, stderr io.Writer) int {
	for name, v := range map[string]string{"admin-address": adminAddr, "consent-address": consentAddr} {
		if v != "" {
			if err := config.CheckAddress(v); err != nil {
				fmt.Fprintf(stderr, "synchronizer run -dev: -%s: %v\n", name, err)
				return exitUsage
			}
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan struct{}, 1)
	go func() {
		stopping := false
		for sig := range sigs {
			switch {
			case sig == syscall.SIGHUP:
				select {
				case reload <- struct{}{}:
				default:
				}
			case stopping:
				fmt.Fprintln(stderr, "synchronizer run -dev: second stop signal: exiting at once")
				os.Exit(exitFailed)
			default:
				stopping = true
				cancel()
			}
		}
	}()
	opts := devOptions{AdminAddress: adminAddr, ConsentAddress: consentAddr,
		Ready: func(s devSummary) { printDevSummary(stdout, s) }}
	if err := runDev(ctx, opts, reload, stderr); err != nil {
		fmt.Fprintf(stderr, "synchronizer run -dev: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// runDev runs the demo until ctx ends. The daemon logs to stderr.
func runDev(ctx context.Context, o devOptions, reload <-chan struct{}, stderr io.Writer) error {
	level := new(slog.LevelVar)
	log := newLogger(stderr, "text", level)

	adminAddr, err := devAddress(o.AdminAddress, config.DefaultAdminAddress)
	if err != nil {
		return err
	}
	consentAddr, err := devAddress(o.ConsentAddress, config.DefaultConsentAddress)
	if err != nil {
		return err
	}
	if adminAddr == consentAddr {
		return fmt.Errorf("the admin and consent listeners cannot share %s", adminAddr)
	}
	removeStaleDevDirs(os.TempDir(), log)
	dir, err := os.MkdirTemp("", devDirPrefix)
	if err != nil {
		return fmt.Errorf("create the demo's state directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, devPIDFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return fmt.Errorf("create the demo's state directory: %w", err)
	}

	// The sign-in pages wait for a decision, so a person trying the pending link
	// sees one; the demo's own consents approve them as a person would.
	cl, err := emulators.Start(emulators.Options{Licenses: devLicenses})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.Close(sctx); err != nil {
			log.Warn("the emulators did not stop cleanly", "err", err)
		}
	}()
	ids, err := cl.Populate(emulators.DemoUsers, emulators.DemoResources)
	if err != nil {
		return err
	}
	if err := cl.SeedDemo(ctx, emulators.DemoLayout(), ids, time.Now()); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "demo.hcl")
	err = cl.WriteConfig(emulators.ConfigFile{
		Path: cfgPath, Layout: emulators.DemoLayout(),
		DataDir: filepath.Join(dir, "data"), KeyFile: filepath.Join(dir, "key"),
		ConsentAddress: consentAddr, AdminAddress: adminAddr,
		UserLicenses: devLicenses, Interval: "1m",
		Header: []string{"Written by `synchronizer run -dev` for its embedded demo; removed when it stops."},
	})
	if err != nil {
		return err
	}

	a, closeWiring, err := newDevDaemon(cfgPath, log, level)
	if err != nil {
		var cerr *agent.ConfigError
		if errors.As(err, &cerr) {
			cerr.Result.Write(stderr, 0, false)
		}
		return fmt.Errorf("start the demo daemon: %w", err)
	}
	info := cl.Info()
	a.AdminMux().Handle("GET /v1/dev", devHandler(info))

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, 1)
	go func() {
		err := a.Run(runCtx, reload)
		closeWiring()
		runDone <- err
	}()
	stop := func() error {
		stopRun()
		return <-runDone
	}

	d := &demoDriver{adminAddr: adminAddr, consentURL: "http://" + consentAddr, log: log,
		consent: &consentDriver{consentHost: consentAddr, timeout: 20 * time.Second, emulatorHosts: map[string]bool{
			hostOf(cl.SuperOfficeBase): true, hostOf(cl.M365Base): true, hostOf(cl.GoogleBase): true}}}
	if err := d.waitAdmin(ctx, runDone); err != nil {
		stop()
		return err
	}
	summary := devSummary{AdminURL: "http://" + adminAddr, ConsentURL: "http://" + consentAddr,
		Emulators: info, Dir: dir, IDs: ids, Tomorrow: time.Now().AddDate(0, 0, 1)}
	summary.ActivationURL, err = d.bringUp(ctx)
	if err != nil {
		// The daemon keeps running so the person can look at what went wrong.
		summary.Problem = err.Error()
		log.Error("the demo did not come up completely; the daemon keeps running so you can look (synchronizer status)", "err", err)
	}
	if o.Ready != nil {
		o.Ready(summary)
	}
	select {
	case <-ctx.Done():
		return stop()
	case err := <-runDone:
		if err == nil {
			err = errors.New("the daemon stopped")
		}
		return err
	}
}

// The demo's state directory: devDirPrefix + random in the temp directory, with
// the owning process's id in devPIDFile.
const (
	devDirPrefix = "synchronizer-dev-"
	devPIDFile   = "pid"
)

// removeStaleDevDirs removes the state directories of demos that ended without
// cleaning up (killed): their process is gone. A directory without a pid file is
// left alone unless it is an hour old (a demo may be starting in it right now).
func removeStaleDevDirs(tmp string, log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, devDirPrefix+"*"))
	for _, d := range dirs {
		info, err := os.Lstat(d)
		if err != nil || !info.IsDir() {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
			continue // another user's demo
		}
		stale := false
		if b, err := os.ReadFile(filepath.Join(d, devPIDFile)); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			stale = err != nil || pid <= 0 || errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
		} else {
			stale = time.Since(info.ModTime()) > time.Hour
		}
		if stale {
			if err := os.RemoveAll(d); err == nil {
				log.Debug("removed the state of an earlier demo", "dir", d)
			}
		}
	}
}

// devLicenses is the demo tenant's user-licence count (six links, plus room).
const devLicenses = 10

// devAddress resolves a listener address: an explicit one as given (port 0: a
// free port now, so public_url can name it), else the default, else a free port.
func devAddress(flagValue, def string) (string, error) {
	if flagValue != "" {
		host, port, err := net.SplitHostPort(flagValue)
		if err != nil {
			return "", fmt.Errorf("%q is not host:port", flagValue)
		}
		if port != "0" {
			return flagValue, nil
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", fmt.Errorf("pick a free port on %s: %w", host, err)
		}
		defer ln.Close()
		return ln.Addr().String(), nil
	}
	ln, err := net.Listen("tcp", def)
	if err == nil {
		ln.Close()
		return def, nil
	}
	return freeLoopbackAddr()
}

func hostOf(base string) string {
	return strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
}

// devHandler serves GET /v1/dev: the emulators' URLs and admin tokens as SPEC's
// JSON, or with ?format=env as shell assignments for
// eval "$(curl -s ADMIN/v1/dev?format=env)".
func devHandler(info emulators.Info) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("format") {
		case "", "json":
			web.WriteJSON(w, http.StatusOK, info)
		case "env":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			for _, v := range []struct {
				name string
				svc  emulators.Service
			}{{"SUPEROFFICE", info.SuperOffice}, {"M365", info.M365}, {"GOOGLE", info.Google}} {
				fmt.Fprintf(w, "export %s_URL='%s' %s_TOKEN='%s'\n", v.name, v.svc.URL, v.name, v.svc.Token)
			}
		default:
			web.WriteError(w, http.StatusBadRequest, "format must be json or env")
		}
	})
}

// demoDriver brings the demo up through the daemon's own surfaces: the admin API
// (status, activation, sync) and the consent listener (setup and activation links).
type demoDriver struct {
	adminAddr  string
	consentURL string
	consent    *consentDriver
	log        *slog.Logger
}

// waitAdmin waits until the admin API answers.
func (d *demoDriver) waitAdmin(ctx context.Context, runDone <-chan error) error {
	deadline := time.Now().Add(devStartTimeout)
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := fetchStatus(rctx, d.adminAddr)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon's admin API did not answer within %v: %w", devStartTimeout, err)
		}
		select {
		case err := <-runDone:
			if err == nil {
				err = errors.New("it stopped")
			}
			return fmt.Errorf("the demo daemon did not start: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// bringUp completes the tenant-level setups and every activation but the pending
// link's, syncs both profiles and waits until every other link is active. It
// returns the pending link's activation URL.
func (d *demoDriver) bringUp(ctx context.Context) (string, error) {
	layout := emulators.DemoLayout()
	// Tenant-level access first: the SuperOffice system user (its admin consents)
	// and the Google admin connection that reaches resource calendars.
	for _, s := range []struct{ name, admin string }{
		{layout.Tenant, emulators.SuperOfficeAdmin},
		{layout.Google, emulators.GoogleAdmin},
	} {
		setup, err := d.openSetup(ctx, s.name)
		if errors.Is(err, errNotNeeded) {
			d.log.Info("demo: no tenant-level access needed", "connection", s.name, "why", err)
			continue
		}
		if err != nil {
			return "", err
		}
		goURL := withGo(setup) + "?" + url.Values{"login_hint": {s.admin}}.Encode()
		if err := d.consent.complete(ctx, goURL, s.admin); err != nil {
			return "", fmt.Errorf("setup %s: %w", s.name, err)
		}
		d.log.Info("demo: tenant-level access granted", "connection", s.name, "as", s.admin)
	}
	// A run of each link now (rather than at its first scheduled time) finds it
	// without consent and has its activation link issued.
	for _, p := range layout.Profiles {
		if _, err := d.post(ctx, "/v1/profiles/"+p.Name+"/sync"); err != nil {
			d.log.Debug("demo: first run of the links", "profile", p.Name, "err", err)
		}
	}
	var pendingURL string
	for _, p := range layout.Profiles {
		for _, l := range p.Links {
			activation, state, err := d.activationURL(ctx, p.Name, l.Name)
			if err != nil {
				return "", err
			}
			if p.Name == emulators.DemoPendingProfile && l.Name == emulators.DemoPendingLink {
				pendingURL = activation
				continue
			}
			if activation == "" { // covered by a tenant-level connection
				d.log.Info("demo: link needs no activation", "profile", p.Name, "link", l.Name, "state", state)
				continue
			}
			// A Google resource calendar is consented to by an admin who manages it.
			goURL, hint := withGo(activation), ""
			if p.Calendar == layout.Google && l.Kind == "resource" {
				hint = emulators.GoogleAdmin
				goURL += "?" + url.Values{"login_hint": {hint}}.Encode()
			}
			if err := d.consent.complete(ctx, goURL, hint); err != nil {
				return pendingURL, fmt.Errorf("activate %s/%s: %w", p.Name, l.Name, err)
			}
			d.log.Info("demo: link activated through the consent flow", "profile", p.Name, "link", l.Name)
		}
	}
	for _, p := range layout.Profiles {
		if err := d.syncProfile(ctx, p.Name); err != nil {
			d.log.Warn("demo: sync request", "profile", p.Name, "err", err)
		}
	}
	return pendingURL, d.waitActive(ctx)
}

// errNotNeeded is the admin API's 409 for a setup a block does not need.
var errNotNeeded = errors.New("not needed")

// openSetup opens a block's admin setup (what `synchronizer connect NAME` does)
// and returns the setup page's URL.
func (d *demoDriver) openSetup(ctx context.Context, name string) (string, error) {
	body, err := d.post(ctx, "/v1/connections/"+url.PathEscape(name)+"/setup")
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusConflict {
		return "", fmt.Errorf("%s: %w", se.msg, errNotNeeded)
	}
	if err != nil {
		return "", fmt.Errorf("open the setup of %s: %w", name, err)
	}
	var res struct {
		URL string `json:"setup_url"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.URL == "" {
		return "", fmt.Errorf("open the setup of %s: no setup_url in %.200s", name, body)
	}
	return res.URL, nil
}

// withGo turns an activation or setup page URL into its button's target.
func withGo(u string) string {
	if strings.HasSuffix(u, "/go") {
		return u
	}
	return strings.TrimRight(u, "/") + "/go"
}

// activationURL waits until the daemon shows the link's activation URL in
// /v1/status (or a state that needs none), asking for one when it takes long.
func (d *demoDriver) activationURL(ctx context.Context, profile, link string) (string, string, error) {
	deadline := time.Now().Add(devConsentTimeout)
	asked := false
	for {
		l, err := d.link(ctx, profile, link)
		if err != nil {
			return "", "", err
		}
		switch {
		case l.ActivationURL != "":
			return l.ActivationURL, l.State, nil
		case l.State == "active":
			return "", l.State, nil
		case l.State == "error" || l.State == "unlicensed" || l.State == "disabled":
			return "", l.State, fmt.Errorf("link %s/%s is %s: %s", profile, link, l.State, l.LastError)
		}
		if !asked && time.Until(deadline) < devConsentTimeout/2 {
			asked = true
			if u, err := d.requestActivation(ctx, profile, link); err == nil && u != "" {
				return u, l.State, nil
			} else if err != nil {
				d.log.Debug("demo: asking for an activation link", "profile", profile, "link", link, "err", err)
			}
		}
		if time.Now().After(deadline) {
			return "", l.State, fmt.Errorf("link %s/%s got no activation URL within %v (state %s)", profile, link, devConsentTimeout, l.State)
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitActive waits until every demo link but the pending one is active and synced.
func (d *demoDriver) waitActive(ctx context.Context) error {
	deadline := time.Now().Add(devSyncTimeout)
	for {
		st, err := d.status(ctx)
		if err != nil {
			return err
		}
		var waiting []string
		for _, p := range st.Profiles {
			for _, l := range p.Links {
				if p.Name == emulators.DemoPendingProfile && l.Name == emulators.DemoPendingLink {
					continue
				}
				if l.State != "active" || l.LastSync == nil {
					w := fmt.Sprintf("%s/%s is %s", p.Name, l.Name, l.State)
					if l.LastError != "" {
						w += ": " + l.LastError
					}
					waiting = append(waiting, w)
				}
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %s", devSyncTimeout, strings.Join(waiting, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *demoDriver) status(ctx context.Context) (web.Status, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := fetchStatus(rctx, d.adminAddr)
	if err != nil {
		return web.Status{}, err
	}
	var st web.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return web.Status{}, fmt.Errorf("status: %w", err)
	}
	return st, nil
}

func (d *demoDriver) link(ctx context.Context, profile, link string) (web.LinkStatus, error) {
	st, err := d.status(ctx)
	if err != nil {
		return web.LinkStatus{}, err
	}
	for _, p := range st.Profiles {
		if p.Name != profile {
			continue
		}
		if i := slices.IndexFunc(p.Links, func(l web.LinkStatus) bool { return l.Name == link }); i >= 0 {
			return p.Links[i], nil
		}
	}
	return web.LinkStatus{}, fmt.Errorf("the daemon does not list link %s/%s", profile, link)
}

// requestActivation asks the admin API for the link's activation URL.
func (d *demoDriver) requestActivation(ctx context.Context, profile, link string) (string, error) {
	body, err := d.post(ctx, "/v1/profiles/"+profile+"/links/"+link+"/activation")
	if err != nil {
		return "", err
	}
	return findActivationURL(body), nil
}

// findActivationURL picks the activation URL out of an answer, whatever key holds it.
func findActivationURL(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var walk func(any) string
	walk = func(v any) string {
		switch t := v.(type) {
		case string:
			if strings.Contains(t, "/activate/") {
				return t
			}
		case map[string]any:
			for _, x := range t {
				if s := walk(x); s != "" {
					return s
				}
			}
		case []any:
			for _, x := range t {
				if s := walk(x); s != "" {
					return s
				}
			}
		}
		return ""
	}
	return walk(v)
}

func (d *demoDriver) syncProfile(ctx context.Context, profile string) error {
	_, err := d.post(ctx, "/v1/profiles/"+profile+"/sync")
	return err
}

func (d *demoDriver) post(ctx context.Context, path string) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, devSyncTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, "http://"+d.adminAddr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(body))
		var e web.ErrorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return body, &statusError{path: path, code: resp.StatusCode, msg: msg}
	}
	return body, nil
}

// statusError is an admin API answer other than 2xx.
type statusError struct {
	path string
	code int
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("POST %s: HTTP %d: %s", e.path, e.code, e.msg)
}

// printDevSummary tells the person where to look.
func printDevSummary(w io.Writer, s devSummary) {
	adminFlag := ""
	if hostOf(s.AdminURL) != config.DefaultAdminAddress {
		adminFlag = " -admin " + hostOf(s.AdminURL)
	}
	fmt.Fprintf(w, "\nSynchronizer demo is running (state in %s, removed at exit; stop with Ctrl-C).\n", s.Dir)
	if s.Problem != "" {
		fmt.Fprintf(w, "It did not come up completely: %s\n", s.Problem)
	}
	fmt.Fprintf(w, `
  Admin API      %s   (/v1/status, /metrics, /v1/dev)
  Consent pages  %s

  synchronizer status%s             # profiles, links, last sync
  synchronizer sync demo-m365%s     # sync a profile now
  curl -s %s/metrics | grep '^synchronizer_'
`, s.AdminURL, s.ConsentURL, adminFlag, adminFlag, s.AdminURL)
	if s.ActivationURL != "" {
		fmt.Fprintf(w, `
  Try an activation in a browser: %s/%s waits for it at
  %s
  (the emulated Google sign-in suggests the account; press Allow)
`, emulators.DemoPendingProfile, emulators.DemoPendingLink, s.ActivationURL)
	}
	fmt.Fprintf(w, `
Emulated services (their admin tokens: curl -s %s/v1/dev):
  SuperOffice    %s
  Microsoft 365  %s
  Google         %s

Linked accounts (SuperOffice associate id in brackets):
`, s.AdminURL, s.Emulators.SuperOffice.URL, s.Emulators.M365.URL, s.Emulators.Google.URL)
	for _, p := range emulators.DemoLayout().Profiles {
		for _, l := range p.Links {
			fmt.Fprintf(w, "  %-12s %-6s %s (%d) <-> %s\n", p.Name, l.Name, l.Associate, s.IDs[l.Associate], l.Mailbox)
		}
	}
	day := s.Tomorrow.Format(time.DateOnly)
	fmt.Fprintf(w, `
Try it: an appointment written in SuperOffice for USER1 reaches user1@m365.test.
  eval "$(curl -s '%s/v1/dev?format=env')"
  curl -s -H "Authorization: Bearer $SUPEROFFICE_TOKEN" -H 'Content-Type: application/json' \
    -d '{"Associate":{"AssociateId":%d},"Title":"Lunch with Ada","StartDate":"%sT12:00:00","EndDate":"%sT13:00:00"}' \
    "$SUPEROFFICE_URL/v1/Appointment"
  synchronizer sync demo-m365%s
  curl -s -H "Authorization: Bearer $M365_TOKEN" "$M365_URL/users/user1@m365.test/events?\$select=subject,start&\$top=100" | grep -o 'Lunch with Ada'

`, s.AdminURL, s.IDs[emulators.SuperOfficeUser(1)], day, day, adminFlag)
	if f, ok := w.(*os.File); ok {
		f.Sync()
	}
}
