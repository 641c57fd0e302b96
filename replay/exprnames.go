package replay

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/file"
	"github.com/xrash/smetrics"

	"github.com/carepath/carepath/triage"
)

var (
	noFieldMessage     = regexp.MustCompile(`^type (.+) has no field (\S+)$`)
	unknownNameMessage = regexp.MustCompile(`^unknown name (\S+)$`)
	parentBefore       = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*$`)
)

// explain rewrites expr-lang's messages about names that do not exist, which print the Go struct
// types built for the form, into the names a person wrote, with the closest name that does exist.
func (sh *envShape) explain(f *triage.Form, src string, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err
	}
	msg := ""
	if m := noFieldMessage.FindStringSubmatch(fe.Message); m != nil {
		parent := sh.parentName(src, fe, m[1])
		names := exprNames(sh.typeOf(m[1]))
		msg = fmt.Sprintf("%s has no %s %q", parent, fieldWord(parent), m[2])
		if parent == "answers" && unreadableItem(f, m[2]) {
			msg = fmt.Sprintf("answers.%s cannot be read here: free-text and date answers may identify a person", m[2])
		} else if s := closestName(m[2], names); s != "" {
			msg += fmt.Sprintf("; did you mean %s.%s?", parent, s)
		} else if len(names) > 0 {
			msg += fmt.Sprintf("; it has %s", strings.Join(names, ", "))
		}
	} else if m := unknownNameMessage.FindStringSubmatch(fe.Message); m != nil {
		names := exprNames(sh.typ)
		msg = fmt.Sprintf("unknown name %q", m[1])
		if s := closestName(m[1], names); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		} else {
			msg += fmt.Sprintf("; the names are %s", strings.Join(names, ", "))
		}
	}
	if msg == "" {
		return err
	}
	explained := *fe
	explained.Message = msg
	return &explained
}

// typeOf finds the struct type expr-lang named by its Go spelling.
func (sh *envShape) typeOf(name string) reflect.Type {
	for _, t := range []reflect.Type{sh.answers, sh.scores, reflect.TypeFor[Subject](), reflect.TypeFor[Side]()} {
		if t.String() == name {
			return t
		}
	}
	return nil
}

// parentName is the name written before the dot of the member that does not exist, read from the
// expression up to the error's column; the type's own name when that cannot be read.
func (sh *envShape) parentName(src string, fe *file.Error, typ string) string {
	lines := strings.Split(src, "\n")
	if fe.Line >= 1 && fe.Line <= len(lines) {
		line := []rune(lines[fe.Line-1])
		if fe.Column <= len(line) {
			if m := parentBefore.FindStringSubmatch(string(line[:fe.Column])); m != nil {
				return m[1]
			}
		}
	}
	switch sh.typeOf(typ) {
	case sh.answers:
		return "answers"
	case sh.scores:
		return "scores"
	case reflect.TypeFor[Subject]():
		return "subject"
	}
	return "outcome"
}

func fieldWord(parent string) string {
	switch parent {
	case "answers":
		return "item"
	case "scores":
		return "score"
	}
	return "field"
}

// unreadableItem reports whether the form has the item but keeps it from expressions.
func unreadableItem(f *triage.Form, name string) bool {
	for i := range f.Items {
		if f.Items[i].ID == name {
			return !analystItem(&f.Items[i])
		}
	}
	return false
}

// exprNames lists the names an expression reads a struct type's fields by.
func exprNames(t reflect.Type) []string {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

// closestName returns the name most like s, or "" when none is close enough to be what was meant.
func closestName(s string, names []string) string {
	best, score := "", 0.0
	for _, n := range names {
		if d := smetrics.JaroWinkler(strings.ToLower(s), strings.ToLower(n), 0.7, 4); d > score {
			best, score = n, d
		}
	}
	if score < 0.75 {
		return ""
	}
	return best
}
