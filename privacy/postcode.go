package privacy

// PostcodeDistrict is the outward code (the postcode district) of a UK postcode: "LS1 4AP",
// "ls14ap" and " LS1  4AP " all give "LS1". An outward code on its own is already a district and
// is returned as it is, upper-cased. Anything else gives "", never a part of the input, so a
// mistyped or foreign postcode cannot reach an analyst through this function.
//
// Only the shape is checked (outward A9, A99, AA9, AA99, A9A or AA9A, or GIR; inward a digit and
// two letters), not the letters each position may hold, so synthetic postcodes keep their district.
// When the input is split by a space, the part before it must be the outward code: "LS1 4" is a
// postcode sector, not district LS14, so it gives "".
func PostcodeDistrict(pc string) string {
	var fields [2][8]byte
	var lens [2]int
	n, in := 0, false
	for i := 0; i < len(pc); i++ {
		c := pc[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			in = false
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		default:
			return ""
		}
		if !in {
			if n == len(fields) {
				return ""
			}
			n++
			in = true
		}
		f := n - 1
		if lens[f] == len(fields[f]) {
			return ""
		}
		fields[f][lens[f]] = c
		lens[f]++
	}
	first := fields[0][:lens[0]]
	switch n {
	case 1:
		if k := len(first); k >= 5 && isInward(first[k-3:]) && isOutward(first[:k-3]) {
			return string(first[:k-3])
		}
		if isOutward(first) {
			return string(first)
		}
	case 2:
		if isOutward(first) && isInward(fields[1][:lens[1]]) {
			return string(first)
		}
	}
	return ""
}

// isOutward reports whether s (upper case, no spaces) has the shape of an outward code.
func isOutward(s []byte) bool {
	switch len(s) {
	case 2: // A9
		return isLetter(s[0]) && isDigit(s[1])
	case 3: // A99, A9A, AA9, GIR
		return isLetter(s[0]) && isDigit(s[1]) && (isDigit(s[2]) || isLetter(s[2])) ||
			isLetter(s[0]) && isLetter(s[1]) && isDigit(s[2]) ||
			string(s) == "GIR"
	case 4: // AA99, AA9A
		return isLetter(s[0]) && isLetter(s[1]) && isDigit(s[2]) && (isDigit(s[3]) || isLetter(s[3]))
	}
	return false
}

// isInward reports whether s (upper case) has the shape of an inward code: a digit and two letters.
func isInward(s []byte) bool {
	return len(s) == 3 && isDigit(s[0]) && isLetter(s[1]) && isLetter(s[2])
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
