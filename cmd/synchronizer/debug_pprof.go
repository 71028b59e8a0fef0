package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"
)

// pprofEnv names a loopback address where `synchronizer run` serves Go's
// profiles (/debug/pprof/) for performance work: SYNCHRONIZER_PPROF=127.0.0.1:6060.
// Its plugins then serve theirs too, each on a free loopback port it names on
// stderr (which the daemon logs; stdout belongs to the plugin handshake). Unset
// (always, in production) nothing listens.
// SYNCHRONIZER_PPROF_EMULATE does the same for `synchronizer emulate`.
const (
	pprofEnv        = "SYNCHRONIZER_PPROF"
	pprofPluginEnv  = "SYNCHRONIZER_PPROF_PLUGIN"
	pprofEmulateEnv = "SYNCHRONIZER_PPROF_EMULATE"
)

func init() {
	if len(os.Args) < 2 {
		return
	}
	addr := ""
	switch os.Args[1] {
	case "run":
		addr = os.Getenv(pprofEnv)
	case "plugin":
		if os.Getenv(pprofPluginEnv) == "1" {
			addr = "127.0.0.1:0"
		}
	case "emulate":
		addr = os.Getenv(pprofEmulateEnv)
	}
	if addr == "" {
		return
	}
	if err := servePprof(addr); err != nil {
		fmt.Fprintf(os.Stderr, "synchronizer: %s: %v\n", pprofEnv, err)
	}
}

// pluginPprofEnv is what plugins get added to their environment: the switch
// that has them serve profiles when the daemon does.
func pluginPprofEnv() []string {
	if os.Getenv(pprofEnv) == "" {
		return nil
	}
	return []string{pprofPluginEnv + "=1"}
}

// servePprof listens on addr, which must be a loopback address.
func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address; profiles are never served elsewhere", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(100)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "synchronizer: profiles at http://%s/debug/pprof/\n", ln.Addr())
	go srv.Serve(ln)
	return nil
}
