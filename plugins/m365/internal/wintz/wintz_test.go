package wintz

import (
	"strconv"
	"testing"
	"time"
)

// Every zone of the table loads, and every Windows name maps back to itself through
// its canonical zone and each listed alias (Etc/ and legacy links aside).
func TestTable(t *testing.T) {
	for _, row := range windows {
		win := row[0]
		if len(row) == 1 {
			if _, ok := IANA(win); !ok {
				t.Errorf("%s resolves to nothing", win)
			}
			continue
		}
		for i, z := range row[1:] {
			if _, err := time.LoadLocation(z); err != nil {
				t.Errorf("%s: %s does not load: %v", win, z, err)
				continue
			}
			if got, ok := Windows(z); i == 0 && (!ok || got != win) {
				t.Errorf("Windows(%s) = %q, want %q", z, got, win)
			}
		}
		if got, _ := IANA(win); got != row[1] {
			t.Errorf("IANA(%s) = %q, want %q", win, got, row[1])
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		in, iana string
		ok       bool
	}{
		{"W. Europe Standard Time", "Europe/Berlin", true},
		{"w. europe standard time", "Europe/Berlin", true},
		{"Pacific Standard Time", "America/Los_Angeles", true},
		{"Europe/Oslo", "Europe/Oslo", true},
		{"europe/oslo", "Europe/Oslo", true},
		{"UTC", "UTC", true},
		{"tzone://Microsoft/Utc", "Etc/UTC", true},
		{"America/Argentina/Salta", "America/Argentina/Salta", true},
		{"tzone://Microsoft/Custom", "", false},
		{"Mars/Olympus", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		loc, iana, ok := Resolve(tc.in)
		if ok != tc.ok || iana != tc.iana || ok && loc == nil {
			t.Errorf("Resolve(%q) = %v %q %v, want %q %v", tc.in, loc, iana, ok, tc.iana, tc.ok)
		}
	}
	// Berlin's offset changes at the end of March: the loaded rules are real ones.
	loc, _, _ := Resolve("W. Europe Standard Time")
	if _, off := time.Date(2026, 3, 28, 12, 0, 0, 0, loc).Zone(); off != 3600 {
		t.Errorf("offset before DST %d", off)
	}
	if _, off := time.Date(2026, 3, 30, 12, 0, 0, 0, loc).Zone(); off != 7200 {
		t.Errorf("offset after DST %d", off)
	}
}

func TestZonesRemembersResolve(t *testing.T) {
	var z Zones
	for _, name := range []string{"W. Europe Standard Time", "Europe/Oslo", "UTC", "Mars Standard Time", "europe/oslo"} {
		wl, wn, wok := Resolve(name)
		for pass := 0; pass < 2; pass++ {
			l, n, ok := z.Resolve(name)
			if ok != wok || n != wn || (ok && l.String() != wl.String()) {
				t.Errorf("%q, pass %d: %v %q %v; Resolve gives %v %q %v", name, pass, l, n, ok, wl, wn, wok)
			}
		}
	}
	if len(z.m) != 5 {
		t.Errorf("%d names remembered, want 5", len(z.m))
	}
	if l, _, ok := (*Zones)(nil).Resolve("Europe/Oslo"); !ok || l.String() != "Europe/Oslo" {
		t.Errorf("nil Zones: %v %v", l, ok)
	}
	for i := 0; i < maxZones+5; i++ {
		z.Resolve("Nowhere/" + strconv.Itoa(i))
	}
	if len(z.m) > maxZones {
		t.Errorf("%d names remembered, more than %d", len(z.m), maxZones)
	}
}
