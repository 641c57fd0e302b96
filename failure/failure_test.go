package failure_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/carepath/carepath/failure"
)

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failure.Code
	}{
		{"plain error", io.EOF, failure.Internal},
		{"coded", failure.Errorf(failure.NotFound, "form %s is not published", "x"), failure.NotFound},
		{"wrapped coded", fmt.Errorf("cli: %w", failure.Errorf(failure.Conflict, "taken")), failure.Conflict},
		{"coded wrapping another", failure.Errorf(failure.Unavailable, "no rules: %w", io.EOF), failure.Unavailable},
	}
	for _, tt := range tests {
		if got := failure.CodeOf(tt.err); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestErrorfKeepsMessageAndCause(t *testing.T) {
	err := failure.Errorf(failure.Unavailable, "rule set %s: %w", "mh-triage", io.EOF)
	if err.Error() != "rule set mh-triage: EOF" {
		t.Errorf("message %q", err)
	}
	if !errors.Is(err, io.EOF) {
		t.Error("the wrapped cause is lost")
	}
}
