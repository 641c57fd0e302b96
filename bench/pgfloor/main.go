// Command pgfloor turns the statements PostgreSQL logged for one stored decision into a pgbench
// script, so that PostgreSQL alone can be measured doing exactly the writes a booked decision
// makes (the route claim and the one gathered statement between BEGIN and COMMIT), with no
// Carepath process on the machine. What it measures is the ceiling PostgreSQL puts on stored
// decisions on that machine: no server can store faster than its database commits these writes.
//
// It reads a PostgreSQL server log written with log_statement = 'all' (postgres.sh arranges it)
// on standard input and writes the script on standard output. Values that must differ between
// transactions (identifiers, the subject, the idempotency key, times, which would collide on the
// unique booked-slot index) are replaced by pgbench variables; every other value is kept as
// logged, so the rows are the size the server writes.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	log, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgfloor: unable to read the log:", err)
		os.Exit(1)
	}
	script, err := Script(string(log))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgfloor:", err)
		os.Exit(1)
	}
	fmt.Print(script)
}

// Statement is one extended-protocol execution found in the log, with its parameters.
type Statement struct {
	SQL    string
	Params map[int]*string // nil value: NULL
}

var (
	executeLine = regexp.MustCompile(`LOG:  execute [^:]*: (.*)$`)
	detailLine  = regexp.MustCompile(`DETAIL:  parameters: (.*)$`)
	uuidForm    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timeForm    = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?$`)
	paramRef    = regexp.MustCompile(`\$(\d+)`)
	// A colon before a letter inside a literal would be read by pgbench as a variable.
	pgbenchVar = regexp.MustCompile(`:[A-Za-z_]`)
)

// Statements reads every logged execution with its parameters, in log order. A statement's
// continuation lines are the tab-indented lines after it, as PostgreSQL's stderr log writes them.
func Statements(log string) ([]Statement, error) {
	lines := strings.Split(log, "\n")
	var out []Statement
	for i := 0; i < len(lines); i++ {
		m := executeLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		sql := []string{m[1]}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			i++
			sql = append(sql, lines[i])
		}
		st := Statement{SQL: strings.Join(sql, "\n"), Params: map[int]*string{}}
		if i+1 < len(lines) {
			if d := detailLine.FindStringSubmatch(lines[i+1]); d != nil {
				i++
				detail := d[1]
				for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
					i++
					detail += "\n" + lines[i][1:]
				}
				params, err := parseParams(detail)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", i+1, err)
				}
				st.Params = params
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// parseParams reads `$1 = 'a', $2 = NULL, ...` as PostgreSQL logs bind parameters.
func parseParams(s string) (map[int]*string, error) {
	params := map[int]*string{}
	for s != "" {
		if !strings.HasPrefix(s, "$") {
			return nil, fmt.Errorf("parameters: expected $ at %q", clip(s))
		}
		eq := strings.Index(s, " = ")
		if eq < 0 {
			return nil, fmt.Errorf("parameters: no value after %q", clip(s))
		}
		n, err := strconv.Atoi(s[1:eq])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("parameters: bad number in %q", clip(s))
		}
		s = s[eq+3:]
		switch {
		case strings.HasPrefix(s, "NULL"):
			params[n] = nil
			s = s[len("NULL"):]
		case strings.HasPrefix(s, "'"):
			var b strings.Builder
			j := 1
			for {
				k := strings.IndexByte(s[j:], '\'')
				if k < 0 {
					return nil, fmt.Errorf("parameters: $%d: unterminated value", n)
				}
				b.WriteString(s[j : j+k])
				j += k + 1
				if j < len(s) && s[j] == '\'' { // a doubled quote stands for one
					b.WriteByte('\'')
					j++
					continue
				}
				break
			}
			v := b.String()
			params[n] = &v
			s = s[j:]
		default:
			return nil, fmt.Errorf("parameters: $%d: expected a quoted value or NULL", n)
		}
		if strings.HasPrefix(s, ", ") {
			s = s[2:]
		} else if s != "" {
			return nil, fmt.Errorf("parameters: expected a comma at %q", clip(s))
		}
	}
	return params, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Script finds the logged route claim and gathered decision statement of one booked decision and
// writes them as a pgbench transaction.
func Script(log string) (string, error) {
	sts, err := Statements(log)
	if err != nil {
		return "", err
	}
	var claim, decision *Statement
	for i := range sts {
		st := &sts[i]
		switch {
		case claim == nil && strings.Contains(st.SQL, "INSERT INTO route_changes"):
			claim = st
		case claim != nil && strings.Contains(st.SQL, "INSERT INTO decisions") &&
			strings.Contains(st.SQL, "INSERT INTO appointments"):
			decision = st
		}
		if decision != nil {
			break
		}
	}
	if claim == nil || decision == nil {
		return "", errors.New("the log holds no booked decision (a route claim followed by a gathered INSERT INTO decisions with an appointment); was log_statement 'all' while one was stored?")
	}
	claim.SQL, decision.SQL = oneLine(claim.SQL), oneLine(decision.SQL)
	claimSQL, err := substitute(claim, func(n int, v *string) (string, error) {
		switch n {
		case 1: // each client claims its own route, as bookings of one route never meet in the database
			return "('floor-' || CAST(:client_id AS text))", nil
		case 2: // the version the claim expects: always the current one here, so every claim wins
			return "route_changes.seq", nil
		}
		return literal(v), nil
	})
	if err != nil {
		return "", fmt.Errorf("route claim: %w", err)
	}
	varied, err := decisionValues(decision)
	if err != nil {
		return "", err
	}
	ids := map[string]int{}
	decisionSQL, err := substitute(decision, func(_ int, v *string) (string, error) {
		switch {
		case v == nil:
			return "NULL", nil
		case uuidForm.MatchString(*v):
			k, ok := ids[*v]
			if !ok {
				k = len(ids)
				ids[*v] = k
			}
			return fmt.Sprintf("(CAST(:r AS text) || '-%d')", k), nil
		case *v == varied.subject:
			return "('subject-' || CAST(:r AS text))", nil
		case varied.key != nil && *v == *varied.key:
			return "('key-' || CAST(:r AS text))", nil
		case timeForm.MatchString(*v):
			return fmt.Sprintf("(CAST('%s' AS timestamptz) + CAST(:m AS integer) * interval '1 minute')", *v), nil
		}
		return literal(v), nil
	})
	if err != nil {
		return "", fmt.Errorf("decision: %w", err)
	}
	var b strings.Builder
	b.WriteString("-- One booked decision's writes as Carepath's server sends them, from PostgreSQL's log.\n")
	b.WriteString("\\set r random(1, 9000000000000000)\n\\set m random(1, 2000000000)\n")
	b.WriteString("BEGIN READ WRITE;\n")
	b.WriteString(claimSQL + ";\n")
	b.WriteString(decisionSQL + ";\n")
	b.WriteString("COMMIT;\n")
	return b.String(), nil
}

var decisionInsert = regexp.MustCompile(`INSERT INTO decisions \(([^)]*)\)\s*VALUES \(([^)]*)\)`)

// varied holds the logged values that are not recognisable by their form but must differ between
// transactions: the subject (its open case would be one row every transaction updates) and the
// idempotency key (unique).
type varied struct {
	subject string
	key     *string
}

// decisionValues reads the subject and idempotency key bound to the decision's INSERT.
func decisionValues(st *Statement) (varied, error) {
	m := decisionInsert.FindStringSubmatch(st.SQL)
	if m == nil {
		return varied{}, errors.New("decision: no INSERT INTO decisions (columns) VALUES (...) in the statement")
	}
	cols, vals := strings.Split(m[1], ","), strings.Split(m[2], ",")
	if len(cols) != len(vals) {
		return varied{}, fmt.Errorf("decision: %d columns and %d values", len(cols), len(vals))
	}
	var out varied
	found := false
	for i, c := range cols {
		ref := paramRef.FindStringSubmatch(vals[i])
		if ref == nil {
			continue
		}
		n, _ := strconv.Atoi(ref[1])
		v, ok := st.Params[n]
		if !ok {
			return varied{}, fmt.Errorf("decision: $%d is not among the logged parameters", n)
		}
		switch strings.TrimSpace(c) {
		case "subject_ref":
			if v == nil {
				return varied{}, errors.New("decision: the subject reference is NULL")
			}
			out.subject, found = *v, true
		case "idempotency_key":
			out.key = v
		}
	}
	if !found {
		return varied{}, errors.New("decision: no subject_ref column bound to a parameter")
	}
	return out, nil
}

// substitute replaces each $n of a statement by what value gives for its logged parameter.
func substitute(st *Statement, value func(n int, v *string) (string, error)) (string, error) {
	var err error
	out := paramRef.ReplaceAllStringFunc(st.SQL, func(ref string) string {
		n, _ := strconv.Atoi(ref[1:])
		v, ok := st.Params[n]
		if !ok {
			if err == nil {
				err = fmt.Errorf("$%d is not among the logged parameters", n)
			}
			return ref
		}
		s, e := value(n, v)
		if e != nil && err == nil {
			err = e
		}
		return s
	})
	return out, err
}

// literal is a logged value as an SQL string literal that pgbench passes through unchanged.
func literal(v *string) string {
	if v == nil {
		return "NULL"
	}
	s := strings.ReplaceAll(*v, "'", "''")
	if !pgbenchVar.MatchString(s) && !strings.ContainsAny(s, "\r\n") {
		return "'" + s + "'"
	}
	// Split the literal at each such colon and line break; the concatenation is typed text,
	// which every column these values reach accepts.
	s = pgbenchVar.ReplaceAllStringFunc(s, func(m string) string { return "' || ':' || '" + m[1:] })
	s = strings.NewReplacer("\r", "' || chr(13) || '", "\n", "' || chr(10) || '").Replace(s)
	return "('" + s + "')"
}

// oneLine joins a statement's lines: pgbench reads one SQL command per line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
