package graphtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Ids. Exchange ids are opaque base64 strings; two forms exist for the same item: the
// default "REST id" (AAMkAG...) that changes when the item moves to another folder,
// and the immutable id (AAkALg...) returned under Prefer: IdType="ImmutableId". The
// emulator encodes its internal keys in both forms so a client that forgets the
// header gets ids that go stale after a move (see /_emulator/move).
const (
	immutablePrefix = "AAkALg"
	restPrefix      = "AAMkAG"
	calendarPrefix  = "AAMkAGCal"
)

const (
	kindImmutable byte = 1
	kindREST      byte = 2
	kindCalendar  byte = 3
)

var idEncoding = base64.URLEncoding // real ids use '-' and '_' and keep '=' padding

// itemRef is what an event id names: a stored item (key) or one occurrence of a
// series (key of the master plus the occurrence's original start).
type itemRef struct {
	key uint64
	occ int64 // unix seconds of the original start; 0 = the item itself
}

func (s *Server) encodeItemID(ref itemRef, immutable bool, gen byte) string {
	var b [23]byte
	b[0] = kindImmutable
	if !immutable {
		b[0] = kindREST
	}
	copy(b[1:5], s.salt[:4])
	binary.BigEndian.PutUint64(b[5:13], ref.key)
	binary.BigEndian.PutUint64(b[13:21], uint64(ref.occ))
	b[21] = gen
	b[22] = 0x46
	prefix := immutablePrefix
	if !immutable {
		prefix = restPrefix
	}
	return prefix + idEncoding.EncodeToString(b[:])
}

// decodeItemID parses an id in either form. ok is false for ids this server did not
// issue (malformed ones and those of another server instance).
func (s *Server) decodeItemID(id string) (ref itemRef, immutable bool, gen byte, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(id, immutablePrefix):
		rest, immutable = id[len(immutablePrefix):], true
	case strings.HasPrefix(id, restPrefix) && !strings.HasPrefix(id, calendarPrefix):
		rest = id[len(restPrefix):]
	default:
		return itemRef{}, false, 0, false
	}
	b, err := idEncoding.DecodeString(rest)
	if err != nil || len(b) != 23 {
		return itemRef{}, false, 0, false
	}
	want := kindREST
	if immutable {
		want = kindImmutable
	}
	if b[0] != want || string(b[1:5]) != string(s.salt[:4]) {
		return itemRef{}, false, 0, false
	}
	ref.key = binary.BigEndian.Uint64(b[5:13])
	ref.occ = int64(binary.BigEndian.Uint64(b[13:21]))
	return ref, immutable, b[21], true
}

// looksLikeID tells a malformed id (400 ErrorInvalidIdMalformed) from a well-formed
// one that names nothing (404 ErrorItemNotFound).
func looksLikeID(id string) bool {
	if len(id) < 20 {
		return false
	}
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

func (s *Server) calendarID(userIdx uint64, calIdx uint64) string {
	var b [21]byte
	b[0] = kindCalendar
	copy(b[1:5], s.salt[:4])
	binary.BigEndian.PutUint64(b[5:13], userIdx)
	binary.BigEndian.PutUint64(b[13:21], calIdx)
	return calendarPrefix + idEncoding.EncodeToString(b[:])
}

// changeKey derives the version string of an item from its key and write counter.
func (s *Server) changeKey(key uint64, version uint64) string {
	m := hmac.New(sha256.New, s.salt)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], key)
	binary.BigEndian.PutUint64(b[8:], version)
	m.Write(b[:])
	sum := m.Sum(nil)
	return base64.StdEncoding.EncodeToString(sum[:22])
}

func etagOf(changeKey string) string { return `W/"` + changeKey + `"` }

// icalUID builds an Exchange-style global object id: a fixed class id, the instance
// date (zero for a master or single), and a unique part. Copies of a meeting share
// the unique part with the organizer's item.
func icalUID(uidKey uint64, salt []byte, instance time.Time) string {
	date := "00000000"
	if !instance.IsZero() {
		date = fmt.Sprintf("%04X%02X%02X", instance.Year(), int(instance.Month()), instance.Day())
	}
	m := hmac.New(sha256.New, salt)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uidKey)
	m.Write([]byte("uid"))
	m.Write(b[:])
	return "040000008200E00074C5B7101A82E008" + date + "00000000000000000000000000000000100000" + fmt.Sprintf("%X", m.Sum(nil)[:16])
}

// guid formats 16 bytes derived from a label as a GUID string.
func (s *Server) guid(label string, n uint64) string {
	m := hmac.New(sha256.New, s.salt)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	m.Write([]byte(label))
	m.Write(b[:])
	h := m.Sum(nil)
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
