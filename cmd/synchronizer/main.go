// Command synchronizer keeps the SuperOffice CRM diary and the calendars of
// Microsoft 365 and Google Workspace in two-way sync.
//
// One binary, many processes: `synchronizer plugin NAME` serves a built-in provider
// plugin and is dispatched before anything else, because any byte on stdout would
// break the plugin handshake.
package main

import (
	"errors"
	"flag"
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
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "sync":
		return cmdSync(args[1:], stdout, stderr)
	case "activate":
		return cmdActivate(args[1:], stdout, stderr)
	case "connect":
		return cmdConnect(args[1:], stdout, stderr)
	case "emulate":
		return cmdEmulate(args[1:], stdout, stderr)
	case "keygen":
		return cmdKeygen(args[1:], stdout, stderr)
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
  run      -config PATH [-admin-address ADDR] [-consent-address ADDR]
                             run the daemon (PATH: a .hcl file or a directory of them)
  run      -dev [-admin-address ADDR] [-consent-address ADDR]
                             the embedded demo: emulated services, demo profiles,
                             consent completed for all links but one, a first sync
  emulate  [-addr ADDR] [-users N] [-resources N] [-events N] [-auto-consent] [-config-out FILE]
                             the emulated services on their own: their URLs and admin
                             tokens as JSON, and a configuration that points a daemon at them
  validate -config PATH      check a configuration; exit 0, or 1 with every problem
  status   [-admin ADDR] [-config PATH] [-json]
                             profiles, links, states, last sync and licences of a
                             running daemon
  sync     PROFILE [LINK] [-dry-run] [-force-delete] [-admin ADDR] [-config PATH]
                             sync now; -dry-run lists what would change, per side
  activate PROFILE LINK [-resend] [-admin ADDR] [-config PATH]
                             print a link's activation URL; -resend issues and mails a new one
  connect  NAME [-admin ADDR] [-config PATH]
                             print the admin consent URL for a superoffice or calendar block
  keygen   -out FILE         create the token encryption key (32 random bytes, mode 0600)
  version                    print the version

Exit codes: 0 ok, 1 failed, 2 usage. "synchronizer COMMAND -h" shows a command's flags.
`)
}

// newFlags makes a command's flag set that reports to stderr.
func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: synchronizer %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses and turns the outcome into an exit code: -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "synchronizer %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	return -1
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments. code is -1 to go on, else the exit code.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos []string, code int) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK
			}
			return nil, exitUsage
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
