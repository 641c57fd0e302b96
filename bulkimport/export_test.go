package bulkimport

import (
	"time"

	"github.com/carepath/carepath/triage"
)

// FastAssess exposes the import's fast decoder to the external tests, which can use generated cases.
func FastAssess(body []byte, received time.Time, formFor func(id string, version int) (*triage.Form, error)) (triage.Assessment, bool) {
	var fn fastNative
	return fn.assess(body, received, formFor)
}

// EncodeRow exposes the bulk row's JSON columns to the external tests.
func EncodeRow(d *triage.Decision) (scores, flags, explanation string, err error) {
	var e rowEncoder
	if scores, err = e.scores(d.Scores); err != nil {
		return "", "", "", err
	}
	flags = e.flags(d.Outcome.Flags)
	explanation, err = e.explanation(&d.Explanation)
	return scores, flags, explanation, err
}
