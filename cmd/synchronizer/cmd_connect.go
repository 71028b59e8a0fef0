package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"synchronizer/daemon/oauth"
)

// cmdConnect is `synchronizer connect NAME`: it opens the admin setup of a
// superoffice or calendar block (tenant-level access) and prints its URL. The
// URL goes to stdout alone; the instructions go to stderr.
func cmdConnect(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("connect", "NAME [-json] [-admin ADDR] [-config PATH]", stderr)
	asJSON := fs.Bool("json", false, "print the daemon's JSON answer")
	daemon := addAdminFlags(fs)
	pos, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "synchronizer connect: name one superoffice or calendar block")
		fs.Usage()
		return exitUsage
	}
	name := pos[0]
	addr, err := daemon.address()
	if err != nil {
		return commandFailed(stderr, "connect", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), consentCommandTimeout)
	defer cancel()
	raw, err := postAdmin(ctx, addr, "/v1/connections/"+url.PathEscape(name)+"/setup", nil)
	if err != nil {
		return commandFailed(stderr, "connect", err)
	}
	var res oauth.SetupResult
	if err := json.Unmarshal(raw, &res); err != nil || res.URL == "" {
		return commandFailed(stderr, "connect", fmt.Errorf("the daemon at %s answered something that is not a setup: %s", addr, clipText(raw, 200)))
	}
	if *asJSON {
		stdout.Write(raw)
		return exitOK
	}
	fmt.Fprintln(stdout, res.URL)
	fmt.Fprintf(stderr, "Open this link in a browser and sign in as an administrator of %s (%s). It works once, until %s.\n",
		res.Name, res.Provider, res.Expires.Local().Format("2006-01-02 15:04 MST"))
	if res.Connected != "" {
		fmt.Fprintf(stderr, "Access is currently granted by %s; signing in again replaces it.\n", res.Connected)
	}
	return exitOK
}
