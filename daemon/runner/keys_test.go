package runner

import (
	"slices"
	"testing"

	"synchronizer/daemon/config"
)

// The links of one SuperOffice diary share a key whose default limit is one
// run at a time; links of different diaries, or of another tenant, do not.
func TestLinksOfOneDiaryRunOneAtATime(t *testing.T) {
	tenant := &config.SuperOffice{Name: "acme"}
	other := &config.SuperOffice{Name: "beta"}
	m365 := &config.Calendar{Name: "acme365", Provider: "m365"}
	google := &config.Calendar{Name: "acmegw", Provider: "google"}
	diaryKey := func(keys []string) string {
		i := slices.IndexFunc(keys, func(k string) bool { return len(k) > 6 && k[:6] == "diary:" })
		if i < 0 {
			t.Fatalf("no diary key in %v", keys)
		}
		return keys[i]
	}
	jane365 := diaryKey(jobKeys(tenant, m365, &config.Link{Associate: "JANE", Mailbox: "jane@acme.example"}))
	cases := []struct {
		name string
		key  string
		same bool
	}{
		{"the same person in another profile", diaryKey(jobKeys(tenant, google, &config.Link{Associate: "jane", Mailbox: "jane@acme.test"})), true},
		{"another person", diaryKey(jobKeys(tenant, google, &config.Link{Associate: "JOHN", Mailbox: "john@acme.test"})), false},
		{"the same login in another tenant", diaryKey(jobKeys(other, m365, &config.Link{Associate: "JANE", Mailbox: "jane@beta.example"})), false},
	}
	for _, c := range cases {
		if got := c.key == jane365; got != c.same {
			t.Errorf("%s: key %q vs %q: shared = %v, want %v", c.name, c.key, jane365, got, c.same)
		}
	}
	if DefaultLimits()["diary"] != 1 {
		t.Errorf("diary limit = %d, want 1", DefaultLimits()["diary"])
	}
}
