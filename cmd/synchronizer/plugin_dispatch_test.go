package main

import (
	"os"

	"synchronizer/plugins/sdk"
)

// init serves a built-in plugin when the plugin host starts this test binary as
// one: a daemon run from the test binary (SYNCHRONIZER_TEST_AS_MAIN) launches
// its plugins as `os.Executable() plugin NAME` with a minimal environment that
// carries only the handshake cookie.
func init() {
	if len(os.Args) > 2 && os.Args[1] == "plugin" && os.Getenv(sdk.MagicCookieKey) == sdk.MagicCookieValue {
		os.Exit(cmdPlugin(os.Args[2:]))
	}
}
