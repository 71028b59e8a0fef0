package emulators

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"synchronizer/daemon/state"
)

// Link is one user or resource block of a generated profile.
type Link struct {
	Name      string
	Kind      string // "user" or "resource"
	Associate string // SuperOffice login or resource name
	Mailbox   string
}

// Profile is one generated profile.
type Profile struct {
	Name     string
	Calendar string // the calendar block's name
	Links    []Link
}

// Layout names the blocks of a generated configuration.
type Layout struct {
	Tenant   string // the superoffice block
	M365     string // the calendar "m365" block
	Google   string // the calendar "google" block
	Profiles []Profile
}

// EmulateLayout is the configuration `synchronizer emulate -config-out` writes:
// tenant emu, profiles emu-m365 and emu-google, each linking every user and resource.
func EmulateLayout(users, resources int) Layout {
	l := Layout{Tenant: "emu", M365: "emu365", Google: "emugw"}
	m := Profile{Name: "emu-m365", Calendar: l.M365}
	g := Profile{Name: "emu-google", Calendar: l.Google}
	for i := 1; i <= users; i++ {
		name := fmt.Sprintf("user%d", i)
		m.Links = append(m.Links, Link{Name: name, Kind: "user", Associate: SuperOfficeUser(i), Mailbox: M365User(i)})
		g.Links = append(g.Links, Link{Name: name, Kind: "user", Associate: SuperOfficeUser(i), Mailbox: GoogleUser(i)})
	}
	for i := 1; i <= resources; i++ {
		name := fmt.Sprintf("room%d", i)
		m.Links = append(m.Links, Link{Name: name, Kind: "resource", Associate: SuperOfficeResource(i), Mailbox: M365Room(i)})
		g.Links = append(g.Links, Link{Name: name, Kind: "resource", Associate: SuperOfficeResource(i), Mailbox: GoogleResource(i)})
	}
	l.Profiles = []Profile{m, g}
	return l
}

// ConfigFile says what WriteConfig writes.
type ConfigFile struct {
	// Path is the .hcl file to create. The partner key goes beside it as
	// NAME-partner.pem (NAME: the file name without extension).
	Path   string
	Layout Layout
	// DataDir and KeyFile are the daemon's state directory and encryption key; a
	// missing key file is generated (an existing one is kept).
	DataDir string
	KeyFile string
	// ConsentAddress and AdminAddress are the daemon's listeners; PublicURL ""
	// means http://ConsentAddress.
	ConsentAddress string
	AdminAddress   string
	PublicURL      string
	// UserLicenses overrides the tenant's user-licence count (0: read from the tenant).
	UserLicenses int
	LogLevel     string // "" leaves the default
	Interval     string // the profiles' poll interval; "" leaves the default
	// Header is a comment put at the top of the file, one line per element.
	Header []string
}

// PartnerKeyPath is where WriteConfig puts the SuperOffice partner key for a
// configuration at path.
func PartnerKeyPath(path string) string {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return filepath.Join(filepath.Dir(path), stem+"-partner.pem")
}

// WriteConfig writes a configuration that points a daemon at this cluster, the
// partner key file beside it and, when missing, the encryption key.
func (c *Cluster) WriteConfig(f ConfigFile) error {
	if f.Path == "" || f.DataDir == "" || f.KeyFile == "" || f.ConsentAddress == "" || f.AdminAddress == "" {
		return errors.New("write config: path, data dir, key file and both listener addresses are required")
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	partner := PartnerKeyPath(f.Path)
	if err := writeFileAtomic(partner, c.SuperOffice.PartnerKeyPEM(), 0o600); err != nil {
		return fmt.Errorf("write the partner key: %w", err)
	}
	if _, err := os.Stat(f.KeyFile); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(f.KeyFile), 0o700); err != nil {
			return fmt.Errorf("write the encryption key: %w", err)
		}
		if err := state.WriteKeyFile(f.KeyFile, nil); err != nil {
			return fmt.Errorf("write the encryption key: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("encryption key %s: %w", f.KeyFile, err)
	}
	text, err := c.RenderConfig(f, partner)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(f.Path, text, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// RenderConfig renders the HCL of f with the partner key file at partnerKey.
func (c *Cluster) RenderConfig(f ConfigFile, partnerKey string) ([]byte, error) {
	l := f.Layout
	if l.Tenant == "" || l.M365 == "" || l.Google == "" {
		return nil, errors.New("render config: the layout needs tenant and calendar names")
	}
	publicURL := f.PublicURL
	if publicURL == "" {
		publicURL = "http://" + f.ConsentAddress
	}
	str := cty.StringVal
	file := hclwrite.NewEmptyFile()
	root := file.Body()
	for _, h := range f.Header {
		root.AppendUnstructuredTokens(hclwrite.Tokens{
			{Type: hclsyntax.TokenComment, Bytes: []byte(strings.TrimRight("# "+h, " ") + "\n")}})
	}
	if len(f.Header) > 0 {
		root.AppendNewline()
	}
	root.SetAttributeValue("data_dir", str(f.DataDir))
	if f.LogLevel != "" {
		root.SetAttributeValue("log_level", str(f.LogLevel))
	}
	root.AppendNewline()
	h := root.AppendNewBlock("http", nil).Body()
	h.SetAttributeValue("consent_address", str(f.ConsentAddress))
	h.SetAttributeValue("admin_address", str(f.AdminAddress))
	h.SetAttributeValue("public_url", str(publicURL))
	root.AppendNewline()
	root.AppendNewBlock("encryption", nil).Body().SetAttributeValue("key_file", str(f.KeyFile))
	root.AppendNewline()

	so := root.AppendNewBlock("superoffice", []string{l.Tenant}).Body()
	so.SetAttributeValue("context_id", str(c.SuperOffice.ContextID()))
	so.SetAttributeValue("environment", str("online"))
	so.SetAttributeValue("client_id", str(c.SuperOffice.ClientID()))
	so.SetAttributeValue("client_secret", str(c.SuperOffice.ClientSecret()))
	so.SetAttributeValue("partner_key_file", str(partnerKey))
	so.SetAttributeValue("endpoint", str(c.SuperOfficeBase))
	so.SetAttributeValue("resources", cty.True)
	if f.UserLicenses > 0 {
		so.SetAttributeValue("user_licenses", cty.NumberIntVal(int64(f.UserLicenses)))
	}
	root.AppendNewline()

	ms := c.M365.Settings(c.M365Base, false)
	m := root.AppendNewBlock("calendar", []string{"m365", l.M365}).Body()
	for _, k := range []string{"tenant_id", "client_id", "client_secret", "auth", "endpoint"} {
		m.SetAttributeValue(k, str(ms[k]))
	}
	root.AppendNewline()

	g := root.AppendNewBlock("calendar", []string{"google", l.Google}).Body()
	g.SetAttributeValue("client_id", str(GoogleClientID))
	g.SetAttributeValue("client_secret", str(GoogleClientSecret))
	g.SetAttributeValue("endpoint", str(c.GoogleBase))
	// The Workspace admin: who signs in for the resource calendars.
	g.SetAttributeValue("admin", str(GoogleAdmin))

	for _, p := range l.Profiles {
		root.AppendNewline()
		pb := root.AppendNewBlock("profile", []string{p.Name}).Body()
		pb.SetAttributeValue("superoffice", str(l.Tenant))
		pb.SetAttributeValue("calendar", str(p.Calendar))
		if f.Interval != "" {
			pb.SetAttributeValue("interval", str(f.Interval))
		}
		for _, ln := range p.Links {
			pb.AppendNewline()
			switch ln.Kind {
			case "user":
				b := pb.AppendNewBlock("user", []string{ln.Name}).Body()
				b.SetAttributeValue("associate", str(ln.Associate))
				b.SetAttributeValue("mailbox", str(ln.Mailbox))
			case "resource":
				b := pb.AppendNewBlock("resource", []string{ln.Name}).Body()
				b.SetAttributeValue("resource", str(ln.Associate))
				b.SetAttributeValue("mailbox", str(ln.Mailbox))
			default:
				return nil, fmt.Errorf("render config: link %s/%s has kind %q, want user or resource", p.Name, ln.Name, ln.Kind)
			}
		}
	}
	return hclwrite.Format(file.Bytes()), nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
