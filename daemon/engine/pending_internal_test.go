package engine

import (
	"reflect"
	"testing"
	"time"
)

// sameIntent must see every field: an intent written ahead is trusted only
// while it equals what the create is about to send. Each field of Intent, Pair
// and Ref is changed in turn, and the change must be noticed; a field added
// later fails this test until samePair or sameRef compare it.
func TestSameIntentSeesEveryField(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)
	base := Intent{ID: "c1", Side: Calendar, Started: at, Pair: Pair{ID: "c1", SO: Ref{ID: "s1", Extras: map[string]string{"k": "v"}}, Writes: []time.Time{at}}}
	var mutate func(t *testing.T, path string, v reflect.Value, check func(string))
	mutate = func(t *testing.T, path string, v reflect.Value, check func(string)) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			name := path + "." + v.Type().Field(i).Name
			old := reflect.New(f.Type()).Elem()
			old.Set(f)
			switch {
			case f.Type() == reflect.TypeOf(time.Time{}):
				f.Set(reflect.ValueOf(at.Add(time.Hour)))
			case f.Type() == reflect.TypeOf(Ref{}) || f.Type() == reflect.TypeOf(Pair{}):
				mutate(t, name, f, check)
				continue
			case f.Kind() == reflect.String:
				f.SetString(f.String() + "x")
			case f.Kind() == reflect.Bool:
				f.SetBool(!f.Bool())
			case f.Kind() == reflect.Slice && f.Type().Elem() == reflect.TypeOf(time.Time{}):
				f.Set(reflect.ValueOf([]time.Time{at, at.Add(time.Minute)}))
			case f.Kind() == reflect.Map:
				f.Set(reflect.ValueOf(map[string]string{"k": "w"}))
			default:
				t.Fatalf("%s: a field of kind %s the test does not know how to change", name, f.Kind())
			}
			check(name)
			f.Set(old)
		}
	}
	cur := base.Clone()
	cur.Pair = base.Pair.Clone()
	if !sameIntent(&base, &cur) {
		t.Fatal("an intent differs from its copy")
	}
	mutate(t, "Intent", reflect.ValueOf(&cur).Elem(), func(name string) {
		if sameIntent(&base, &cur) {
			t.Errorf("a change of %s went unnoticed", name)
		}
	})
	if !sameIntent(&base, &cur) {
		t.Fatal("the intent was not restored after the changes")
	}
}
