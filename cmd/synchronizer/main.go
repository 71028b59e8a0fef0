// Command synchronizer keeps the SuperOffice CRM diary and the calendars of
// Microsoft 365 and Google Workspace in two-way sync.
//
// One binary, many processes: `synchronizer plugin NAME` serves a built-in provider
// plugin and is dispatched before anything else, because any byte on stdout would
// break the plugin handshake.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit codes, as SPEC.md gives them.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		os.Exit(cmdPlugin(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches every subcommand except `plugin`.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "synchronizer: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: synchronizer COMMAND [flags]

Commands:
  version                    print the version
`)
}
