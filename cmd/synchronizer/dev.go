package main

import (
	"fmt"
	"io"
)

// cmdRunDev is `synchronizer run -dev`: the embedded demo.
func cmdRunDev(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "synchronizer run -dev: not built yet")
	return exitFailed
}
