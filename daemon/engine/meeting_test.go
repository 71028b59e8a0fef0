package engine_test

import (
	"testing"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
)

func TestMemMeetingsConformance(t *testing.T) {
	enginetest.MeetingStoreConformance(t, func() engine.MeetingStore { return engine.NewMemMeetings() })
}

// MemStore is a MeetingStore too, so an engine over it keeps a registry.
func TestMemStoreKeepsMeetings(t *testing.T) {
	enginetest.MeetingStoreConformance(t, func() engine.MeetingStore { return engine.NewMemStore() })
}
