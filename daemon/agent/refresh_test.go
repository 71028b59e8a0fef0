package agent

import (
	"errors"
	"testing"
)

// A tenant connected after start gets its licences without waiting for the
// hourly refresh.
func TestRefreshLicensesSoon(t *testing.T) {
	t.Parallel()
	h := newHarness(t, conf(-1, "u:a", "u:b"))
	src := &fakeSource{err: errors.New("superoffice acme is not connected yet")}
	runner := &fakeRunner{}
	h.agent.SetLicenseSource(src)
	h.agent.SetRunner(runner)
	h.start()
	h.waitFor(func() bool { return linkStates(h.status()) == "a=unlicensed b=unlicensed" }, "links unlicensed while the count is unknown")
	src.set(1, nil) // an admin connected the tenant
	h.agent.RefreshLicensesSoon()
	h.agent.RefreshLicensesSoon() // a second ask while one is pending does not block
	h.waitFor(func() bool { return runner.last() == "p/a p/b" }, "the runner to get both links")
	if got := linkStates(h.status()); got != "a=pending_activation b=pending_activation" {
		t.Fatalf("states = %s", got)
	}
}
