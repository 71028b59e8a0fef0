package main

import (
	"log/slog"

	"synchronizer/daemon/agent"
	"synchronizer/daemon/telemetry"
)

// newDevDaemon builds the demo's daemon from its generated configuration, wired
// as `run -config` wires one (plugin host, runner, licence source, routes). Call
// closeWiring after the agent's Run has returned.
func newDevDaemon(cfgPath string, log *slog.Logger, level *slog.LevelVar) (a *agent.Agent, closeWiring func(), err error) {
	a, err = agent.New(agent.Options{ConfigPath: cfgPath, Logger: log, Level: level, Metrics: telemetry.New()})
	if err != nil {
		return nil, nil, err
	}
	w, err := wireDaemon(a, log)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, w.Close, nil
}
