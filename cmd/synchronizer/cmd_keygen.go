package main

import (
	"fmt"
	"io"

	"synchronizer/daemon/state"
)

func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", "-out FILE", stderr)
	out := fs.String("out", "", "file to create (mode 0600; an existing file is never overwritten)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "synchronizer keygen: -out FILE is required")
		fs.Usage()
		return exitUsage
	}
	if err := state.WriteKeyFile(*out, nil); err != nil {
		fmt.Fprintf(stderr, "synchronizer keygen: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "wrote a %d-byte key to %s (mode 0600)\n", state.KeySize, *out)
	fmt.Fprintln(stdout, "Point encryption.key_file at it and keep a copy in a safe place: without it every link must consent again.")
	return exitOK
}
