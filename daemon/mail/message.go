package mail

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// parseMailbox accepts one address ("jane@acme.example" or "Jane <jane@acme.example>")
// and returns it parsed. Line breaks and other header-breaking input fail here.
func parseMailbox(what, s string) (*mail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: no %s address", ErrInvalid, what)
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: the %s address contains a line break", ErrInvalid, what)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s address %q: %v", ErrInvalid, what, clean(s, maxName), err)
	}
	return a, nil
}

// message is one outgoing mail before encoding.
type message struct {
	From    *mail.Address
	To      *mail.Address
	Subject string
	Lang    string
	Date    time.Time
	Text    string
	HTML    string
}

// encode renders m as an RFC 5322 message with a multipart/alternative body (plain
// text first, HTML second), both quoted-printable UTF-8, CRLF line ends throughout.
// random supplies the Message-ID and the MIME boundary.
func (m message) encode(random io.Reader) ([]byte, error) {
	id := make([]byte, 16)
	if _, err := io.ReadFull(random, id); err != nil {
		return nil, fmt.Errorf("random message id: %w", err)
	}
	b := make([]byte, 12)
	if _, err := io.ReadFull(random, b); err != nil {
		return nil, fmt.Errorf("random mime boundary: %w", err)
	}
	// "=_" cannot occur in quoted-printable output, so the boundary never collides
	// with a body line.
	boundary := "=_" + hex.EncodeToString(b)

	var buf bytes.Buffer
	header := func(name, value string) {
		buf.WriteString(name)
		buf.WriteString(": ")
		buf.WriteString(value)
		buf.WriteString("\r\n")
	}
	header("From", formatAddress(m.From))
	header("To", formatAddress(m.To))
	header("Subject", encodeSubject(m.Subject))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+messageIDDomain(m.From.Address)+">")
	header("MIME-Version", "1.0")
	if m.Lang != "" {
		header("Content-Language", m.Lang)
	}
	// RFC 3834: no vacation or out-of-office replies to an automatic mail; the second
	// header says the same to Exchange.
	header("Auto-Submitted", "auto-generated")
	header("X-Auto-Response-Suppress", "All")
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	buf.WriteString("\r\n")
	buf.WriteString("This is a multipart message in MIME format.\r\n")

	for _, part := range []struct{ ctype, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		buf.WriteString("\r\n--" + boundary + "\r\n")
		header("Content-Type", part.ctype)
		header("Content-Transfer-Encoding", "quoted-printable")
		buf.WriteString("\r\n")
		qp := quotedprintable.NewWriter(&buf)
		if _, err := io.WriteString(qp, toCRLF(part.body)); err != nil {
			return nil, fmt.Errorf("encode %s part: %w", part.ctype, err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("encode %s part: %w", part.ctype, err)
		}
	}
	buf.WriteString("\r\n--" + boundary + "--\r\n")
	return buf.Bytes(), nil
}

// formatAddress writes an address for a header, with a display name cleaned of
// anything that could break the header and RFC 2047-encoded when not plain ASCII.
func formatAddress(a *mail.Address) string {
	c := *a
	c.Name = clean(c.Name, maxName)
	return c.String()
}

// encodeSubject cleans s, encodes it per RFC 2047 when it is not plain ASCII and folds
// it so header lines stay short.
func encodeSubject(s string) string {
	s = clean(s, 0)
	enc := mime.QEncoding.Encode("utf-8", s)
	// Fold at the spaces between words (or encoded words): unfolding restores them.
	var b strings.Builder
	line := len("Subject: ")
	for i, w := range strings.Split(enc, " ") {
		if i > 0 {
			if line+1+len(w) > 76 {
				b.WriteString("\r\n")
				line = 0
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// messageIDDomain is the right-hand side of a Message-ID: the sender's domain.
func messageIDDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i+1 < len(addr) {
		d := addr[i+1:]
		if utf8.ValidString(d) && !strings.ContainsAny(d, " <>[]\r\n") {
			return d
		}
	}
	return "synchronizer.invalid"
}

// toCRLF turns every line end into CRLF, as the wire format wants.
func toCRLF(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
