package bulkimport

import (
	"encoding/json"
	"fmt"

	"github.com/carepath/carepath/internal/jsonappend"
	"github.com/carepath/carepath/rules"
	"github.com/carepath/carepath/triage"
)

// rowEncoder writes a decision's JSON columns into one reusable buffer, byte for byte as
// json.Marshal writes them, through the writers triage's SaveDecision uses, because encoding/json
// spends more on these small documents than a bulk import spends deciding.
type rowEncoder struct {
	buf []byte
}

// scores writes d.Scores as json.Marshal does: keys sorted, each value its Any().
func (e *rowEncoder) scores(scores map[string]rules.Value) (string, error) {
	b, ok := triage.AppendScoresJSON(e.buf[:0], scores, true)
	e.buf = b
	if !ok {
		return marshalled(scores)
	}
	return string(b), nil
}

// flags writes the flags column: "[]" when there are none, never "null".
func (e *rowEncoder) flags(flags []string) string {
	if len(flags) == 0 {
		return "[]"
	}
	e.buf = jsonappend.Strings(e.buf[:0], flags)
	return string(e.buf)
}

// explanation writes x as json.Marshal writes a rules.Explanation.
func (e *rowEncoder) explanation(x *rules.Explanation) (string, error) {
	b, ok := triage.AppendExplanationJSON(e.buf[:0], x, true)
	e.buf = b
	if !ok {
		return marshalled(x)
	}
	return string(b), nil
}

// marshalled is v through json.Marshal, for what the hand writers leave to it (a non-finite
// number, which it refuses with the reason).
func marshalled(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("bulkimport: unable to encode a decision column: %w", err)
	}
	return string(b), nil
}
