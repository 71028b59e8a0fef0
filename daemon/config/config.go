// Package config owns the HCL configuration format: the schema, the env() and
// file() functions, defaults, and every check that can be made without talking
// to a service. Problems come back as hcl.Diagnostics with file, line and column,
// all of them from one run. The package is a leaf: it knows nothing of the state
// store, HTTP or providers beyond their names.
package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Defaults, as the product contract documents them.
const (
	DefaultDataDir        = "/var/lib/synchronizer"
	DefaultPluginDir      = "/usr/lib/synchronizer/plugins"
	DefaultConsentAddress = "127.0.0.1:8420"
	DefaultAdminAddress   = "127.0.0.1:8421"
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"

	DefaultDirection = "two-way"
	DefaultInterval  = 5 * time.Minute
	// DefaultReconcile is how often each link's both sides are read in full,
	// which catches what notifications and change feeds missed.
	DefaultReconcile = 3 * time.Hour
	// MinReconcile is the shortest reconcile period allowed (0 turns it off).
	MinReconcile    = 10 * time.Minute
	DefaultPast     = 30 * 24 * time.Hour
	DefaultFuture   = 365 * 24 * time.Hour
	DefaultConflict = "newest"
	DefaultPrivate  = "busy"
	DefaultLanguage = "en"
)

// Built-in provider names. superoffice blocks always use the superoffice provider.
const (
	ProviderSuperOffice = "superoffice"
	ProviderM365        = "m365"
	ProviderGoogle      = "google"
)

// PluginPrefix starts the file name of every external provider plugin in plugin_dir.
const PluginPrefix = "synchronizer-plugin-"

// Allowed values of the enumerated attributes.
var (
	LogLevels    = []string{"debug", "info", "warn", "error"}
	LogFormats   = []string{"text", "json"}
	Environments = []string{"online", "stage", "sod"}
	AuthModes    = []string{"delegated", "application"}
	Directions   = []string{"two-way", "to-calendar", "to-superoffice"}
	Conflicts    = []string{"newest", "superoffice", "calendar"}
	Privates     = []string{"sync", "busy", "skip"}
	Languages    = []string{"en", "no", "sv", "da", "de", "nl"}
)

// Config is a loaded, checked configuration.
type Config struct {
	// Files are the files read, in the order they were merged.
	Files []string
	// Dir is the directory relative paths are resolved against: the config
	// file's directory, or the config directory itself.
	Dir string

	DataDir   string
	LogLevel  string
	LogFormat string
	PluginDir string

	HTTP       HTTP
	Encryption Encryption
	SMTP       *SMTP // nil without an smtp block

	SuperOffice []*SuperOffice
	Calendars   []*Calendar
	Profiles    []*Profile
	Plugins     []*Plugin

	// Providers maps every provider name usable in a calendar block to the
	// executable serving it: "" for a built-in, else the external plugin's path.
	Providers map[string]string
}

// HTTP is the http block.
type HTTP struct {
	ConsentAddress string
	AdminAddress   string
	PublicURL      string
	// PublicURLSet says public_url was written: the services can reach the
	// consent listener from outside, so change notifications can be set up.
	PublicURLSet bool
}

// Encryption is the encryption block.
type Encryption struct {
	KeyFile string
	Range   hcl.Range
}

// SMTP is the smtp block.
type SMTP struct {
	Address  string
	From     string
	Admin    string
	Username string
	Password string
}

// SuperOffice is a superoffice block: one tenant.
type SuperOffice struct {
	Name           string
	ContextID      string
	Environment    string // online, stage or sod; "" for onsite
	ClientID       string
	ClientSecret   string
	PartnerKeyFile string
	PartnerKey     string // PEM text read from PartnerKeyFile
	BaseURL        string // onsite
	Username       string // onsite
	Password       string // onsite
	Endpoint       string
	Resources      bool
	UserLicenses   *int // nil: read from the tenant
	Range          hcl.Range
}

// Onsite reports whether the tenant is an onsite installation (base_url set).
func (s *SuperOffice) Onsite() bool { return s.BaseURL != "" }

// Calendar is a calendar block: one calendar system served by a provider.
type Calendar struct {
	Provider           string
	Name               string
	TenantID           string
	ClientID           string
	ClientSecret       string
	Auth               string // m365: delegated or application
	ServiceAccountFile string
	ServiceAccountJSON string // text read from ServiceAccountFile
	Admin              string
	Endpoint           string
	Settings           map[string]string
	Range              hcl.Range
}

// Plugin is a plugin block pinning an external plugin's checksum.
type Plugin struct {
	Name   string
	SHA256 string
	Range  hcl.Range
}

// Profile is a profile block: one tenant paired with one calendar system.
type Profile struct {
	Name        string
	SuperOffice string // the superoffice block's name
	Calendar    string // the calendar block's name
	Direction   string
	Interval    time.Duration
	// Push: set up change notifications for the links (when public_url is set).
	Push bool
	// Reconcile is how often a link's both sides are read in full; 0 = never
	// beyond what the providers' own cursors force.
	Reconcile time.Duration
	Past      time.Duration
	Future    time.Duration
	Conflict  string
	Private   string
	Language  string
	Message   string
	// Links are the user and resource blocks in declaration order.
	Links []*Link
	Range hcl.Range
}

// LinkKind separates users from resources.
type LinkKind string

const (
	KindUser     LinkKind = "user"
	KindResource LinkKind = "resource"
)

// Link is a user or resource block.
type Link struct {
	Profile string
	Name    string
	Kind    LinkKind
	// Associate is the SuperOffice side: the associate (login name or id) of a
	// user, the resource (name or id) of a resource.
	Associate string
	Mailbox   string
	Disabled  bool
	Range     hcl.Range
}

// Tenant returns the superoffice block named name, or nil.
func (c *Config) Tenant(name string) *SuperOffice {
	for _, s := range c.SuperOffice {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Calendar returns the calendar block named name, or nil.
func (c *Config) Calendar(name string) *Calendar {
	for _, cal := range c.Calendars {
		if cal.Name == name {
			return cal
		}
	}
	return nil
}

// Profile returns the profile named name, or nil.
func (c *Config) Profile(name string) *Profile {
	for _, p := range c.Profiles {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Link returns a link of a profile, or nil.
func (p *Profile) Link(name string) *Link {
	for _, l := range p.Links {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Links returns every link of every profile in declaration order.
func (c *Config) Links() []*Link {
	var out []*Link
	for _, p := range c.Profiles {
		out = append(out, p.Links...)
	}
	return out
}

// ProvidersInUse lists the provider plugins the configuration needs, sorted.
func (c *Config) ProvidersInUse() []string {
	seen := map[string]bool{}
	if len(c.SuperOffice) > 0 {
		seen[ProviderSuperOffice] = true
	}
	for _, cal := range c.Calendars {
		seen[cal.Provider] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Where renders a range as FILE:LINE for messages that name a block.
func Where(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
