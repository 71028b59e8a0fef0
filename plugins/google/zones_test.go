package google

import (
	"testing"
	"time"
)

func TestZonesRemembersLocations(t *testing.T) {
	var z zones
	for _, c := range []struct {
		name string
		ok   bool
	}{{"Europe/Oslo", true}, {"America/New_York", true}, {"Mars/Olympus", false}, {"UTC", true}} {
		for pass := 0; pass < 2; pass++ {
			l, err := z.load(c.name)
			if (err == nil) != c.ok {
				t.Fatalf("%s, pass %d: %v", c.name, pass, err)
			}
			if c.ok && l.String() != c.name {
				t.Errorf("%s, pass %d: location %s", c.name, pass, l)
			}
		}
	}
	if len(z.m) != 4 {
		t.Errorf("%d names remembered, want 4 (a failed one too)", len(z.m))
	}
	if l, err := (*zones)(nil).load("Europe/Oslo"); err != nil || l.String() != "Europe/Oslo" {
		t.Errorf("nil zones: %v, %v", l, err)
	}
	if zoneOf(&z, "Mars/Olympus") != time.UTC || zoneOf(&z, "") != time.UTC {
		t.Error("an unknown or empty zone is not UTC")
	}
	for i := 0; i < maxZones+5; i++ {
		_, _ = z.load("Nowhere/" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)))
	}
	if len(z.m) > maxZones {
		t.Errorf("%d names remembered, more than %d", len(z.m), maxZones)
	}
}
