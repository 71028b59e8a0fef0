// Package emulators runs the three emulated services side by side — SuperOffice
// (sotest), Microsoft 365 (graphtest) and Google (gcaltest), each with its OAuth
// server — for `synchronizer emulate` and `synchronizer run -dev`: one loopback
// listener per service, the accounts SPEC.md names, seeded calendars and diaries, the
// JSON that tells scripts where the services are, and a configuration that points a
// daemon at them.
//
// It lives under cmd because it imports the concrete provider packages' emulators,
// which only cmd may wire in. It never starts a daemon itself.
package emulators

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/superoffice/sotest"
)

// OAuth clients the emulators accept. They are emulator constants, not secrets of
// any real service, so a generated configuration carries them in plain text.
const (
	GoogleClientID     = "synchronizer-emulator.apps.googleusercontent.com"
	GoogleClientSecret = "emulator-google-secret"
)

// Options configure a Cluster.
type Options struct {
	// Addr is where the first service (SuperOffice) listens, host:port. Port 0 (the
	// default "127.0.0.1:0") gives every service a free port; a fixed port P puts
	// Microsoft 365 on P+1 and Google on P+2.
	Addr string
	// AutoConsent makes every emulated sign-in page approve at once as the account
	// in login_hint, so a script can complete consent with `curl -L`.
	AutoConsent bool
	// Licenses is the SuperOffice tenant's purchased user licences (0: sotest's default).
	Licenses int
	// Logger receives the emulators' own log lines (nil: discarded).
	Logger *slog.Logger
	// Now is the emulators' clock (nil: time.Now).
	Now func() time.Time
}

// Service is one emulated service as SPEC.md's JSON shows it: the API root and a
// bearer token that API accepts for every mailbox, calendar and diary.
type Service struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// Info is the JSON `emulate` prints on its first line and `GET /v1/dev` serves.
type Info struct {
	SuperOffice Service `json:"superoffice"`
	M365        Service `json:"m365"`
	Google      Service `json:"google"`
}

// JSON renders info on one line.
func (i Info) JSON() []byte {
	b, err := json.Marshal(i)
	if err != nil { // a struct of strings always marshals
		panic(err)
	}
	return b
}

// Cluster is the three emulators serving on loopback.
type Cluster struct {
	SuperOffice *sotest.Server
	M365        *graphtest.Server
	Google      *gcaltest.Server

	// Bases are the services' roots, scheme://host:port, where /_emulator/ lives.
	SuperOfficeBase string
	M365Base        string
	GoogleBase      string

	servers []*http.Server
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
	closed  bool
}

// Start creates the emulators and serves each on its own listener. Close stops them.
func Start(opts Options) (*Cluster, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	host, portText, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator address %q: want host:port: %w", opts.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65533 {
		return nil, fmt.Errorf("emulator address %q: port must be a number from 0 to 65533", opts.Addr)
	}
	c := &Cluster{
		SuperOffice: sotest.New(sotest.Options{AutoConsent: opts.AutoConsent, Licenses: opts.Licenses,
			Logger: opts.Logger, Now: opts.Now}),
		M365: graphtest.New(graphtest.Options{AutoConsent: opts.AutoConsent, Logger: opts.Logger, Now: opts.Now}),
		Google: gcaltest.New(gcaltest.Options{AutoConsent: opts.AutoConsent, Logger: opts.Logger, Now: opts.Now,
			ClientID: GoogleClientID, ClientSecret: GoogleClientSecret}),
	}
	handlers := []http.Handler{c.SuperOffice, c.M365, c.Google}
	bases := []*string{&c.SuperOfficeBase, &c.M365Base, &c.GoogleBase}
	var lns []net.Listener
	for i := range handlers {
		p := 0
		if port != 0 {
			p = port + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			c.closeEmulators()
			return nil, fmt.Errorf("listen for the %s emulator: %w", serviceNames[i], err)
		}
		lns = append(lns, ln)
		*bases[i] = "http://" + ln.Addr().String()
	}
	for i, ln := range lns {
		srv := &http.Server{Handler: handlers[i], ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		c.servers = append(c.servers, srv)
		c.wg.Add(1)
		go func(name string) {
			defer c.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				c.mu.Lock()
				c.errs = append(c.errs, fmt.Errorf("%s emulator: %w", name, err))
				c.mu.Unlock()
			}
		}(serviceNames[i])
	}
	return c, nil
}

var serviceNames = []string{"SuperOffice", "Microsoft 365", "Google"}

// Info returns the services' API roots and admin tokens.
func (c *Cluster) Info() Info {
	return Info{
		SuperOffice: Service{URL: c.SuperOffice.APIURL(c.SuperOfficeBase), Token: c.SuperOffice.AdminToken()},
		M365:        Service{URL: c.M365Base + "/v1.0", Token: c.M365.AdminToken()},
		Google:      Service{URL: c.GoogleBase + "/calendar/v3", Token: c.Google.AdminToken()},
	}
}

// Close stops the listeners (waiting up to ctx for requests in flight) and the
// emulators' background work. It reports a listener that failed while serving.
func (c *Cluster) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	var errs []error
	for _, srv := range c.servers {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
			errs = append(errs, err)
		}
	}
	c.wg.Wait()
	c.closeEmulators()
	c.mu.Lock()
	errs = append(errs, c.errs...)
	c.mu.Unlock()
	return errors.Join(errs...)
}

func (c *Cluster) closeEmulators() {
	c.SuperOffice.Close()
	c.M365.Close()
	c.Google.Close()
}
