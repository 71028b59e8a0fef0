package bench

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Profile names `synchronizer emulate -config-out` writes, and its blocks.
const (
	profileM365      = "emu-m365"
	profileGoogle    = "emu-google"
	blockTenant      = "emu"
	blockGoogle      = "emugw"
	adminSuperOffice = "ADMIN"
	adminGoogle      = "admin@google.test"
)

// daemonConfig is the configuration emulate wrote, as the benchmark adjusts it.
type daemonConfig struct {
	file *hclwrite.File
	// AdminAddress and ConsentAddress are the daemon's listeners.
	AdminAddress, ConsentAddress string
}

// readConfig parses the configuration at path.
func readConfig(path string) (*daemonConfig, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the configuration: %w", err)
	}
	f, diags := hclwrite.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("parse %s: %s", path, diags.Error())
	}
	c := &daemonConfig{file: f}
	httpBlock := f.Body().FirstMatchingBlock("http", nil)
	if httpBlock == nil {
		return nil, fmt.Errorf("%s has no http block", path)
	}
	for name, dst := range map[string]*string{"admin_address": &c.AdminAddress, "consent_address": &c.ConsentAddress} {
		if *dst, err = stringAttr(httpBlock.Body(), name); err != nil {
			return nil, fmt.Errorf("%s: http.%w", path, err)
		}
	}
	return c, nil
}

// stringAttr reads an attribute that holds a plain string literal.
func stringAttr(b *hclwrite.Body, name string) (string, error) {
	a := b.GetAttribute(name)
	if a == nil {
		return "", fmt.Errorf("%s is missing", name)
	}
	text := strings.TrimSpace(string(a.Expr().BuildTokens(nil).Bytes()))
	s, err := strconv.Unquote(text)
	if err != nil {
		return "", fmt.Errorf("%s = %s: want a string literal", name, text)
	}
	return s, nil
}

// profiles lists the profile blocks' names in order.
func (c *daemonConfig) profiles() []string {
	var out []string
	for _, b := range c.file.Body().Blocks() {
		if b.Type() == "profile" && len(b.Labels()) == 1 {
			out = append(out, b.Labels()[0])
		}
	}
	return out
}

// adjust sets the profiles' poll interval and the log level, and keeps only the
// profiles named in keep (all when keep is empty).
func (c *daemonConfig) adjust(interval, logLevel string, keep []string) error {
	root := c.file.Body()
	if logLevel != "" {
		root.SetAttributeValue("log_level", cty.StringVal(logLevel))
	}
	kept := 0
	for _, b := range root.Blocks() {
		if b.Type() != "profile" || len(b.Labels()) != 1 {
			continue
		}
		if len(keep) > 0 && !slices.Contains(keep, b.Labels()[0]) {
			root.RemoveBlock(b)
			continue
		}
		kept++
		if interval != "" {
			b.Body().SetAttributeValue("interval", cty.StringVal(interval))
		}
	}
	if kept == 0 {
		return fmt.Errorf("no profile left of %v", keep)
	}
	return nil
}

// write saves the configuration to path (mode 0600: it holds client secrets).
func (c *daemonConfig) write(path string) error {
	if err := os.WriteFile(path, hclwrite.Format(c.file.Bytes()), 0o600); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	return nil
}

// configLink is one user or resource block of a profile.
type configLink struct {
	Profile, Link, Kind string
	// Associate is the SuperOffice login or resource name; Mailbox the calendar
	// account.
	Associate, Mailbox string
	// Calendar is the profile's calendar system: sideM365 or sideGoogle.
	Calendar string
}

// links lists every link of the profiles in order. The calendar system of a
// profile comes from its calendar block's provider label.
func (c *daemonConfig) links() ([]configLink, error) {
	root := c.file.Body()
	providers := map[string]string{}
	for _, b := range root.Blocks() {
		if b.Type() == "calendar" && len(b.Labels()) == 2 {
			providers[b.Labels()[1]] = b.Labels()[0]
		}
	}
	var out []configLink
	for _, b := range root.Blocks() {
		if b.Type() != "profile" || len(b.Labels()) != 1 {
			continue
		}
		profile := b.Labels()[0]
		calName, err := stringAttr(b.Body(), "calendar")
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", profile, err)
		}
		provider := providers[calName]
		if provider != sideM365 && provider != sideGoogle {
			return nil, fmt.Errorf("profile %s: calendar %s has provider %q, want m365 or google", profile, calName, provider)
		}
		for _, lb := range b.Body().Blocks() {
			if len(lb.Labels()) != 1 || (lb.Type() != "user" && lb.Type() != "resource") {
				continue
			}
			l := configLink{Profile: profile, Link: lb.Labels()[0], Kind: lb.Type(), Calendar: provider}
			assocAttr := "associate"
			if l.Kind == "resource" {
				assocAttr = "resource"
			}
			if l.Associate, err = stringAttr(lb.Body(), assocAttr); err != nil {
				return nil, fmt.Errorf("profile %s %s %s: %w", profile, l.Kind, l.Link, err)
			}
			if l.Mailbox, err = stringAttr(lb.Body(), "mailbox"); err != nil {
				return nil, fmt.Errorf("profile %s %s %s: %w", profile, l.Kind, l.Link, err)
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// setPush sets every profile's push attribute.
func (c *daemonConfig) setPush(on bool) {
	for _, b := range c.file.Body().Blocks() {
		if b.Type() == "profile" {
			b.Body().SetAttributeValue("push", cty.BoolVal(on))
		}
	}
}
