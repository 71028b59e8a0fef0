package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"synchronizer/plugins/providertest"
	"synchronizer/plugins/sdk"
)

// buildMemoryPlugin builds the example external plugin into a fresh plugin_dir
// and returns the directory and the binary's sha256.
func buildMemoryPlugin(t *testing.T) (dir, sum string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the example plugin")
	}
	dir = t.TempDir()
	bin := filepath.Join(dir, "synchronizer-plugin-memory")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(gobin, append(args, "synchronizer/plugins/memory/cmd/synchronizer-plugin-memory")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the example plugin: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return dir, hex.EncodeToString(h[:])
}

// TestExternalPluginFromPluginDir loads the example plugin the way the daemon
// loads a third party's: from plugin_dir, pinned by sha256, in its own process —
// and runs the conformance suite against it.
func TestExternalPluginFromPluginDir(t *testing.T) {
	dir, sum := buildMemoryPlugin(t)
	spec, err := ExternalSpec(dir, "memory", sum)
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHost(t, Options{})
	p, err := h.Add(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	info, err := p.Info(ctx)
	if err != nil {
		t.Fatalf("Info from the external plugin: %v", err)
	}
	if info.Name != "memory" || info.ProtocolVersion != sdk.ProtocolVersion {
		t.Fatalf("Info = %+v", info)
	}

	base := map[string]string{"token": "good"}
	with := func(extra map[string]string) map[string]string {
		s := maps.Clone(base)
		maps.Copy(s, extra)
		return s
	}
	configure := func(t *testing.T, s map[string]string) {
		t.Helper()
		if err := p.Configure(ctxT(t), "acme", s); err != nil {
			t.Fatalf("Configure: %v", err)
		}
	}
	var mu sync.Mutex
	n := 0
	providertest.Run(t, providertest.Harness{
		Provider: p,
		Instance: "acme",
		Settings: base,
		NewTarget: func(*testing.T) sdk.Target {
			mu.Lock()
			defer mu.Unlock()
			n++
			return sdk.Target{Instance: "acme", Account: fmt.Sprintf("user%d@example.test", n),
				Credential: sdk.Credential{Type: "bearer", Token: "good"}}
		},
		Attendees: []sdk.Attendee{{Email: "room1@example.test", Type: sdk.AttendeeResource, Response: sdk.ResponseAccepted}},
		Category:  "Meeting",
		ExpireCursors: func(t *testing.T) {
			configure(t, with(map[string]string{"expire_cursors": "true"}))
			configure(t, base)
		},
		Throttle: func(t *testing.T, _ sdk.Target) (time.Duration, func()) {
			// The suite makes two calls while throttled.
			configure(t, with(map[string]string{"throttle_next": "2", "throttle_retry_after": "7s"}))
			return 7 * time.Second, func() { configure(t, base) }
		},
		BadCredential: func(_ *testing.T, tg sdk.Target) sdk.Target {
			tg.Credential.Token = "revoked"
			return tg
		},
		Skip: map[string]string{
			"BadResponses": "the memory provider keeps its calendars in process: no service answers it, so none can be broken",
		},
	})
	if st := p.Status(); st.Restarts != 0 || !st.Running {
		t.Errorf("the plugin was restarted during the suite: %+v", st)
	}
}

// TestExternalPluginRestartsConfigured SIGKILLs the external plugin between calls:
// the next call starts a new process with the instance configured again. (The
// kill in the middle of a call is TestSIGKILLMidCallThenRestart's.)
func TestExternalPluginRestartsConfigured(t *testing.T) {
	dir, _ := buildMemoryPlugin(t)
	spec, err := ExternalSpec(dir, "memory", "")
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHost(t, Options{})
	p, err := h.Add(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := p.Configure(ctx, "acme", map[string]string{"user_licenses": "42"}); err != nil {
		t.Fatal(err)
	}
	pid := p.Status().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, 5*time.Second)
	// A call racing the host's notice of the exit fails like a call in flight;
	// this test is about the call after it.
	waitNoticed(t, p)
	l, err := p.Licenses(ctx, sdk.Target{Instance: "acme"})
	if err != nil || l.UserLicenses != 42 {
		t.Fatalf("Licenses after the kill = %+v, %v", l, err)
	}
	if st := p.Status(); st.Restarts != 1 || st.PID == pid || !st.Running {
		t.Fatalf("status = %+v (old pid %d)", st, pid)
	}
	if n, _ := h.metrics.counts("memory"); n != 1 {
		t.Fatalf("restart counter = %d", n)
	}
}
