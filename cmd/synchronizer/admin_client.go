package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"synchronizer/daemon/config"
	"synchronizer/daemon/web"
)

// The commands that talk to a running daemon (status, sync, activate, connect)
// share how they find it, how they ask it, and how they tell what it refused.

// maxAdminAnswer bounds what is read of an answer: a status of many links, or a
// sync that lists every change it made.
const maxAdminAnswer = 64 << 20

// adminFlags are the -admin and -config flags that say where the daemon is.
type adminFlags struct{ admin, config *string }

func addAdminFlags(fs *flag.FlagSet) adminFlags {
	return adminFlags{
		admin:  fs.String("admin", "", "admin address of the running daemon (default: the config's http.admin_address, else "+config.DefaultAdminAddress+")"),
		config: fs.String("config", "", "configuration to take http.admin_address from"),
	}
}

// address finds the daemon the flags name (see adminAddress).
func (f adminFlags) address() (string, error) { return adminAddress(*f.admin, *f.config) }

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

// adminGet asks the daemon at addr for path (see adminDo).
func adminGet(ctx context.Context, addr, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	return adminDo(req, addr)
}

// adminPost posts the JSON body to path on the daemon at addr (see adminDo).
func adminPost(ctx context.Context, addr, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return adminDo(req, addr)
}

// adminDo sends one request to the daemon's admin API and returns the status
// code and the answer. It fails only when the daemon cannot be reached or its
// answer read; what another status than 200 means is the caller's to say.
func adminDo(req *http.Request, addr string) (int, []byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return 0, nil, fmt.Errorf("no synchronizer is listening on %s: is it running (systemctl status synchronizer), and is that its admin_address?", addr)
		}
		return 0, nil, fmt.Errorf("cannot reach the synchronizer at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("read the answer of %s: %w", addr, err)
	}
	return resp.StatusCode, raw, nil
}

// daemonSaid is the reason the daemon gave with a refusal (web.ErrorBody), or
// "" when it gave none.
func daemonSaid(raw []byte) string {
	var e web.ErrorBody
	if json.Unmarshal(raw, &e) != nil {
		return ""
	}
	return e.Error
}

// refusal is the error for an answer other than 200: the daemon's reason when
// it gave one, else the status.
func refusal(addr string, status int, raw []byte) error {
	if msg := daemonSaid(raw); msg != "" {
		return fmt.Errorf("the synchronizer at %s said: %s (HTTP %d)", addr, msg, status)
	}
	return fmt.Errorf("the synchronizer at %s answered HTTP %d", addr, status)
}

// commandFailed reports err as the failure of command and returns its exit code.
func commandFailed(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "synchronizer %s: %v\n", command, err)
	return exitFailed
}
