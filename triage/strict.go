package triage

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/carepath/carepath/internal/strictjson"
)

// MaxFormVersion is the highest form version a submission may name: versions are stored as
// 32-bit integers, and a larger number can only be a mistake.
const MaxFormVersion = math.MaxInt32

// strictFHIR is a QuestionnaireResponse as the strict reader sees it: contained resources are
// checked against Patient's fields, the only kind Carepath reads.
type strictFHIR struct {
	fhirResponse
	Contained []fhirPatient `json:"contained"`
}

// The shapes of the two submission formats, for refusing wrongly cased field names. They are
// derived from the types the decoders fill, once, and never change.
var (
	nativeShape = strictjson.ShapeOf(reflect.TypeFor[Submission]())
	fhirShape   = strictjson.ShapeOf(reflect.TypeFor[strictFHIR]())
)

// checkStrict refuses a submission that could be read more than one way or could not be stored:
// a key given twice (encoding/json would keep the last: "risk_plan": true, "risk_plan": false), a
// field name that matches only when its case is ignored ("FORM"), and text holding U+0000, which
// PostgreSQL cannot store. A body that is not JSON is left to the decoder, which says where.
func checkStrict(data []byte, fhir bool) error {
	shape := nativeShape
	if fhir {
		shape = fhirShape
	}
	err := strictjson.Check(data, shape)
	var se *strictjson.Error
	if err == nil || !errors.As(err, &se) {
		return nil
	}
	var problems problemList
	for _, p := range se.Problems {
		field := p.Path
		if field == "" {
			field = "body"
		}
		if fhir {
			problems.addIssue(field, p.Reason, issueStructure, "QuestionnaireResponse."+field)
		} else {
			problems.add(field, p.Reason)
		}
	}
	return newValidationError(problems)
}

// checkFormVersion bounds the form version a submission names, before it reaches storage.
func checkFormVersion(sub *Submission) error {
	if sub.FormVersion < 0 || sub.FormVersion > MaxFormVersion {
		return problemError("form_version", fmt.Sprintf("%d is not a form version: versions run from 1 to %d (0 or none means the latest)", sub.FormVersion, MaxFormVersion))
	}
	return nil
}

// storableText reports whether s is text both databases can hold: UTF-8 without U+0000.
func storableText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
