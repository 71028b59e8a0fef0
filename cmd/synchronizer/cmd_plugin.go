package main

import (
	"fmt"
	"os"
)

// cmdPlugin serves a built-in provider plugin. It must print nothing on stdout
// before the plugin handshake.
func cmdPlugin(args []string) int {
	fmt.Fprintln(os.Stderr, "synchronizer plugin: no built-in providers yet")
	return exitUsage
}
