package mail

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"unicode"
	"unicode/utf8"
)

// rich is one piece of prose in both of a mail's forms: plain text and HTML.
type rich struct {
	Text string
	HTML template.HTML
}

// richArg is an argument to richf: how it reads in plain text and in HTML.
type richArg interface {
	text() string
	html() string
}

// txt is an argument shown as-is (escaped in HTML).
type txt string

func (s txt) text() string { return string(s) }
func (s txt) html() string { return html.EscapeString(string(s)) }

// em is a name the reader should spot: bold in HTML.
type em string

func (s em) text() string { return string(s) }
func (s em) html() string { return "<strong>" + html.EscapeString(string(s)) + "</strong>" }

// word is a name kept on one line in plain text ("Microsoft 365").
type word string

func (s word) text() string { return strings.ReplaceAll(string(s), " ", nbsp) }
func (s word) html() string { return html.EscapeString(string(s)) }

// cmd is a shell command: monospace in HTML, and never broken across lines in plain
// text (its spaces are no-break spaces until wrapText has laid the text out).
type cmd string

func (s cmd) text() string { return strings.ReplaceAll(string(s), " ", nbsp) }
func (s cmd) html() string {
	return `<code style="font-family:Consolas,Menlo,monospace;font-size:13px;background-color:#f0f2f4;padding:1px 4px;">` +
		html.EscapeString(string(s)) + "</code>"
}

const nbsp = "\u00a0"

// richf formats a catalog sentence with arguments. The sentence is plain text; in the
// HTML form it is escaped first, so only the arguments' own markup reaches the page.
func richf(format string, args ...richArg) rich {
	ta := make([]any, len(args))
	ha := make([]any, len(args))
	for i, a := range args {
		ta[i] = a.text()
		ha[i] = a.html()
	}
	return rich{
		Text: fmt.Sprintf(format, ta...),
		// The format is escaped and every argument escaped by its html method.
		HTML: template.HTML(fmt.Sprintf(html.EscapeString(format), ha...)), //nolint:gosec // see above
	}
}

// join puts sentences into one paragraph.
func join(parts ...rich) rich {
	var r rich
	for i, p := range parts {
		if i > 0 {
			r.Text += " "
			r.HTML += " "
		}
		r.Text += p.Text
		r.HTML += p.HTML
	}
	return r
}

// clean makes a value from configuration, state or a remote system safe to show in a
// mail and in a header: control characters (CR and LF included) and bidirectional
// overrides become spaces, runs of space collapse, and the result is cut to max runes.
func clean(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) || isBidiControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if max > 0 && utf8.RuneCountInString(out) > max {
		rs := []rune(out)
		out = strings.TrimSpace(string(rs[:max-1])) + "…"
	}
	return out
}

// isBidiControl reports the Unicode bidirectional embedding, override and isolate
// controls, which could make a name display as something else.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// messageParagraphs splits a profile's custom message into paragraphs of lines: blank
// lines separate paragraphs, line breaks inside one are kept. Each line is cleaned.
func messageParagraphs(msg string) [][]string {
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	var paras [][]string
	var cur []string
	for _, line := range strings.Split(msg, "\n") {
		line = clean(line, 1000)
		if line == "" {
			if len(cur) > 0 {
				paras = append(paras, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		paras = append(paras, cur)
	}
	return paras
}

// textWidth is where plain-text paragraphs wrap.
const textWidth = 72

// wrapText lays s out in lines of at most width columns (a longer word, such as a URL,
// gets a line of its own). The first line starts with first, the others with rest.
func wrapText(s string, width int, first, rest string) string {
	var b strings.Builder
	prefix := first
	line := 0
	// Split on ordinary white space only: no-break spaces hold commands together.
	words := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '\r' })
	for _, w := range words {
		wl := utf8.RuneCountInString(w)
		switch {
		case line == 0:
			b.WriteString(prefix)
			line = utf8.RuneCountInString(prefix)
		case line+1+wl > width:
			b.WriteString("\n")
			b.WriteString(rest)
			line = utf8.RuneCountInString(rest)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += wl
	}
	return strings.ReplaceAll(b.String(), nbsp, " ")
}

// shellWord quotes s for a POSIX shell when it is not a plain word, so a command in a
// mail can be pasted as it is.
func shellWord(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@+=:,/-", r))) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
