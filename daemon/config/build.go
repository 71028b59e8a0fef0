package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// namePattern limits block labels to what is safe in URLs, file names, metric
// labels and the state store's keys.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// builder turns the raw decode into a Config, collecting every problem.
type builder struct {
	dir      string
	files    []*hcl.File
	builtins []string
	diags    hcl.Diagnostics

	plugins map[string]string // external plugins found in plugin_dir: name -> path
	scanned bool
	scanErr error
}

func (b *builder) errorf(subject *hcl.Range, summary, format string, args ...any) {
	b.diags = append(b.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: subject})
}

func (b *builder) warnf(subject *hcl.Range, summary, format string, args ...any) {
	b.diags = append(b.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: subject})
}

// fileStart points at the start of the first file, for problems of the whole
// configuration (a missing block).
func (b *builder) fileStart() *hcl.Range {
	if len(b.files) == 0 {
		return nil
	}
	r := b.files[0].Body.MissingItemRange()
	return &r
}

func (b *builder) build(raw *rawConfig) *Config {
	c := &Config{
		DataDir:   resolvePath(b.dir, strOr(raw.DataDir, DefaultDataDir)),
		LogLevel:  strOr(raw.LogLevel, DefaultLogLevel),
		LogFormat: strOr(raw.LogFormat, DefaultLogFormat),
		PluginDir: resolvePath(b.dir, strOr(raw.PluginDir, DefaultPluginDir)),
	}
	if raw.DataDir != nil && *raw.DataDir == "" {
		b.errorf(topAttrRange(b.files, "data_dir"), "Empty data_dir", "data_dir names the directory of the state store; leave it out for %s.", DefaultDataDir)
	}
	if !oneOf(c.LogLevel, LogLevels) {
		b.errorf(topAttrRange(b.files, "log_level"), "Invalid log_level", "log_level is %q; use one of %s.", c.LogLevel, quoteList(LogLevels))
	}
	if !oneOf(c.LogFormat, LogFormats) {
		b.errorf(topAttrRange(b.files, "log_format"), "Invalid log_format", "log_format is %q; use one of %s.", c.LogFormat, quoteList(LogFormats))
	}
	b.buildHTTP(c, raw.HTTP)
	b.buildEncryption(c, raw.Encryption)
	b.buildSMTP(c, raw.SMTP)

	names := map[string]hcl.Range{} // superoffice and calendar blocks share one namespace (synchronizer connect NAME)
	claim := func(kind, name string, r hcl.Range) {
		if prev, dup := names[name]; dup {
			b.errorf(&r, "Duplicate name", "%s %q: the name is already used by a block at %s; superoffice and calendar blocks need distinct names.", kind, name, Where(prev))
			return
		}
		names[name] = r
	}
	for _, r := range raw.SuperOffice {
		so := b.buildSuperOffice(r)
		claim("superoffice", so.Name, r.NameRange)
		c.SuperOffice = append(c.SuperOffice, so)
	}
	for _, r := range raw.Calendars {
		cal := b.buildCalendar(c, r)
		claim("calendar", cal.Name, r.NameRange)
		c.Calendars = append(c.Calendars, cal)
	}
	b.buildPlugins(c, raw.Plugins)

	profiles := map[string]hcl.Range{}
	for _, r := range raw.Profiles {
		p := b.buildProfile(c, r)
		if prev, dup := profiles[r.Name]; dup {
			b.errorf(&r.NameRange, "Duplicate profile", "profile %q is already defined at %s.", r.Name, Where(prev))
			continue
		}
		profiles[r.Name] = r.NameRange
		c.Profiles = append(c.Profiles, p)
	}

	c.Providers = map[string]string{}
	for _, name := range b.builtins {
		c.Providers[name] = ""
	}
	for name, path := range b.plugins {
		if _, builtin := c.Providers[name]; !builtin {
			c.Providers[name] = path
		}
	}
	return c
}

func (b *builder) checkName(kind, name string, r hcl.Range) bool {
	if namePattern.MatchString(name) {
		return true
	}
	b.errorf(&r, "Invalid name", "%s name %q: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit.", kind, name)
	return false
}

func (b *builder) buildHTTP(c *Config, r *rawHTTP) {
	c.HTTP = HTTP{ConsentAddress: DefaultConsentAddress, AdminAddress: DefaultAdminAddress}
	if r == nil {
		c.HTTP.PublicURL = "http://" + c.HTTP.ConsentAddress
		return
	}
	c.HTTP.ConsentAddress = strOr(r.ConsentAddress, DefaultConsentAddress)
	c.HTTP.AdminAddress = strOr(r.AdminAddress, DefaultAdminAddress)
	if err := CheckAddress(c.HTTP.ConsentAddress); err != nil {
		b.errorf(attrRange(r.Body, "consent_address", r.DefRange), "Invalid consent_address", "%v.", err)
	}
	if err := CheckAddress(c.HTTP.AdminAddress); err != nil {
		b.errorf(attrRange(r.Body, "admin_address", r.DefRange), "Invalid admin_address", "%v.", err)
	} else if !isLoopback(c.HTTP.AdminAddress) {
		b.warnf(attrRange(r.Body, "admin_address", r.DefRange), "Admin API reachable from other hosts",
			"admin_address %s is not a loopback address; the admin API has no authentication of its own, so keep it behind a firewall.", c.HTTP.AdminAddress)
	}
	c.HTTP.PublicURL = strOr(r.PublicURL, "http://"+c.HTTP.ConsentAddress)
	c.HTTP.PublicURLSet = r.PublicURL != nil
	if r.PublicURL != nil {
		if err := checkURL(c.HTTP.PublicURL); err != nil {
			b.errorf(attrRange(r.Body, "public_url", r.DefRange), "Invalid public_url", "%v.", err)
		} else if u, _ := url.Parse(c.HTTP.PublicURL); u.Scheme == "http" && !isLoopback(u.Host) && !isLoopback(u.Host+":0") {
			b.warnf(attrRange(r.Body, "public_url", r.DefRange), "Push needs HTTPS",
				"public_url %s is not HTTPS: Microsoft 365, Google and SuperOffice deliver change notifications only to HTTPS with a valid certificate, so links will be polled only. Put a TLS proxy in front of consent_address.", c.HTTP.PublicURL)
		}
	}
	c.HTTP.PublicURL = strings.TrimRight(c.HTTP.PublicURL, "/")
}

func (b *builder) buildEncryption(c *Config, r *rawEncryption) {
	if r == nil {
		b.errorf(b.fileStart(), "Missing encryption block",
			"Tokens are kept encrypted under a key file: add encryption { key_file = \"/etc/synchronizer/key\" } and create the key with `synchronizer keygen -out /etc/synchronizer/key`.")
		return
	}
	c.Encryption.Range = r.DefRange
	if !written(r.Body, "key_file") {
		b.errorf(&r.DefRange, "Missing key_file", "The encryption block needs key_file, the path of a 32-byte key (`synchronizer keygen -out FILE` makes one).")
		return
	}
	c.Encryption.KeyFile = resolvePath(b.dir, str(r.KeyFile))
	if r.KeyFile != nil && *r.KeyFile == "" {
		b.errorf(attrRange(r.Body, "key_file", r.DefRange), "Empty key_file", "key_file must name the key file.")
	}
}

func (b *builder) buildSMTP(c *Config, r *rawSMTP) {
	if r == nil {
		return
	}
	s := &SMTP{Address: str(r.Address), From: str(r.From), Admin: str(r.Admin), Username: str(r.Username), Password: str(r.Password)}
	c.SMTP = s
	if !written(r.Body, "address") {
		b.errorf(&r.DefRange, "Missing address", "The smtp block needs address, the mail server as host:port (like \"smtp.example.com:587\").")
	} else if err := checkHostPort(s.Address); err != nil {
		b.errorf(attrRange(r.Body, "address", r.DefRange), "Invalid smtp address", "%v.", err)
	}
	if !written(r.Body, "from") {
		b.errorf(&r.DefRange, "Missing from", "The smtp block needs from, the sender of activation mails (like \"Synchronizer <sync@example.com>\").")
	} else if _, err := mail.ParseAddress(s.From); r.From != nil && err != nil {
		b.errorf(attrRange(r.Body, "from", r.DefRange), "Invalid from address", "from %q is not a mail address: %v.", s.From, err)
	}
	if r.Admin != nil {
		if _, err := mail.ParseAddressList(s.Admin); err != nil {
			b.errorf(attrRange(r.Body, "admin", r.DefRange), "Invalid admin address", "admin %q is not a mail address (or a comma-separated list of them): %v.", s.Admin, err)
		}
	}
	if written(r.Body, "username") != written(r.Body, "password") {
		b.errorf(&r.DefRange, "Incomplete SMTP credentials", "Set both username and password, or neither.")
	}
}

func (b *builder) buildSuperOffice(r *rawSuperOffice) *SuperOffice {
	b.checkName("superoffice", r.Name, r.NameRange)
	s := &SuperOffice{
		Name: r.Name, ContextID: str(r.ContextID), Environment: str(r.Environment),
		ClientID: str(r.ClientID), ClientSecret: str(r.ClientSecret),
		PartnerKeyFile: resolvePath(b.dir, str(r.PartnerKeyFile)),
		BaseURL:        str(r.BaseURL), Username: str(r.Username), Password: str(r.Password),
		Endpoint: str(r.Endpoint), UserLicenses: r.UserLicenses, Range: r.DefRange,
	}
	if r.Resources != nil {
		s.Resources = *r.Resources
	}
	at := func(name string) *hcl.Range { return attrRange(r.Body, name, r.DefRange) }
	if written(r.Body, "base_url") {
		// Onsite: the web API of the customer's own installation.
		for _, online := range []string{"context_id", "environment", "client_id", "client_secret", "partner_key_file"} {
			if written(r.Body, online) {
				b.errorf(at(online), "Online attribute on an onsite tenant",
					"superoffice %q has base_url (onsite), so %s does not apply; use context_id and the online attributes, or base_url with username and password.", r.Name, online)
			}
		}
		if r.BaseURL != nil {
			if err := checkURL(s.BaseURL); err != nil {
				b.errorf(at("base_url"), "Invalid base_url", "%v.", err)
			}
		}
		for _, need := range []string{"username", "password"} {
			if !written(r.Body, need) {
				b.errorf(&r.DefRange, "Missing "+need, "superoffice %q is onsite (base_url) and needs %s.", r.Name, need)
			}
		}
	} else {
		if written(r.Body, "username") || written(r.Body, "password") {
			name := "username"
			if !written(r.Body, "username") {
				name = "password"
			}
			b.errorf(at(name), "Onsite attribute on an online tenant",
				"superoffice %q has no base_url, so it is an online tenant and %s does not apply (online tenants consent with `synchronizer connect %s`).", r.Name, name, r.Name)
		}
		for _, need := range []string{"context_id", "client_id", "client_secret"} {
			if !written(r.Body, need) {
				b.errorf(&r.DefRange, "Missing "+need,
					"superoffice %q needs %s (or base_url, username and password for an onsite installation).", r.Name, need)
			}
		}
		if s.Environment == "" {
			s.Environment = "online"
		}
		if r.Environment != nil && !oneOf(s.Environment, Environments) {
			b.errorf(at("environment"), "Invalid environment", "environment is %q; use one of %s.", s.Environment, quoteList(Environments))
		}
		if r.PartnerKeyFile != nil {
			pem, err := readTextFile(s.PartnerKeyFile)
			if err != nil {
				b.errorf(at("partner_key_file"), "Cannot read partner_key_file", "%v.", err)
			} else if !strings.Contains(pem, "-----BEGIN") {
				b.errorf(at("partner_key_file"), "Invalid partner_key_file", "%s holds no PEM block (-----BEGIN ...); it must be the partner's private key in PEM form.", s.PartnerKeyFile)
			}
			s.PartnerKey = pem
		}
	}
	if r.Endpoint != nil {
		if err := checkURL(s.Endpoint); err != nil {
			b.errorf(at("endpoint"), "Invalid endpoint", "%v.", err)
		}
	}
	if r.UserLicenses != nil && *r.UserLicenses < 0 {
		b.errorf(at("user_licenses"), "Invalid user_licenses", "user_licenses is %d; it must be 0 or more.", *r.UserLicenses)
	}
	return s
}

// calendarAttrs are the attributes each provider's calendar block takes;
// external plugins get the generic ones plus settings.
var calendarAttrs = map[string][]string{
	ProviderM365:   {"tenant_id", "client_id", "client_secret", "auth", "endpoint"},
	ProviderGoogle: {"client_id", "client_secret", "service_account_file", "admin", "endpoint"},
	"":             {"client_id", "client_secret", "endpoint", "settings"},
}

func (b *builder) buildCalendar(c *Config, r *rawCalendar) *Calendar {
	b.checkName("calendar", r.Name, r.NameRange)
	cal := &Calendar{
		Provider: r.Provider, Name: r.Name, TenantID: str(r.TenantID), ClientID: str(r.ClientID),
		ClientSecret: str(r.ClientSecret), Auth: str(r.Auth),
		ServiceAccountFile: resolvePath(b.dir, str(r.ServiceAccountFile)),
		Admin:              str(r.Admin), Endpoint: str(r.Endpoint), Settings: r.Settings, Range: r.DefRange,
	}
	at := func(name string) *hcl.Range { return attrRange(r.Body, name, r.DefRange) }
	if !b.knownProvider(c, r.Provider) {
		b.errorf(&r.ProviderRange, "Unknown provider", "calendar %q uses provider %q, which is neither built in (%s) nor an executable %s%s in plugin_dir %s%s.",
			r.Name, r.Provider, strings.Join(b.calendarBuiltins(), ", "), PluginPrefix, r.Provider, c.PluginDir, b.scanNote())
	}
	if r.Provider == ProviderSuperOffice {
		b.errorf(&r.ProviderRange, "Wrong block for SuperOffice", "SuperOffice is configured with a superoffice \"NAME\" block, not a calendar block.")
		return cal
	}
	allowedKey := r.Provider
	if _, builtin := calendarAttrs[allowedKey]; !builtin {
		allowedKey = ""
	}
	allowed := calendarAttrs[allowedKey]
	for name := range attrs(r.Body) {
		if !oneOf(name, allowed) {
			b.errorf(at(name), "Attribute not used by this provider", "calendar %q (provider %s) does not take %s; it takes %s.", r.Name, r.Provider, name, strings.Join(allowed, ", "))
		}
	}
	switch r.Provider {
	case ProviderM365:
		for _, need := range []string{"tenant_id", "client_id", "client_secret"} {
			if !written(r.Body, need) {
				b.errorf(&r.DefRange, "Missing "+need, "calendar %q (Microsoft 365) needs %s from its app registration.", r.Name, need)
			}
		}
		if cal.Auth == "" {
			cal.Auth = "delegated"
		}
		if r.Auth != nil && !oneOf(cal.Auth, AuthModes) {
			b.errorf(at("auth"), "Invalid auth", "auth is %q; use one of %s.", cal.Auth, quoteList(AuthModes))
		}
	case ProviderGoogle:
		if written(r.Body, "service_account_file") {
			if !written(r.Body, "admin") {
				b.errorf(&r.DefRange, "Missing admin", "calendar %q uses a service account: set admin, the Workspace user it acts as.", r.Name)
			}
			if r.ServiceAccountFile != nil {
				text, err := readTextFile(cal.ServiceAccountFile)
				if err != nil {
					b.errorf(at("service_account_file"), "Cannot read service_account_file", "%v.", err)
				} else if !json.Valid([]byte(text)) {
					b.errorf(at("service_account_file"), "Invalid service_account_file", "%s is not JSON; download the service account's key as JSON.", cal.ServiceAccountFile)
				}
				cal.ServiceAccountJSON = text
			}
		} else {
			for _, need := range []string{"client_id", "client_secret"} {
				if !written(r.Body, need) {
					b.errorf(&r.DefRange, "Missing "+need, "calendar %q (Google) needs %s of its OAuth client (or service_account_file and admin).", r.Name, need)
				}
			}
		}
		if r.Admin != nil {
			if _, err := mail.ParseAddress(cal.Admin); err != nil {
				b.errorf(at("admin"), "Invalid admin", "admin %q is not a mail address.", cal.Admin)
			}
		}
	}
	if r.Endpoint != nil {
		if err := checkURL(cal.Endpoint); err != nil {
			b.errorf(at("endpoint"), "Invalid endpoint", "%v.", err)
		}
	}
	for k := range cal.Settings {
		if oneOf(k, settingKeys(r.Provider)) {
			b.errorf(at("settings"), "Setting clashes with an attribute", "settings key %q is also set from the block's attributes; rename it.", k)
		}
	}
	// Even a block with errors resolves references, so a profile naming it
	// gets no second, misleading "unknown block" error.
	return cal
}

func (b *builder) calendarBuiltins() []string {
	var out []string
	for _, n := range b.builtins {
		if n != ProviderSuperOffice {
			out = append(out, n)
		}
	}
	return out
}

func (b *builder) knownProvider(c *Config, name string) bool {
	if oneOf(name, b.builtins) {
		return true
	}
	b.scanPlugins(c.PluginDir)
	_, ok := b.plugins[name]
	return ok
}

func (b *builder) scanNote() string {
	if b.scanErr != nil {
		return fmt.Sprintf(" (%v)", b.scanErr)
	}
	return ""
}

// scanPlugins lists executables named synchronizer-plugin-NAME in plugin_dir, once.
func (b *builder) scanPlugins(dir string) {
	if b.scanned {
		return
	}
	b.scanned = true
	b.plugins = map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			b.scanErr = fmt.Errorf("plugin_dir does not exist")
		} else {
			b.scanErr = err
		}
		return
	}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), PluginPrefix)
		if !ok || name == "" {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		b.plugins[name] = path
	}
}

func (b *builder) buildPlugins(c *Config, raws []*rawPlugin) {
	seen := map[string]hcl.Range{}
	for _, r := range raws {
		if !b.checkName("plugin", r.Name, r.NameRange) {
			continue
		}
		if prev, dup := seen[r.Name]; dup {
			b.errorf(&r.NameRange, "Duplicate plugin block", "plugin %q is already pinned at %s.", r.Name, Where(prev))
			continue
		}
		seen[r.Name] = r.NameRange
		if oneOf(r.Name, b.builtins) {
			b.errorf(&r.NameRange, "Built-in provider pinned", "%q is built into the synchronizer binary; plugin blocks pin external plugins only.", r.Name)
			continue
		}
		if !written(r.Body, "sha256") {
			b.errorf(&r.DefRange, "Missing sha256", "plugin %q needs sha256, the hex SHA-256 of %s%s (sha256sum prints it).", r.Name, PluginPrefix, r.Name)
			continue
		}
		sum := strings.ToLower(str(r.SHA256))
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
			b.errorf(attrRange(r.Body, "sha256", r.DefRange), "Invalid sha256", "sha256 must be 64 hexadecimal digits.")
			continue
		}
		p := &Plugin{Name: r.Name, SHA256: sum, Range: r.DefRange}
		c.Plugins = append(c.Plugins, p)
		b.scanPlugins(c.PluginDir)
		path, ok := b.plugins[r.Name]
		if !ok {
			b.errorf(&r.NameRange, "Plugin not found", "plugin %q is pinned but plugin_dir %s has no executable %s%s%s.", r.Name, c.PluginDir, PluginPrefix, r.Name, b.scanNote())
			continue
		}
		got, err := FileSHA256(path)
		if err != nil {
			b.errorf(&r.NameRange, "Cannot read plugin", "%v.", err)
		} else if got != sum {
			b.errorf(attrRange(r.Body, "sha256", r.DefRange), "Plugin checksum mismatch", "%s has SHA-256 %s, not the pinned one: the executable changed; check it and update sha256.", path, got)
		}
	}
}

// FileSHA256 is the hex SHA-256 of a file (for pinned plugins).
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (b *builder) buildProfile(c *Config, r *rawProfile) *Profile {
	b.checkName("profile", r.Name, r.NameRange)
	at := func(name string) *hcl.Range { return attrRange(r.Body, name, r.DefRange) }
	p := &Profile{
		Name: r.Name, SuperOffice: str(r.SuperOffice), Calendar: str(r.Calendar),
		Direction: strOr(r.Direction, DefaultDirection), Conflict: strOr(r.Conflict, DefaultConflict),
		Private: strOr(r.Private, DefaultPrivate), Language: strOr(r.Language, DefaultLanguage),
		Message: str(r.Message), Interval: DefaultInterval, Past: DefaultPast, Future: DefaultFuture,
		Push: true, Reconcile: DefaultReconcile,
		Range: r.DefRange,
	}
	if r.Push != nil {
		p.Push = *r.Push
	}
	if !written(r.Body, "superoffice") {
		b.errorf(&r.DefRange, "Missing superoffice", "profile %q needs superoffice, the name of a superoffice block.", r.Name)
	} else if r.SuperOffice != nil && c.Tenant(p.SuperOffice) == nil {
		b.errorf(at("superoffice"), "Unknown superoffice block", "profile %q refers to superoffice %q, which is not defined%s.", r.Name, p.SuperOffice, known(tenantNames(c)))
	}
	if !written(r.Body, "calendar") {
		b.errorf(&r.DefRange, "Missing calendar", "profile %q needs calendar, the name of a calendar block.", r.Name)
	} else if r.Calendar != nil && c.Calendar(p.Calendar) == nil {
		b.errorf(at("calendar"), "Unknown calendar block", "profile %q refers to calendar %q, which is not defined%s.", r.Name, p.Calendar, known(calendarNames(c)))
	}
	enums := []struct {
		attr    string
		value   string
		allowed []string
	}{
		{"direction", p.Direction, Directions},
		{"conflict", p.Conflict, Conflicts},
		{"private", p.Private, Privates},
		{"language", p.Language, Languages},
	}
	for _, e := range enums {
		if written(r.Body, e.attr) && !oneOf(e.value, e.allowed) {
			b.errorf(at(e.attr), "Invalid "+e.attr, "%s is %q; use one of %s.", e.attr, e.value, quoteList(e.allowed))
		}
	}
	durations := []struct {
		attr string
		raw  *string
		dst  *time.Duration
		min  time.Duration
	}{
		{"interval", r.Interval, &p.Interval, time.Second},
		{"past", r.Past, &p.Past, 0},
		{"future", r.Future, &p.Future, 0},
	}
	for _, d := range durations {
		if d.raw == nil {
			continue
		}
		v, err := ParseDuration(*d.raw)
		switch {
		case err != nil:
			b.errorf(at(d.attr), "Invalid duration", "%s: %v.", d.attr, err)
		case v < d.min:
			b.errorf(at(d.attr), "Duration too short", "%s is %s; it must be at least %s.", d.attr, *d.raw, d.min)
		default:
			*d.dst = v
		}
	}
	if r.Reconcile != nil {
		v, err := ParseDuration(*r.Reconcile)
		switch {
		case err != nil:
			b.errorf(at("reconcile"), "Invalid duration", "reconcile: %v.", err)
		case v != 0 && v < MinReconcile:
			b.errorf(at("reconcile"), "Duration too short", "reconcile is %s; a full read of every link that often is too costly: use at least %s, or \"0\" to turn it off.", *r.Reconcile, MinReconcile)
		default:
			p.Reconcile = v
		}
	}
	if p.Past == 0 && p.Future == 0 && (r.Past != nil || r.Future != nil) {
		b.errorf(at("future"), "Empty sync window", "past and future are both zero, so nothing would ever sync.")
	}

	// Links, in declaration order across user and resource blocks.
	type pending struct {
		link     *Link
		name     hcl.Range
		assocRng *hcl.Range
		mailRng  *hcl.Range
	}
	var all []pending
	for _, u := range r.Users {
		l := &Link{Profile: r.Name, Name: u.Name, Kind: KindUser, Associate: str(u.Associate), Mailbox: str(u.Mailbox), Range: u.DefRange}
		if u.Disabled != nil {
			l.Disabled = *u.Disabled
		}
		b.requireLinkAttr(u.Body, u.DefRange, "user", u.Name, "associate", "the SuperOffice associate: login name or id")
		b.requireLinkAttr(u.Body, u.DefRange, "user", u.Name, "mailbox", "the calendar account: a mailbox or calendar id")
		all = append(all, pending{l, u.NameRange, attrRange(u.Body, "associate", u.DefRange), attrRange(u.Body, "mailbox", u.DefRange)})
	}
	for _, res := range r.Resources {
		l := &Link{Profile: r.Name, Name: res.Name, Kind: KindResource, Associate: str(res.Resource), Mailbox: str(res.Mailbox), Range: res.DefRange}
		if res.Disabled != nil {
			l.Disabled = *res.Disabled
		}
		b.requireLinkAttr(res.Body, res.DefRange, "resource", res.Name, "resource", "the SuperOffice resource: name or id")
		b.requireLinkAttr(res.Body, res.DefRange, "resource", res.Name, "mailbox", "the room's mailbox or resource calendar id")
		all = append(all, pending{l, res.NameRange, attrRange(res.Body, "resource", res.DefRange), attrRange(res.Body, "mailbox", res.DefRange)})
	}
	sort.SliceStable(all, func(i, j int) bool { return before(all[i].link.Range, all[j].link.Range) })
	names := map[string]hcl.Range{}
	associates := map[string]hcl.Range{}
	mailboxes := map[string]hcl.Range{}
	for _, pd := range all {
		l := pd.link
		if !b.checkName(string(l.Kind), l.Name, pd.name) {
			continue
		}
		if prev, dup := names[l.Name]; dup {
			b.errorf(&pd.name, "Duplicate link", "profile %q already has a user or resource named %q at %s.", r.Name, l.Name, Where(prev))
			continue
		}
		names[l.Name] = l.Range
		if l.Associate != "" {
			key := string(l.Kind) + "\x00" + strings.ToLower(l.Associate)
			if prev, dup := associates[key]; dup {
				what := "associate"
				if l.Kind == KindResource {
					what = "resource"
				}
				b.errorf(pd.assocRng, "Linked twice", "%s %q is already linked in profile %q at %s; each may be linked once per profile.", what, l.Associate, r.Name, Where(prev))
			} else {
				associates[key] = l.Range
			}
		}
		if l.Mailbox != "" {
			if strings.ContainsAny(l.Mailbox, " \t\r\n") {
				b.errorf(pd.mailRng, "Invalid mailbox", "mailbox %q contains white space.", l.Mailbox)
			}
			key := strings.ToLower(l.Mailbox)
			if prev, dup := mailboxes[key]; dup {
				b.errorf(pd.mailRng, "Linked twice", "mailbox %q is already linked in profile %q at %s; each may be linked once per profile.", l.Mailbox, r.Name, Where(prev))
			} else {
				mailboxes[key] = l.Range
			}
		}
		p.Links = append(p.Links, l)
	}
	return p
}

func (b *builder) requireLinkAttr(body hcl.Body, def hcl.Range, kind, name, attr, what string) {
	if !written(body, attr) {
		b.errorf(&def, "Missing "+attr, "%s %q needs %s (%s).", kind, name, attr, what)
	}
}

// before orders ranges by file (in merge order, which is name order) and offset.
func before(a, b hcl.Range) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	return a.Start.Byte < b.Start.Byte
}

func tenantNames(c *Config) []string {
	var out []string
	for _, s := range c.SuperOffice {
		out = append(out, s.Name)
	}
	return out
}

func calendarNames(c *Config) []string {
	var out []string
	for _, cal := range c.Calendars {
		out = append(out, cal.Name)
	}
	return out
}

func known(names []string) string {
	if len(names) == 0 {
		return " (none is)"
	}
	return " (defined: " + strings.Join(names, ", ") + ")"
}

// CheckAddress checks a listen address: host:port with a numeric port.
func CheckAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (like \"127.0.0.1:8421\")", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if strings.ContainsAny(host, " /\t") {
		return fmt.Errorf("%q: host %q is not a host name or IP address", addr, host)
	}
	return nil
}

func checkHostPort(addr string) error {
	if err := CheckAddress(addr); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || port == "0" {
		return fmt.Errorf("%q: give the server's host and port (like \"smtp.example.com:587\")", addr)
	}
	return nil
}

func isLoopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http:// or https:// URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: a base URL takes no query or fragment", s)
	}
	return nil
}
