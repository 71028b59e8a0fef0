package memory

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
)

// cursor is what an opaque change cursor carries. Incremental cursors say "changes
// after sequence Since"; a full round's continuation cursor says "items after ID
// After, and afterwards changes after Since" (Since is the calendar's sequence when
// the round began, so nothing written during the round is missed).
type cursor struct {
	Epoch uint64 `json:"e"`
	Cal   uint32 `json:"k"`
	Since uint64 `json:"s"`
	Full  bool   `json:"f,omitempty"`
	After string `json:"a,omitempty"`
}

const cursorPrefix = "mem1."

func (c cursor) encode() string {
	b, _ := json.Marshal(c) // a struct of plain fields always marshals
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	if len(s) <= len(cursorPrefix) || s[:len(cursorPrefix)] != cursorPrefix {
		return cursor{}, fmt.Errorf("cursor %.20q is not one of this provider's", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(cursorPrefix):])
	if err != nil {
		return cursor{}, fmt.Errorf("decode cursor: %w", err)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return cursor{}, fmt.Errorf("decode cursor: %w", err)
	}
	return c, nil
}

// keyHash ties a cursor to its calendar, so a cursor handed to another calendar is
// refused instead of silently skipping that calendar's changes.
func keyHash(k calKey) uint32 {
	h := fnv.New32a()
	for _, s := range []string{k.instance, k.account, k.calendar} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum32()
}
