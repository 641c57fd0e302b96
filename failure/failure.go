// Package failure gives domain errors a code, so that the HTTP server and the CLI can map any
// error to a status or exit code without knowing which package raised it.
package failure

import (
	"errors"
	"fmt"
)

// Code classifies an error by what the caller should do about it.
type Code string

// The codes a domain error may carry.
const (
	Invalid         Code = "invalid"         // the input is wrong; fix it and send again
	NotFound        Code = "not_found"       // the named thing does not exist
	Conflict        Code = "conflict"        // the request clashes with what is stored
	Unavailable     Code = "unavailable"     // something needed is not set up, such as no active rule set
	Unauthenticated Code = "unauthenticated" // nobody is signed in, or the credentials are not valid
	Forbidden       Code = "forbidden"       // the person signed in may not do this
	Internal        Code = "internal"        // a fault on our side
)

// Error is an error with a code and a message fit to show to the person who caused it.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error returns the message, or the wrapped error's when there is no message.
func (e *Error) Error() string {
	if e.Message == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an Error with a code and a formatted message; %w wraps as with fmt.Errorf.
func Errorf(code Code, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// CodeOf returns the code of the first Error in err's chain, or Internal when there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
