package config

import (
	"maps"
	"strconv"
)

// settingKeys are the keys a block's attributes fill in for its provider.
func settingKeys(provider string) []string {
	switch provider {
	case ProviderSuperOffice:
		return []string{"endpoint", "context_id", "environment", "client_id", "client_secret", "partner_key", "base_url", "username", "password", "resources"}
	case ProviderM365:
		return []string{"endpoint", "tenant_id", "client_id", "client_secret", "auth"}
	case ProviderGoogle:
		return []string{"endpoint", "client_id", "client_secret", "service_account_json", "admin"}
	default:
		return []string{"endpoint", "client_id", "client_secret"}
	}
}

// PluginSettings are the plain settings the host hands the superoffice
// provider for this tenant (sdk.Provider.Configure). Every key is present;
// unset ones are "". They hold secrets: never log them.
func (s *SuperOffice) PluginSettings() map[string]string {
	return map[string]string{
		"endpoint":      s.Endpoint,
		"context_id":    s.ContextID,
		"environment":   s.Environment,
		"client_id":     s.ClientID,
		"client_secret": s.ClientSecret,
		"partner_key":   s.PartnerKey,
		"base_url":      s.BaseURL,
		"username":      s.Username,
		"password":      s.Password,
		"resources":     strconv.FormatBool(s.Resources),
	}
}

// PluginSettings are the plain settings the host hands the calendar's
// provider: the provider's own keys plus the block's settings map. Every key
// of the provider is present; unset ones are "". They hold secrets: never log them.
func (c *Calendar) PluginSettings() map[string]string {
	out := maps.Clone(c.Settings)
	if out == nil {
		out = map[string]string{}
	}
	values := map[string]string{
		"endpoint":             c.Endpoint,
		"tenant_id":            c.TenantID,
		"client_id":            c.ClientID,
		"client_secret":        c.ClientSecret,
		"auth":                 c.Auth,
		"service_account_json": c.ServiceAccountJSON,
		"admin":                c.Admin,
	}
	for _, k := range settingKeys(c.Provider) {
		out[k] = values[k]
	}
	return out
}

// PluginSettings finds the superoffice or calendar block called name and
// returns its provider and settings; ok is false when there is none.
func (c *Config) PluginSettings(name string) (provider string, settings map[string]string, ok bool) {
	if s := c.Tenant(name); s != nil {
		return ProviderSuperOffice, s.PluginSettings(), true
	}
	if cal := c.Calendar(name); cal != nil {
		return cal.Provider, cal.PluginSettings(), true
	}
	return "", nil, false
}
