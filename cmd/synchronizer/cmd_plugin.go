package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"synchronizer/plugins/sdk"
)

// cmdPlugin serves a built-in provider plugin: `synchronizer plugin NAME`, run by
// the daemon's plugin host. It prints nothing on stdout before the plugin
// handshake, and reads no configuration or state.
func cmdPlugin(args []string) int {
	newP, code := pluginFor(args, os.Stderr)
	if newP == nil {
		return code
	}
	logger := sdk.NewLogger().With("provider", args[0])
	sdk.Serve(newP(logger))
	return exitOK
}

// pluginFor picks the provider args name, or says on stderr why it cannot.
func pluginFor(args []string, stderr io.Writer) (newProvider, int) {
	names := strings.Join(builtinNames(), ", ")
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: synchronizer plugin NAME (built in: %s)\n", names)
		return nil, exitUsage
	}
	newP, ok := builtinProviders()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "synchronizer plugin: no built-in provider %q (built in: %s); external providers are executables synchronizer-plugin-NAME in plugin_dir\n", args[0], names)
		return nil, exitUsage
	}
	return newP, exitOK
}
