package main

import (
	"log/slog"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/telemetry"
)

// newDevDaemon builds the demo's daemon from its generated configuration, wired
// as `run -config` wires one.
func newDevDaemon(cfgPath string, log *slog.Logger, level *slog.LevelVar) (*agent.Agent, error) {
	return agent.New(agent.Options{ConfigPath: cfgPath, Logger: log, Level: level, Metrics: telemetry.New()})
}

// devWired says whether the demo's daemon has its runner and consent listener
// wired in; until then `run -dev` starts but cannot complete consent, and the
// tests that need it say so.
const devWired = false
