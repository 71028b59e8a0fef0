package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
