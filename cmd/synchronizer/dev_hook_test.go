package main

import (
	"os"
	"slices"
)

// init lets process tests run `emulate` and `run -dev` from this test binary
// whatever main's dispatch knows: with SYNCHRONIZER_TEST_AS_DEV=1 the binary is
// the synchronizer with those two commands wired in (and `plugin`, for the
// plugins a -dev daemon starts from the same executable).
func init() {
	if os.Getenv("SYNCHRONIZER_TEST_AS_DEV") != "1" {
		return
	}
	args := os.Args[1:]
	switch {
	case len(args) > 0 && args[0] == "plugin":
		os.Exit(cmdPlugin(args[1:]))
	case len(args) > 0 && args[0] == "emulate":
		os.Exit(cmdEmulate(args[1:], os.Stdout, os.Stderr))
	case len(args) > 0 && args[0] == "run" && slices.Contains(args, "-dev"):
		os.Exit(cmdRunDev(slices.DeleteFunc(slices.Clone(args[1:]), func(a string) bool { return a == "-dev" }), os.Stdout, os.Stderr))
	default:
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
}
