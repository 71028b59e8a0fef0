package tzcache

import (
	"fmt"
	"testing"
)

func TestCache(t *testing.T) {
	var c Cache
	a, err := c.Load("Europe/Oslo")
	if err != nil || a.String() != "Europe/Oslo" {
		t.Fatalf("Load = %v, %v", a, err)
	}
	if b, _ := c.Load("Europe/Oslo"); b != a {
		t.Error("a second Load of the same name loaded it again")
	}
	if _, err := c.Load("Nowhere/Atlantis"); err == nil {
		t.Error("an unknown zone loaded")
	}
	if _, err := c.Load("Nowhere/Atlantis"); err == nil {
		t.Error("the remembered failure was lost")
	}
	for i := range maxNames + 5 {
		c.Load(fmt.Sprintf("Bogus/%d", i))
	}
	if n := len(c.m); n > maxNames+1 {
		t.Errorf("the cache holds %d names, want at most %d", n, maxNames+1)
	}
}
