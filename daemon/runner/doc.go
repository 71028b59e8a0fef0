// Package runner runs the links: it is the agent's Runner. For every licensed
// link of the configuration in force it binds the two sides (the superoffice
// provider and the profile's calendar provider, each a plugin behind
// daemon/pluginhost) to the sync engine, schedules runs with daemon/scheduler, keeps
// each link's state, last sync, last error and item count in the state store, and
// feeds the metrics. Credentials and activation links come from the consent side
// through the Credentials and Activations interfaces.
//
// It must not import a concrete provider; cmd hands it the plugin host.
package runner
