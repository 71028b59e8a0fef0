package superoffice_test

import (
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// An update carrying a correlation id marks an appointment this integration
// created that has no mark yet (a create interrupted between the appointment and
// its mark, adopted by the sync), and never replaces a mark or marks what
// someone else created.
func TestUpdateMarksAnUnmarkedCreate(t *testing.T) {
	e := newEnv(t)
	tg := e.target(e.user1)
	start := time.Date(2025, 4, 8, 9, 0, 0, 0, time.UTC)
	create := func(tg sdk.Target, title, corr string) sdk.Event {
		t.Helper()
		ev, err := e.p.Create(e.ctx(), tg, sdk.Event{Title: title, Start: start, End: start.Add(time.Hour), CorrelationID: corr})
		if err != nil {
			t.Fatalf("create %q: %v", title, err)
		}
		return ev
	}
	update := func(tg sdk.Target, ev sdk.Event, corr string) {
		t.Helper()
		ev.CorrelationID = corr
		ev.Version = ""
		if _, err := e.p.Update(e.ctx(), tg, ev); err != nil {
			t.Fatalf("update %q: %v", ev.Title, err)
		}
	}
	found := func(tg sdk.Target, corr string) []string {
		t.Helper()
		evs, err := e.p.FindByCorrelation(e.ctx(), tg, corr)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		return ids
	}

	// User Two's own appointment, made by User Two.
	tg2 := e.target(e.user2)
	tok, err := e.so.TokenFor("USER2")
	if err != nil {
		t.Fatal(err)
	}
	asUser2 := tg2
	asUser2.Credential = sdk.Credential{Type: "bearer", Token: tok}

	unmarked := create(tg, "Unmarked", "")
	marked := create(tg, "Marked", "c-marked")
	theirs := create(asUser2, "Theirs", "")
	update(tg, unmarked, "c-adopted")
	update(tg, marked, "c-other")
	update(tg2, theirs, "c-theirs")

	cases := []struct {
		tg   sdk.Target
		corr string
		want []string
	}{
		{tg, "c-adopted", []string{unmarked.ID}},
		{tg, "c-marked", []string{marked.ID}},
		{tg, "c-other", nil},
		{tg2, "c-theirs", nil},
	}
	for _, c := range cases {
		if got := found(c.tg, c.corr); len(got) != len(c.want) || (len(got) == 1 && got[0] != c.want[0]) {
			t.Errorf("FindByCorrelation(%s) = %v, want %v", c.corr, got, c.want)
		}
	}
	evs, _, _, _ := e.listAll(tg, "", 0)
	if got := evs[unmarked.ID].CorrelationID; got != "c-adopted" {
		t.Errorf("the adopted appointment is listed with correlation id %q", got)
	}
}
