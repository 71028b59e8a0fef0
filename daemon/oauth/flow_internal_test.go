package oauth

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

func TestFlowStoreIsBoundedAndSingleUse(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	fs := newFlowStore(15*time.Minute, 3)
	put := func(state string, at time.Time) {
		fs.put(state, &flow{created: at, binding: sha256.Sum256([]byte("b-" + state))}, at)
	}
	for i := range 3 {
		put(fmt.Sprint("s", i), t0.Add(time.Duration(i)*time.Second))
	}
	put("s3", t0.Add(10*time.Second)) // full: the oldest (s0) goes
	if fs.len() != 3 {
		t.Fatalf("%d flows kept, want 3", fs.len())
	}
	if f, ok := fs.take("s0", "b-s0", t0.Add(time.Minute)); f != nil || ok {
		t.Error("the oldest flow survived a full store")
	}
	if f, ok := fs.take("s1", "b-s1", t0.Add(time.Minute)); f == nil || !ok {
		t.Error("a fresh flow with its binding was refused")
	}
	if f, _ := fs.take("s1", "b-s1", t0.Add(time.Minute)); f != nil {
		t.Error("a flow was taken twice")
	}
	if f, ok := fs.take("s2", "wrong", t0.Add(time.Minute)); f == nil || ok {
		t.Error("a wrong binding must find the flow but refuse it")
	}
	if f, _ := fs.take("s2", "b-s2", t0.Add(time.Minute)); f != nil {
		t.Error("a refused flow stayed usable")
	}
	if f, ok := fs.take("s3", "", t0.Add(time.Minute)); !ok || f == nil {
		t.Error("a callback without any binding (a client without cookies) was refused")
	}
	put("late", t0)
	if f, _ := fs.take("late", "b-late", t0.Add(16*time.Minute)); f != nil {
		t.Error("an expired flow was handed out")
	}
	// Expired flows make room before the oldest live one is evicted.
	fs = newFlowStore(time.Minute, 2)
	put("old", t0)
	put("live", t0.Add(2*time.Minute))
	fs.put("new", &flow{created: t0.Add(2 * time.Minute)}, t0.Add(2*time.Minute))
	if f, _ := fs.take("live", "b-live", t0.Add(2*time.Minute)); f == nil {
		t.Error("a live flow was evicted while an expired one was there")
	}
}
