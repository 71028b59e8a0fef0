package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/pluginhost"
	"synchronizer/plugins/sdk"
)

func TestPluginFor(t *testing.T) {
	tests := []struct {
		args     []string
		ok       bool
		code     int
		inStderr string
	}{
		{[]string{"memory"}, true, exitOK, ""},
		{[]string{"m365"}, true, exitOK, ""},
		{[]string{"google"}, true, exitOK, ""},
		{[]string{"superoffice"}, true, exitOK, ""},
		{[]string{"nope"}, false, exitUsage, `no built-in provider "nope"`},
		{nil, false, exitUsage, "usage: synchronizer plugin NAME"},
		{[]string{"m365", "extra"}, false, exitUsage, "usage:"},
	}
	for _, tc := range tests {
		var stderr bytes.Buffer
		newP, code := pluginFor(tc.args, &stderr)
		if (newP != nil) != tc.ok || code != tc.code || !strings.Contains(stderr.String(), tc.inStderr) {
			t.Errorf("pluginFor(%q) = %v, %d, stderr %q", tc.args, newP != nil, code, stderr.String())
		}
		if tc.ok && stderr.Len() != 0 {
			t.Errorf("pluginFor(%q) wrote %q", tc.args, stderr.String())
		}
	}
}

func TestBuiltinProvidersNameThemselves(t *testing.T) {
	for name, newP := range builtinProviders() {
		info, err := newP(nil).Info(context.Background())
		if err != nil {
			t.Errorf("%s: Info: %v", name, err)
			continue
		}
		if info.Name != name {
			t.Errorf("provider built in as %q says its name is %q", name, info.Name)
		}
	}
}

// buildSelf builds this command into a temporary directory.
func buildSelf(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "synchronizer")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command(gobin, append(args, "synchronizer/cmd/synchronizer")...).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestBuiltinPluginsServeFromTheBinary starts `synchronizer plugin NAME` for
// every built-in provider through the plugin host and calls it; and checks that
// an unknown name exits 2 with a message on stderr and nothing on stdout.
func TestBuiltinPluginsServeFromTheBinary(t *testing.T) {
	bin := buildSelf(t)

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "plugin", "nope")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
		t.Fatalf("plugin nope: %v, want exit %d", err, exitUsage)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), `"nope"`) {
		t.Fatalf("plugin nope: stdout %q, stderr %q", stdout.String(), stderr.String())
	}

	runtime, err := os.MkdirTemp("", "sp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(runtime)
	h, err := pluginhost.New(pluginhost.Options{RuntimeDir: runtime})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range builtinNames() {
		p, err := h.Add(pluginhost.Spec{Name: name, Path: bin, Args: []string{"plugin", name}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := p.Info(ctx)
		if err != nil {
			t.Errorf("%s: Info: %v", name, err)
			continue
		}
		if info.Name != name || info.ProtocolVersion != sdk.ProtocolVersion {
			t.Errorf("%s: Info = %+v", name, info)
		}
	}
}
