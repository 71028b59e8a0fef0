package superoffice

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"synchronizer/plugins/internal/httppool"
	"synchronizer/plugins/sdk"
)

// Name is the provider's name.
const Name = "superoffice"

// Defaults of the tuning settings (see Configure).
const (
	defaultStateTTL     = 10 * time.Minute
	defaultCursorMaxAge = 24 * time.Hour
	defaultHorizon      = 2 * 365 * 24 * time.Hour
	defaultPageSize     = 500
	defaultScanPage     = 5000
	requestTimeout      = 60 * time.Second
)

// Provider is the SuperOffice provider. One Provider serves every configured
// SuperOffice tenant (instance). It is safe for concurrent use.
type Provider struct {
	logger *slog.Logger

	mu        sync.Mutex
	instances map[string]*instance
	now       func() time.Time
	transport http.RoundTripper
}

// New returns a Provider with no instances.
func New(logger *slog.Logger) *Provider {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{logger: logger, instances: map[string]*instance{}, now: time.Now, transport: httppool.Transport()}
}

// SetClock replaces the clock (tests). It affects instances configured afterwards.
func (p *Provider) SetClock(now func() time.Time) {
	p.mu.Lock()
	p.now = now
	p.mu.Unlock()
}

// SetTransport replaces the HTTP transport under the instrumented one (tests that
// record or rewrite traffic). It affects instances configured afterwards.
func (p *Provider) SetTransport(rt http.RoundTripper) {
	p.mu.Lock()
	p.transport = rt
	p.mu.Unlock()
}

// Info implements sdk.Provider.
func (p *Provider) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, ProtocolVersion: sdk.ProtocolVersion, Capabilities: sdk.Capabilities{
		IncrementalChanges: true, Recurrence: true, CorrelationLookup: true, Directory: true, Licenses: true,
		Push: true, PushScope: sdk.PushScopeInstance,
	}}, nil
}

// instance is one configured tenant.
type instance struct {
	name   string
	logger *slog.Logger
	now    func() time.Time
	http   *http.Client

	onsite       bool
	root         string // login and state host (online)
	baseURL      string // installation URL (onsite), API at baseURL + /api
	contextID    string
	environment  string
	clientID     string
	clientSecret string
	partnerKey   *rsa.PrivateKey
	username     string
	password     string
	resources    bool

	stateTTL     time.Duration
	cursorMaxAge time.Duration
	horizon      time.Duration
	scanPage     int

	mu    sync.Mutex
	cache instanceCache
	// orphans are created appointments that could be neither marked nor deleted
	// (orphans.go), by diary and id.
	orphans map[string]orphan
	// flate keeps the cursors' compressors for reuse (changes.go).
	flate sync.Pool
	// bodies keeps the buffers answers are read into (client.go).
	bodies bodyPool
	// snapIDs keeps the ids of each diary's last snapshot (changes.go).
	snapIDs snapshotIDs
	// created remembers the rows created here lately (created.go).
	created createdLog
}

// Configure implements sdk.Provider. Settings (all strings):
//
//	endpoint       root URL replacing https://{env}.superoffice.com (emulators, tests)
//	context_id     tenant, e.g. Cust12345 (online)
//	environment    online | stage | sod (default online)
//	client_id      application id; client_secret is also the application token
//	partner_key    PEM of the partner's RSA private key (system-user flow)
//	base_url       onsite installation URL (https://crm.example.com/SuperOffice);
//	               username and password for its Basic authentication
//	resources      "true" when resource sync is on
//
// Tuning, for tests: tenant_state_ttl (how long a resolved tenant host is used
// before the state API is asked again, default 10m), cursor_max_age (a change
// cursor older than this forces a full read, default 24h), series_horizon (where
// a series without end is cut, default 730 days), scan_page (ids per scan page,
// default 5000).
func (p *Provider) Configure(ctx context.Context, name string, settings map[string]string) error {
	p.mu.Lock()
	now, rt := p.now, p.transport
	p.mu.Unlock()
	inst := &instance{name: name, logger: p.logger.With("provider", Name, "instance", name), now: now,
		stateTTL: defaultStateTTL, cursorMaxAge: defaultCursorMaxAge, horizon: defaultHorizon, scanPage: defaultScanPage}
	inst.http = &http.Client{Transport: sdk.InstrumentedTransport(rt), Timeout: requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(k string) string { return strings.TrimSpace(settings[k]) }
	var problems []string
	inst.clientID, inst.clientSecret = get("client_id"), settings["client_secret"]
	inst.username, inst.password = get("username"), settings["password"]
	inst.resources = strings.EqualFold(get("resources"), "true")
	if base := get("base_url"); base != "" {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("base_url %q is not an http(s) URL", base))
		}
		inst.onsite = true
		inst.baseURL = strings.TrimRight(base, "/")
		inst.baseURL = strings.TrimSuffix(inst.baseURL, "/api")
		inst.contextID = get("context_id")
	} else {
		inst.contextID = get("context_id")
		if inst.contextID == "" {
			problems = append(problems, "context_id is required for SuperOffice CRM Online (or set base_url for onsite)")
		} else if strings.ContainsAny(inst.contextID, "/?#% ") {
			problems = append(problems, fmt.Sprintf("context_id %q is not a context identifier", inst.contextID))
		}
		inst.environment = strings.ToLower(get("environment"))
		var host string
		switch inst.environment {
		case "", "online", "production":
			inst.environment, host = "online", "online"
		case "stage", "qaonline":
			host = "qaonline"
		case "sod", "dev", "development":
			host = "sod"
		default:
			problems = append(problems, fmt.Sprintf("environment %q is not online, stage or sod", inst.environment))
		}
		inst.root = "https://" + host + ".superoffice.com"
	}
	if ep := get("endpoint"); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("endpoint %q is not an http(s) URL", ep))
		} else if !inst.onsite {
			inst.root = strings.TrimRight(ep, "/")
		}
	}
	if pk := settings["partner_key"]; strings.TrimSpace(pk) != "" {
		key, err := parsePartnerKey(pk)
		if err != nil {
			problems = append(problems, "partner_key: "+err.Error())
		}
		inst.partnerKey = key
	}
	for k, dst := range map[string]*time.Duration{"tenant_state_ttl": &inst.stateTTL, "cursor_max_age": &inst.cursorMaxAge, "series_horizon": &inst.horizon} {
		if v := get(k); v != "" {
			d, err := parseDuration(v)
			if err != nil || d < 0 {
				problems = append(problems, fmt.Sprintf("%s %q is not a duration", k, v))
				continue
			}
			*dst = d
		}
	}
	if v := get("scan_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			problems = append(problems, fmt.Sprintf("scan_page %q is not a positive number", v))
		} else {
			inst.scanPage = n
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("configure %s: %s: %w", name, strings.Join(problems, "; "), sdk.ErrInvalidArgument)
	}
	p.mu.Lock()
	p.instances[name] = inst
	p.mu.Unlock()
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// parsePartnerKey reads an RSA private key in PKCS#1 or PKCS#8 PEM.
func parsePartnerKey(text string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not an RSA private key (PKCS#1 or PKCS#8): %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the key is not an RSA key")
	}
	return rk, nil
}

func (p *Provider) instance(name string) (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst := p.instances[name]
	if inst == nil {
		return nil, fmt.Errorf("superoffice instance %q is not configured: %w", name, sdk.ErrInvalidArgument)
	}
	return inst, nil
}
