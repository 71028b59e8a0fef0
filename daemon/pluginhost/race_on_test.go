//go:build race

package pluginhost

// raceEnabled makes binaries built by tests race-enabled too, so they reuse the
// packages the race-enabled test binary already compiled.
const raceEnabled = true
