package main

import (
	"log/slog"
	"slices"

	"synchronizer/plugins/google"
	"synchronizer/plugins/m365"
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice"
)

// newProvider builds one built-in provider with the logger it logs to.
type newProvider func(logger *slog.Logger) sdk.Provider

// builtinProviders is the table of providers this binary serves as
// `synchronizer plugin NAME`. It is the only place that wires concrete providers
// in. "memory" is the in-memory example provider, built in so tests and
// experiments need no separate plugin file.
func builtinProviders() map[string]newProvider {
	return map[string]newProvider{
		"superoffice": func(l *slog.Logger) sdk.Provider { return superoffice.New(l) },
		"m365":        func(l *slog.Logger) sdk.Provider { return m365.New(l) },
		"google":      func(l *slog.Logger) sdk.Provider { return google.New(l) },
		"memory":      func(*slog.Logger) sdk.Provider { return memory.New() },
	}
}

// builtinNames lists the built-in providers, sorted.
func builtinNames() []string {
	var names []string
	for n := range builtinProviders() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
