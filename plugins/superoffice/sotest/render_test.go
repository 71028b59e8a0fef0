package sotest

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

type testRow struct {
	id   int
	n    int
	text string
	at   time.Time
	flag bool
}

func testArchive() *archive {
	tr := func(r any) *testRow { return r.(*testRow) }
	return newArchive("Test", "test", map[string]column{
		"id": intCol(colInt, func(r any) int { return tr(r).id }),
		"n":  {kind: colInt, raw: func(r any) any { return tr(r).n }},
		"list": {kind: colList, raw: func(r any) any { return tr(r).n }, num: func(r any) int { return tr(r).n },
			display: func(r any) string { return "item " + strconv.Itoa(tr(r).n) }},
		"plainList": {kind: colList, raw: func(r any) any { return tr(r).n }, display: func(r any) string { return "item " + strconv.Itoa(tr(r).n) }},
		"text":      {kind: colString, raw: func(r any) any { return tr(r).text }},
		"at":        dateCol(colLocalDate, func(r any) time.Time { return tr(r).at }),
		"plainAt":   {kind: colLocalDate, raw: func(r any) any { return tr(r).at }},
		"atUTC":     dateCol(colUTCDate, func(r any) time.Time { return tr(r).at }),
		"plainUTC":  {kind: colUTCDate, raw: func(r any) any { return tr(r).at }},
		"flag":      {kind: colBool, raw: func(r any) any { return tr(r).flag }},
		"Capital":   {kind: colString, raw: func(r any) any { return strings.ToUpper(tr(r).text) }},
	}, func(r any) int { return tr(r).id })
}

// TestRenderSearchAsEncodingJSON: the search answer written by hand is the one
// encoding/json wrote from maps, byte for byte, whatever the texts hold
// (quotes, escapes, control characters, HTML, invalid UTF-8, U+2028), and rows
// sort by their $orderBy columns as before. Randomized: the seed is printed.
func TestRenderSearchAsEncodingJSON(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SOTEST_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (replay with SOTEST_SEED=%d)", seed, seed)
	rng := newRand(seed)
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no zone database")
	}
	texts := []string{"plain", `a "quoted" \ text`, "line\nbreak\ttab\x01", "<b>&amp;</b>", "ünïcødé", "bad \xff utf8", "sep\u2028par\u2029", ""}
	a := testArchive()
	for round := 0; round < 50; round++ {
		var rows []any
		for i := 0; i < rng.IntN(20); i++ {
			at := time.Time{}
			if rng.IntN(5) > 0 {
				at = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(1e6)) * time.Minute)
			}
			rows = append(rows, &testRow{id: 1 + rng.IntN(1000), n: rng.IntN(5) - 2, text: texts[rng.IntN(len(texts))], at: at, flag: rng.IntN(2) == 0})
		}
		var selected []string
		for _, n := range []string{"id", "n", "list", "plainList", "text", "at", "plainAt", "atUTC", "plainUTC", "flag", "Capital", "text"} {
			if rng.IntN(3) > 0 {
				selected = append(selected, n)
			}
		}
		logical := rng.IntN(2) == 0
		z := zone{loc: [](*time.Location){time.UTC, oslo}[rng.IntN(2)], offset: rng.IntN(2) == 0}
		var next *string
		if rng.IntN(2) == 0 {
			l := "https://h/api/v1/Test?$skip=5&$filter=text%20eq%20'<&>'"
			next = &l
		}
		want := wire.ODataResponse{Metadata: "https://h/api/v1/Archive/$metadata", NextLink: next, Value: []map[string]any{}}
		for _, r := range rows {
			m := map[string]any{"PrimaryKey": strconv.Itoa(a.key(r)), "EntityName": a.entity}
			for _, n := range selected {
				_, col, _ := a.col(n)
				m[n] = renderValue(col, r, logical, z)
			}
			want.Value = append(want.Value, m)
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, 200, want)
		got := renderSearch(nil, a, rows, selected, logical, z, want.Metadata, next)
		if !bytes.Equal(got, rec.Body.Bytes()) {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got, rec.Body.Bytes())
		}
		// Into a used buffer, as the server's pool hands them out.
		used := append(make([]byte, 0, rng.IntN(4096)), "left over"...)
		if again := renderSearch(used, a, rows, selected, logical, z, want.Metadata, next); !bytes.Equal(again, got) {
			t.Fatalf("round %d: into a used buffer:\n got %s\nwant %s", round, again, got)
		}

		// Sorting, against a sort that compares the columns' values each time.
		orderBy := []string{"n", "text desc", "at", "plainAt desc", "flag desc,id", "Capital,n desc", "list desc", ""}[rng.IntN(8)]
		sorted := append([]any(nil), rows...)
		if err := sortRowsBy(a, sorted, orderBy); err != nil {
			t.Fatal(err)
		}
		ref := append([]any(nil), rows...)
		referenceSort(a, ref, orderBy)
		for i := range ref {
			if sorted[i] != ref[i] {
				t.Fatalf("round %d: $orderBy %q sorts differently: %v vs %v", round, orderBy, dump(sorted), dump(ref))
			}
		}
	}
}

func dump(rows []any) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%+v ", *r.(*testRow))
	}
	return b.String()
}

// referenceSort is how rows were sorted before the keys were read once.
func referenceSort(a *archive, rows []any, orderBy string) {
	type key struct {
		col  column
		desc bool
	}
	var keys []key
	for _, part := range strings.Split(orderBy, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		_, c, _ := a.col(f[0])
		keys = append(keys, key{col: c, desc: len(f) > 1 && strings.EqualFold(f[1], "desc")})
	}
	cmpAny := func(x, y any) int {
		switch v := x.(type) {
		case int:
			w := y.(int)
			switch {
			case v < w:
				return -1
			case v > w:
				return 1
			}
		case time.Time:
			return v.Compare(y.(time.Time))
		case string:
			return strings.Compare(strings.ToLower(v), strings.ToLower(y.(string)))
		case bool:
			if w := y.(bool); v != w {
				if !v {
					return -1
				}
				return 1
			}
		}
		return 0
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range keys {
			if c := cmpAny(k.col.raw(rows[i]), k.col.raw(rows[j])); c != 0 {
				return (c < 0) != k.desc
			}
		}
		return a.key(rows[i]) < a.key(rows[j])
	})
}

func TestMatcherReadsValuesOnce(t *testing.T) {
	a := testArchive()
	conds, err := parseFilter(a, "n oneOf (1,2) and at afterTime '2025-03-01T10:00:00' and text contains 'QUOTED' and id eq x")
	if err != nil {
		t.Fatal(err)
	}
	typed, err := parseFilter(a, "id le 1 and plainAt afterTime '2025-03-01T10:00:00' and list gt 1 and at between ('2025-03-01','2025-03-01')")
	if err != nil {
		t.Fatal(err)
	}
	z := zone{loc: time.UTC}
	row := &testRow{id: 1, n: 2, text: `a "quoted" text`, at: time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)}
	for i, want := range []bool{true, true, true} {
		m := newMatcher(conds[i])
		for pass := 0; pass < 2; pass++ {
			if got, err := m.match(row, z, time.Time{}); got != want || err != nil {
				t.Errorf("condition %d, pass %d: %v, %v", i, pass, got, err)
			}
		}
	}
	for i, cd := range typed {
		if got, err := newMatcher(cd).match(row, z, time.Time{}); !got || err != nil {
			t.Errorf("typed condition %d: %v, %v", i, got, err)
		}
	}
	// A value that is no number fails at the first row, as it always did.
	m := newMatcher(conds[3])
	for pass := 0; pass < 2; pass++ {
		if _, err := m.match(row, z, time.Time{}); err == nil || !strings.Contains(err.Error(), `"x" is not a number`) {
			t.Errorf("pass %d: %v", pass, err)
		}
	}
}
