package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"synchronizer/cmd/synchronizer/internal/emulators"
)

// chromiumPath finds Debian's chromium. Outside CI a machine without it skips the
// browser test; in CI (CI set, as .ci/run installs chromium) its absence fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI needs the browser test: apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium); the browser test runs in CI")
	return ""
}

// artifactDir is where the browser test keeps its screenshots: $TEST_ARTIFACTS
// when set, else the test's artifact directory (kept with go test -artifacts).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.ArtifactDir()
	if base := os.Getenv("TEST_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// A person opens the pending activation link of a `run -dev` daemon in a real
// browser, presses the button, allows access on the emulated provider's sign-in
// page, lands on the success page, and the link turns active. Opening the used link again shows
// why it no longer works.
func TestBrowserActivation(t *testing.T) {
	chromium := chromiumPath(t)
	t.Parallel()
	shots := artifactDir(t)
	d := startDemo(t)
	activation, err := url.Parse(d.activation)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1024, 768),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("page text: %v", err)
		}
		return s
	}

	// The activation page names the account and has a button to sign in.
	resp, err := chromedp.Run(bctx, chromedp.NavigateResponse(d.activation))
	if err != nil {
		t.Fatalf("open %s: %v", redactPath(d.activation), err)
	}
	shot("01-activation.png")
	page := text()
	if resp.Status != 200 || !strings.Contains(page, emulators.GoogleUser(4)) {
		t.Fatalf("activation page: HTTP %d:\n%s", resp.Status, page)
	}
	button := chromedp.CSS(`a[href$="/go"]`)
	if err := chromedp.Do(bctx, chromedp.WaitVisible(button)); err != nil {
		t.Fatalf("no sign-in button on the activation page: %v\n%s", err, page)
	}

	// The button leads to the emulated provider's sign-in page, suggesting the
	// linked account; Allow sends the browser back to the daemon's callback.
	if _, err := chromedp.RunResponse(bctx, chromedp.Click(button)); err != nil {
		t.Fatalf("press the button: %v", err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	shot("02-sign-in.png")
	signIn := text()
	if u, _ := url.Parse(loc); u == nil || u.Host == activation.Host || !strings.Contains(signIn, "calendar") {
		t.Fatalf("after the button: %s, want the emulated Google sign-in:\n%s", loc, signIn)
	}
	account, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`input[name="account"]`)))
	if err != nil || account != emulators.GoogleUser(4) {
		t.Fatalf("the sign-in page suggests %q (%v), want %s", account, err, emulators.GoogleUser(4))
	}
	resp, err = chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
	if err != nil {
		t.Fatalf("at %s: Allow: %v\n%s", loc, err, signIn)
	}
	if loc, err = chromedp.Run(bctx, chromedp.Location()); err != nil {
		t.Fatal(err)
	}
	shot("03-done.png")
	done := text()
	if u, _ := url.Parse(loc); u == nil || u.Path != "/oauth/callback" || resp.Status != 200 {
		t.Fatalf("after signing in: %s, HTTP %d:\n%s\nstderr:\n%s", loc, resp.Status, done, d.p.log())
	}
	if !strings.Contains(done, emulators.GoogleUser(4)) {
		t.Errorf("the success page does not name the account:\n%s", done)
	}

	// The link turns active (its first sync may still be running).
	deadline := time.Now().Add(time.Minute)
	for {
		l := d.link(t, emulators.DemoPendingProfile, emulators.DemoPendingLink)
		if l.State == "active" && l.ActivationURL == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the link is still %s after a minute: %+v\nstderr:\n%s", l.State, l, d.p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The link was single-use: opening it again says so, with a status to match.
	resp, err = chromedp.Run(bctx, chromedp.NavigateResponse(d.activation))
	if err != nil {
		t.Fatal(err)
	}
	shot("04-used-again.png")
	if again := text(); resp.Status < 400 {
		t.Errorf("the used activation link answers HTTP %d:\n%s", resp.Status, again)
	}
	d.stop(t)
}
