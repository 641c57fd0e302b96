package triage

import "github.com/carepath/carepath/internal/jsonscan"

// ScanSubject reads a native subject object (ref, name, address, birth_date, age, postcode,
// location, contact), each key at most once; it declines anything else so the caller can take the
// full decoder.
func ScanSubject(s *jsonscan.Scanner, sub *Subject) bool {
	return scanSubject(s, sub, (*jsonscan.Scanner).StrTo)
}

// scanSubject reads a subject with str reading its strings: Scanner.StrTo, which declines escapes
// and non-ASCII text, where the caller keeps the document's bytes as they are (the bulk import);
// Scanner.TextTo, which decodes them, where it keeps only values (the one-pass submission reader).
func scanSubject(s *jsonscan.Scanner, sub *Subject, read func(*jsonscan.Scanner, *string) bool) bool {
	str := func(dst *string) bool { return read(s, dst) }
	var seen uint16
	return s.Object(func(key []byte) bool {
		var bit uint16
		ok := false
		switch string(key) {
		case "ref":
			bit, ok = 1, str(&sub.Ref)
		case "name":
			bit, ok = 32, str(&sub.Name)
		case "address":
			bit, ok = 64, str(&sub.Address)
		case "birth_date":
			bit, ok = 2, str(&sub.BirthDate)
		case "age":
			bit = 4
			var n int64
			if n, ok = s.Integer(); ok && n >= 0 && n <= 150 {
				age := int(n)
				sub.Age = &age
			} else {
				ok = false
			}
		case "postcode":
			bit, ok = 8, str(&sub.Postcode)
		case "contact":
			bit = 128
			var c Contact
			var got uint8
			ok = s.Object(func(k []byte) bool {
				var ok bool
				var bit uint8
				switch string(k) {
				case "preference":
					bit, ok = 1, str(&c.Preference)
				case "phone":
					bit, ok = 2, str(&c.Phone)
				case "email":
					bit, ok = 4, str(&c.Email)
				}
				if !ok || got&bit != 0 {
					return false
				}
				got |= bit
				return true
			})
			sub.Contact = &c
		case "location":
			bit = 16
			var loc Location
			var got uint8
			ok = s.Object(func(k []byte) bool {
				var ok bool
				var bit uint8
				switch string(k) {
				case "lat":
					bit = 1
					loc.Lat, ok = s.Float()
				case "lon":
					bit = 2
					loc.Lon, ok = s.Float()
				}
				if !ok || got&bit != 0 {
					return false
				}
				got |= bit
				return true
			}) && got == 3
			sub.Location = &loc
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}
