package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"synchronizer/cmd/synchronizer/internal/emulators"
)

// Limits of `emulate`: enough for load tests, small enough that a typo does not
// fill the machine's memory.
const (
	maxEmulatedAccounts = 1000
	maxEmulatedEvents   = 100000
)

func cmdEmulate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("emulate", "[-addr ADDR] [-users N] [-resources N] [-events N] [-auto-consent] [-config-out FILE]", stderr)
	addr := fs.String("addr", "127.0.0.1:0", "where the SuperOffice emulator listens; port 0 picks free ports for all three,\na fixed port P puts Microsoft 365 on P+1 and Google on P+2")
	users := fs.Int("users", 2, "users USER1..N / user1@m365.test / user1@google.test")
	resources := fs.Int("resources", 1, "resources ROOM1..N / room1@m365.test / room1@resource.google.test")
	events := fs.Int("events", 20, "items seeded into every diary and calendar")
	autoConsent := fs.Bool("auto-consent", false, "sign-in pages approve at once as the account in login_hint")
	configOut := fs.String("config-out", "", "write a configuration that points a daemon at the emulators (with its key, partner key and data_dir beside it)")
	seed := fs.Int64("seed", 1, "seed of the generated items")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	for _, c := range []struct {
		name string
		v    int
		max  int
	}{{"users", *users, maxEmulatedAccounts}, {"resources", *resources, maxEmulatedAccounts}, {"events", *events, maxEmulatedEvents}} {
		if c.v < 0 || c.v > c.max {
			fmt.Fprintf(stderr, "synchronizer emulate: -%s %d: want 0 to %d\n", c.name, c.v, c.max)
			return exitUsage
		}
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		fmt.Fprintf(stderr, "synchronizer emulate: -addr %q is not host:port\n", *addr)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Enough licences for every link of the generated configuration (both
	// profiles link every user and resource), read from the tenant or the config.
	licenses := max(2*(*users+*resources), 10)
	cl, err := emulators.Start(emulators.Options{Addr: *addr, AutoConsent: *autoConsent, Licenses: licenses})
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer emulate: %v\n", err)
		return exitFailed
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.Close(sctx); err != nil {
			fmt.Fprintf(stderr, "synchronizer emulate: %v\n", err)
		}
	}()
	ids, err := cl.Populate(*users, *resources)
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer emulate: %v\n", err)
		return exitFailed
	}
	if err := cl.SeedEvents(*users, *resources, *events, *seed); err != nil {
		fmt.Fprintf(stderr, "synchronizer emulate: %v\n", err)
		return exitFailed
	}
	var cfgPath string
	if *configOut != "" {
		cfgPath, err = writeEmulateConfig(cl, *configOut, *users, *resources, licenses)
		if err != nil {
			fmt.Fprintf(stderr, "synchronizer emulate: %v\n", err)
			return exitFailed
		}
	}

	info := cl.Info()
	fmt.Fprintf(stdout, "%s\n", info.JSON())
	printEmulators(stdout, cl, info)
	printAccounts(stdout, ids, *users, *resources, *events)
	if *autoConsent {
		fmt.Fprintln(stdout, "Sign-in pages approve at once as the account in login_hint.")
	} else {
		fmt.Fprintln(stdout, "Sign-in pages show a form to approve or deny (-auto-consent approves at once).")
	}
	if cfgPath != "" {
		printEmulateConfig(stdout, cfgPath, *autoConsent)
	}
	fmt.Fprintln(stdout, "Serving until interrupted (Ctrl-C).")
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}

	<-ctx.Done()
	fmt.Fprintln(stderr, "synchronizer emulate: stopping")
	return exitOK
}

// writeEmulateConfig writes the configuration, its key and partner key, and picks
// the daemon's listener ports. It returns the absolute path written.
func writeEmulateConfig(cl *emulators.Cluster, out string, users, resources, licenses int) (string, error) {
	path, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("-config-out %s: %w", out, err)
	}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return "", fmt.Errorf("-config-out %s is a directory; name the .hcl file to write", out)
	}
	stem := strings.TrimSuffix(path, filepath.Ext(path))
	consent, err := freeLoopbackAddr()
	if err != nil {
		return "", err
	}
	admin, err := freeLoopbackAddr()
	if err != nil {
		return "", err
	}
	err = cl.WriteConfig(emulators.ConfigFile{
		Path:           path,
		Layout:         emulators.EmulateLayout(users, resources),
		DataDir:        stem + "-data",
		KeyFile:        stem + ".key",
		ConsentAddress: consent,
		AdminAddress:   admin,
		UserLicenses:   licenses,
		Header: []string{
			"Written by `synchronizer emulate`: a daemon pointed at the emulated services.",
			"The emulators keep their data in memory: restart them and this file is stale",
			"(their ports and keys change), so write it again with -config-out.",
		},
	})
	if err != nil {
		return "", err
	}
	return path, nil
}

// printEmulateConfig says how to run a daemon on the written configuration and
// grant it access.
func printEmulateConfig(w io.Writer, path string, autoConsent bool) {
	fmt.Fprintf(w, "Configuration: %s (tenant emu, profiles emu-m365 and emu-google)\n", path)
	fmt.Fprintf(w, "  synchronizer run -config %s\n", path)
	fmt.Fprintf(w, "  synchronizer status -config %s\n", path)
	fmt.Fprintf(w, "Access: the SuperOffice system user (synchronizer connect emu; sign in as %s), the Google admin\n", emulators.SuperOfficeAdmin)
	fmt.Fprintf(w, "connection for resource calendars (synchronizer connect emugw; as %s), and an activation\n", emulators.GoogleAdmin)
	fmt.Fprintln(w, "per Microsoft 365 link and Google user (synchronizer activate PROFILE LINK).")
	if autoConsent {
		fmt.Fprintln(w, "By script (the sign-in pages approve at once; curl keeps the consent cookie with -c):")
		fmt.Fprintf(w, "  curl -sL -c /dev/null -o /dev/null \"$(synchronizer connect emu -config %s)/go?login_hint=%s\"\n", path, emulators.SuperOfficeAdmin)
		fmt.Fprintf(w, "  curl -sL -c /dev/null -o /dev/null \"$(synchronizer connect emugw -config %s)/go\"\n", path)
		fmt.Fprintf(w, "  curl -sL -c /dev/null -o /dev/null \"$(synchronizer activate emu-m365 user1 -config %s)/go\"   # and so on\n", path)
	}
}

// freeLoopbackAddr picks a loopback port nobody listens on right now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

func printEmulators(w io.Writer, cl *emulators.Cluster, info emulators.Info) {
	fmt.Fprintf(w, "SuperOffice    %s  tenant %s, API %s\n", cl.SuperOfficeBase, cl.SuperOffice.ContextID(), info.SuperOffice.URL)
	fmt.Fprintf(w, "Microsoft 365  %s  tenant %s, API %s\n", cl.M365Base, cl.M365.TenantID(), info.M365.URL)
	fmt.Fprintf(w, "Google         %s  domain %s, API %s\n", cl.GoogleBase, emulators.GoogleDomain, info.Google.URL)
	fmt.Fprintln(w, "Each serves its test surface at /_emulator/ (stats, faults, reset); send the token as Authorization: Bearer TOKEN.")
}

func printAccounts(w io.Writer, ids map[string]int, users, resources, events int) {
	for i := 1; i <= users; i++ {
		fmt.Fprintf(w, "user %d: SuperOffice %s (associate id %d), %s, %s\n", i, emulators.SuperOfficeUser(i),
			ids[emulators.SuperOfficeUser(i)], emulators.M365User(i), emulators.GoogleUser(i))
	}
	for i := 1; i <= resources; i++ {
		fmt.Fprintf(w, "resource %d: SuperOffice %s (associate id %d), %s, %s\n", i, emulators.SuperOfficeResource(i),
			ids[emulators.SuperOfficeResource(i)], emulators.M365Room(i), emulators.GoogleResource(i))
	}
	fmt.Fprintf(w, "administrators: SuperOffice %s (associate id %d), %s, %s\n", emulators.SuperOfficeAdmin,
		ids[emulators.SuperOfficeAdmin], emulators.M365Admin, emulators.GoogleAdmin)
	fmt.Fprintf(w, "%d items seeded into every diary and calendar\n", events)
}
