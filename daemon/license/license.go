// Package license decides which links hold a licence. The rule, from the
// product contract: a SuperOffice tenant has as many licences as it has user
// licences, plus exactly 5 when resource sync is on (resources = true); users
// and resources draw from that one pool, summed over every profile of the
// tenant; the links declared first keep their licence, the rest are over the
// cap. Disabled links take none. A resource link on a tenant without resource
// sync is a configuration error.
//
// Everything here is a pure function of the configuration and the counts it is
// given: no I/O, no clock.
package license

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"synchronizer/daemon/config"
)

// ResourceBonus is what resource sync adds to a tenant's licences.
const ResourceBonus = 5

// Tenant is the decision for one tenant.
type Tenant struct {
	Name string
	// Known says whether the user-licence count is known: from user_licenses in
	// the configuration, else from the counts given to Evaluate.
	Known bool
	// FromConfig says the count came from user_licenses.
	FromConfig   bool
	UserLicenses int
	Resources    bool
	// Cap is UserLicenses (+ ResourceBonus with resources); 0 while unknown.
	Cap int
	// Licensed are the links holding a licence, Over those beyond the cap (or
	// every link while the count is unknown), each in declaration order.
	Licensed []*config.Link
	Over     []*config.Link
}

// Used is the number of licences in use.
func (t *Tenant) Used() int { return len(t.Licensed) }

// Result is the decision for a whole configuration.
type Result struct {
	Tenants []*Tenant // in declaration order of the superoffice blocks
	byLink  map[*config.Link]*Tenant
}

// Tenant returns the decision for the named tenant, or nil.
func (r *Result) Tenant(name string) *Tenant {
	for _, t := range r.Tenants {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Licensed reports whether a link may run and, when it may not, why, in words
// for the link's last_error. Disabled links are neither: ok is false and the
// reason empty.
func (r *Result) Licensed(l *config.Link) (ok bool, reason string) {
	t := r.byLink[l]
	if t == nil {
		return false, ""
	}
	for _, x := range t.Licensed {
		if x == l {
			return true, ""
		}
	}
	if l.Kind == config.KindResource && !t.Resources {
		return false, fmt.Sprintf("resource sync is off for tenant %s (set resources = true)", t.Name)
	}
	if !t.Known {
		return false, fmt.Sprintf("the licence count of tenant %s is not known yet; it is read from SuperOffice (or set user_licenses in superoffice %q)", t.Name, t.Name)
	}
	return false, fmt.Sprintf("over the licence cap of tenant %s: %s, all in use by links declared earlier", t.Name, capText(t))
}

func capText(t *Tenant) string {
	if t.Resources {
		return fmt.Sprintf("%s (%s + %d for resources)", count(t.Cap, "licence"), count(t.UserLicenses, "user licence"), ResourceBonus)
	}
	return fmt.Sprintf("%s (%s)", count(t.Cap, "licence"), count(t.UserLicenses, "user licence"))
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Evaluate decides, for every tenant, which links hold a licence. counts maps
// tenant name to the user-licence count read from the tenant; user_licenses in
// the configuration overrides it. A tenant with neither has no licences yet.
func Evaluate(cfg *config.Config, counts map[string]int) *Result {
	r := &Result{byLink: map[*config.Link]*Tenant{}}
	byName := map[string]*Tenant{}
	for _, so := range cfg.SuperOffice {
		t := &Tenant{Name: so.Name, Resources: so.Resources}
		if so.UserLicenses != nil {
			t.Known, t.FromConfig, t.UserLicenses = true, true, *so.UserLicenses
		} else if n, ok := counts[so.Name]; ok {
			t.Known, t.UserLicenses = true, max(n, 0)
		}
		if t.Known {
			t.Cap = t.UserLicenses
			if t.Resources {
				t.Cap += ResourceBonus
			}
		}
		r.Tenants = append(r.Tenants, t)
		byName[so.Name] = t
	}
	for _, p := range cfg.Profiles {
		t := byName[p.SuperOffice]
		if t == nil {
			continue
		}
		for _, l := range p.Links {
			r.byLink[l] = t
			switch {
			case l.Disabled:
			case l.Kind == config.KindResource && !t.Resources:
				t.Over = append(t.Over, l)
			case t.Known && len(t.Licensed) < t.Cap:
				t.Licensed = append(t.Licensed, l)
			default:
				t.Over = append(t.Over, l)
			}
		}
	}
	return r
}

// Check is what `validate` (and every load) checks: resource links need
// resource sync, and where user_licenses is set the links must fit the cap.
func Check(cfg *config.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	res := Evaluate(cfg, nil)
	for _, t := range res.Tenants {
		var resourceOff, overCap []*config.Link
		for _, l := range t.Over {
			if l.Kind == config.KindResource && !t.Resources {
				resourceOff = append(resourceOff, l)
			} else if t.Known {
				overCap = append(overCap, l)
			}
		}
		for _, l := range resourceOff {
			rng := l.Range
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Resource sync is off",
				Detail: fmt.Sprintf("resource %q in profile %q belongs to tenant %s, which does not have resources = true; switch resource sync on in superoffice %q (it adds %d licences) or remove the link.",
					l.Name, l.Profile, t.Name, t.Name, ResourceBonus),
				Subject: &rng,
			})
		}
		if len(overCap) == 0 {
			continue
		}
		var names []string
		for _, l := range overCap {
			names = append(names, fmt.Sprintf("%s/%s (%s)", l.Profile, l.Name, config.Where(l.Range)))
		}
		so := cfg.Tenant(t.Name)
		rng := so.Range
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Over the licence cap",
			Detail: fmt.Sprintf("tenant %s has %s for %d links; over the cap: %s.",
				t.Name, capText(t), len(t.Licensed)+len(overCap), strings.Join(names, ", ")),
			Subject: &rng,
		})
		for _, l := range overCap {
			lr := l.Range
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Link over the licence cap",
				Detail:   fmt.Sprintf("%s %q of profile %q is beyond the %d licences of tenant %s.", l.Kind, l.Name, l.Profile, t.Cap, t.Name),
				Subject:  &lr,
			})
		}
	}
	return diags
}
