package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"synchronizer/daemon/config"
	"synchronizer/daemon/web"
)

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", "[-admin ADDR] [-config PATH] [-json]", stderr)
	admin := fs.String("admin", "", "admin address of the running daemon (default: the config's http.admin_address, else "+config.DefaultAdminAddress+")")
	path := fs.String("config", "", "configuration to take http.admin_address from")
	asJSON := fs.Bool("json", false, "print the daemon's JSON as it is")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	addr, err := adminAddress(*admin, *path)
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer status: %v\n", err)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	body, err := fetchStatus(ctx, addr)
	if err != nil {
		fmt.Fprintf(stderr, "synchronizer status: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		stdout.Write(body)
		return exitOK
	}
	var st web.Status
	if err := json.Unmarshal(body, &st); err != nil {
		fmt.Fprintf(stderr, "synchronizer status: the daemon at %s answered something that is not status JSON: %v\n", addr, err)
		return exitFailed
	}
	renderStatus(stdout, st, time.Now())
	return exitOK
}

// adminAddress finds the daemon: -admin, else the configuration's
// admin_address, else the default.
func adminAddress(flagValue, configPath string) (string, error) {
	addr := flagValue
	if addr == "" && configPath != "" {
		a, err := config.AdminAddress(configPath, config.Options{})
		if err != nil {
			return "", fmt.Errorf("read admin_address: %w", err)
		}
		addr = a
	}
	if addr == "" {
		addr = config.DefaultAdminAddress
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("admin address %q is not host:port", addr)
	}
	// A daemon listening on every interface is reached on loopback.
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

func fetchStatus(ctx context.Context, addr string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no synchronizer is listening on %s: is it running (systemctl status synchronizer), and is that its admin_address?", addr)
		}
		return nil, fmt.Errorf("cannot reach the synchronizer at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read status from %s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e web.ErrorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("the synchronizer at %s said: %s (HTTP %d)", addr, e.Error, resp.StatusCode)
		}
		return nil, fmt.Errorf("the synchronizer at %s answered HTTP %d", addr, resp.StatusCode)
	}
	return body, nil
}

// renderStatus prints the status as tables for a person.
func renderStatus(w io.Writer, st web.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tLICENCES\tUSED")
	for _, t := range st.Tenants {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Name, t.Licenses, t.LicensesUsed)
	}
	tw.Flush()
	for _, p := range st.Profiles {
		fmt.Fprintf(w, "\nPROFILE %s (tenant %s, calendar %s)\n", p.Name, p.Tenant, p.Calendar)
		if len(p.Links) == 0 {
			fmt.Fprintln(w, "  no links")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  LINK\tKIND\tSTATE\tLAST SYNC\tITEMS\tSUPEROFFICE\tMAILBOX")
		for _, l := range p.Links {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", l.Name, l.Kind, l.State, ago(l.LastSync, now), l.Items, l.Associate, l.Mailbox)
		}
		tw.Flush()
		for _, l := range p.Links {
			if l.LastError != "" {
				fmt.Fprintf(w, "  %s: %s\n", l.Name, l.LastError)
			}
			if l.ActivationURL != "" {
				fmt.Fprintf(w, "  %s: activation link %s\n", l.Name, l.ActivationURL)
			}
		}
	}
}

func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	d := now.Sub(*t)
	switch {
	case d < 0:
		return t.UTC().Format("2006-01-02 15:04Z")
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	default:
		return t.UTC().Format("2006-01-02 15:04Z")
	}
}
