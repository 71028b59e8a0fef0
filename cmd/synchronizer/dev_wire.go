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
