package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"synchronizer/daemon/web"
)

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", "[-admin ADDR] [-config PATH] [-json]", stderr)
	daemon := addAdminFlags(fs)
	asJSON := fs.Bool("json", false, "print the daemon's JSON as it is")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	addr, err := daemon.address()
	if err != nil {
		return commandFailed(stderr, "status", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	body, err := fetchStatus(ctx, addr)
	if err != nil {
		return commandFailed(stderr, "status", err)
	}
	if *asJSON {
		stdout.Write(body)
		return exitOK
	}
	var st web.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return commandFailed(stderr, "status", fmt.Errorf("the daemon at %s answered something that is not status JSON: %v", addr, err))
	}
	renderStatus(stdout, st, time.Now())
	return exitOK
}

func fetchStatus(ctx context.Context, addr string) ([]byte, error) {
	status, body, err := adminGet(ctx, addr, "/v1/status")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, refusal(addr, status, body)
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
