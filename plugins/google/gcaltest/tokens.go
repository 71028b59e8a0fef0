package gcaltest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
)

// Sync tokens look like Google's (base64 of a small binary record): the token's
// serial (for expiry), the change number it stands for, and a hash of the calendar.

type syncToken struct {
	serial uint64
	seq    uint64
	cal    uint32
}

func calHash(id string) uint32 {
	h := sha1.Sum([]byte(strings.ToLower(id)))
	return binary.BigEndian.Uint32(h[:4])
}

// issueSyncToken returns a new token for calendar c at change number seq. Callers
// hold s.mu.
func (s *Server) issueSyncToken(c *calendar, seq uint64) string {
	s.tokSerial++
	b := []byte{0x08}
	b = u64(b, s.tokSerial)
	b = append(b, 0x10)
	b = u64(b, seq)
	b = append(b, 0x18)
	b = u64(b, uint64(calHash(c.id)))
	return base64.StdEncoding.EncodeToString(b)
}

// parseSyncToken decodes a token for calendar c; any failure, a token of another
// calendar or an expired one is 410 fullSyncRequired, as Google answers expired or
// invalid tokens. Callers hold s.mu.
func (s *Server) parseSyncToken(c *calendar, tok string) (syncToken, *gerr) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) < 6 {
		return syncToken{}, errFullSync()
	}
	var t syncToken
	fields := []*uint64{&t.serial, &t.seq, nil}
	var calv uint64
	fields[2] = &calv
	for i, tag := range []byte{0x08, 0x10, 0x18} {
		if len(b) == 0 || b[0] != tag {
			return syncToken{}, errFullSync()
		}
		v, n := binary.Uvarint(b[1:])
		if n <= 0 {
			return syncToken{}, errFullSync()
		}
		*fields[i] = v
		b = b[1+n:]
	}
	t.cal = uint32(calv)
	if len(b) != 0 || t.cal != calHash(c.id) || t.serial < s.tokFloor || t.serial > s.tokSerial || t.seq > s.seq {
		return syncToken{}, errFullSync()
	}
	return t, nil
}

// pageToken continues a list. It is bound to the request's other parameters.
type pageToken struct {
	Kind     string `json:"k"`           // list | sync | inst | res
	Hash     string `json:"h"`           // hash of the other parameters
	Snapshot uint64 `json:"s"`           // change number the listing started at
	After    string `json:"a,omitempty"` // last id served (id-ordered lists)
	Offset   int    `json:"o,omitempty"` // items served (sorted lists)
	Base     uint64 `json:"b,omitempty"` // sync: the token's change number
	Serial   uint64 `json:"t,omitempty"` // sync: the token's serial, for expiry
}

func (p pageToken) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s, kind, hash string) (pageToken, *gerr) {
	var p pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil || p.Kind != kind || p.Hash != hash {
		return pageToken{}, errInvalid("pageToken", "Invalid page token value.")
	}
	return p, nil
}

// paramsHash fingerprints a request's parameters except the paging ones and the
// presentation ones, so a page token only continues the list it came from.
func paramsHash(path string, q url.Values) string {
	var keys []string
	for k := range q {
		switch k {
		case "pageToken", "alt", "prettyPrint", "fields", "quotaUser", "maxResults", "oauth_token", "key", "userIp":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha1.New()
	h.Write([]byte(path))
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		h.Write([]byte("\x00" + k + "=" + strings.Join(vs, "\x01")))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:9])
}
