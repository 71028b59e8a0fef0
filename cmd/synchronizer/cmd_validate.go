package main

import (
	"fmt"
	"io"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/config"
	"synchronizer/daemon/license"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "-config PATH", stderr)
	path := fs.String("config", "", "configuration: a .hcl file or a directory of *.hcl files")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "synchronizer validate: -config PATH is required")
		fs.Usage()
		return exitUsage
	}
	cfg, res := agent.LoadConfig(*path, config.Options{}, agent.Overrides{})
	if err := res.Write(stderr, 0, false); err != nil {
		fmt.Fprintf(stderr, "synchronizer validate: %v\n", err)
		return exitFailed
	}
	if cfg == nil {
		n := res.Errors()
		plural := "s"
		if n == 1 {
			plural = ""
		}
		fmt.Fprintf(stderr, "%s: %d problem%s found\n", *path, n, plural)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s: valid: %d tenants, %d calendar systems, %d profiles, %d links\n",
		*path, len(cfg.SuperOffice), len(cfg.Calendars), len(cfg.Profiles), len(cfg.Links()))
	for _, t := range license.Evaluate(cfg, nil).Tenants {
		if t.FromConfig {
			fmt.Fprintf(stdout, "tenant %s: %d of %d licences used (user_licenses = %d", t.Name, t.Used(), t.Cap, t.UserLicenses)
			if t.Resources {
				fmt.Fprintf(stdout, ", +%d for resources", license.ResourceBonus)
			}
			fmt.Fprintln(stdout, ")")
			continue
		}
		fmt.Fprintf(stdout, "tenant %s: licence cap not checked here: the user-licence count is read from SuperOffice at run time (set user_licenses to check it now)\n", t.Name)
	}
	return exitOK
}
