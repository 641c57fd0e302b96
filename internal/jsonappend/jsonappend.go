// Package jsonappend writes small JSON values onto a byte slice exactly as encoding/json
// encodes them, so that hot paths which store JSON can skip json.Marshal's reflection and
// allocations without changing a stored byte.
package jsonappend

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// String appends s as a JSON string, escaped as json.Marshal escapes it: HTML-safe, with
// invalid UTF-8 replaced by U+FFFD and U+2028 and U+2029 escaped.
func String(dst []byte, s string) []byte { return Quote(dst, s, true) }

// Quote appends s as a JSON string as encoding/json writes it, with <, > and & escaped only when
// escapeHTML is set: json.Marshal sets it, an Encoder may not (SetEscapeHTML).
func Quote(dst []byte, s string, escapeHTML bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && (!escapeHTML || b != '<' && b != '>' && b != '&') {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				// Control characters, and <, > and & when escaping for HTML.
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Strings appends ss as a JSON array of strings; nil is null, as json.Marshal writes it.
func Strings(dst []byte, ss []string) []byte { return QuoteAll(dst, ss, true) }

// QuoteAll appends ss as a JSON array of strings, each written by Quote; nil is null.
func QuoteAll(dst []byte, ss []string, escapeHTML bool) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = Quote(dst, s, escapeHTML)
	}
	return append(dst, ']')
}

// Float appends f as json.Marshal writes a float64; it reports false, appending nothing, for
// NaN and the infinities, which json.Marshal refuses.
func Float(dst []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Exponents as json.Marshal writes them: e-7, not e-07.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// Time appends t as time.Time's MarshalJSON writes it, quoted RFC 3339 with nanoseconds in t's
// own zone; ok is false, with dst as it was, for what MarshalJSON refuses (a year outside 0 to
// 9999, a zone offset of a day or more).
func Time(dst []byte, t time.Time) ([]byte, bool) {
	text, err := t.AppendText(append(dst, '"'))
	if err != nil {
		return dst, false
	}
	return append(text, '"'), true
}
