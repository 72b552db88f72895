package coresdk

import (
	"errors"
	"fmt"
)

// Error is the error every CoreSDK call returns (or carries in a result's
// Err field). Code is stable; Message is for people and never contains a
// token, claims or policy input.
//
// Match it with errors.As, or with errors.Is against one of the sentinels
// (ErrSidecarUnavailable, ...) or any *Error with the same Code:
//
//	var e *coresdk.Error
//	if errors.As(err, &e) && e.Code == coresdk.CodeUnknownTenant { ... }
//	if errors.Is(err, coresdk.ErrSidecarUnavailable) { ... }
type Error struct {
	// Code is the stable error code.
	Code Code
	// Message describes the failure; it never contains a secret.
	Message string
	// cause is what the error wraps (context.Canceled, context.DeadlineExceeded), if anything.
	cause error
}

// Sentinels for errors.Is: each matches any *Error with its Code.
var (
	// ErrSidecarUnavailable matches a sidecar that could not be reached.
	ErrSidecarUnavailable = &Error{Code: CodeSidecarUnavailable}
	// ErrSidecarTimeout matches a sidecar that did not answer within the deadline.
	ErrSidecarTimeout = &Error{Code: CodeSidecarTimeout}
	// ErrEngineClosed matches a call on a closed client.
	ErrEngineClosed = &Error{Code: CodeEngineClosed}
	// ErrConfig matches an invalid configuration.
	ErrConfig = &Error{Code: CodeConfig}
	// ErrAborted matches a call cancelled by its context.
	ErrAborted = &Error{Code: CodeAborted}
	// ErrUnknownTenant matches a tenant the sidecar does not know.
	ErrUnknownTenant = &Error{Code: CodeUnknownTenant}
)

// Error returns "[CODE] message".
func (e *Error) Error() string {
	if e.Message == "" {
		return "[" + string(e.Code) + "]"
	}
	return "[" + string(e.Code) + "] " + e.Message
}

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// Unwrap returns the context error behind ERR_ABORTED or ERR_SIDECAR_TIMEOUT, if any.
func (e *Error) Unwrap() error { return e.cause }

// RFC6750Error is "invalid_token" for a rejected token (the RFC 6750 error
// value a 401 challenge carries), else "".
func (e *Error) RFC6750Error() string {
	return errorSpecs[e.Code].rfc6750
}

// IsTransportFailure reports whether the sidecar could not be reached: the
// only situation a fail mode applies to.
func (e *Error) IsTransportFailure() bool {
	return errorSpecs[e.Code].transport
}

// CodeOf returns the Code of err when it is (or wraps) an *Error, else "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

var knownCodes = func() map[Code]bool {
	m := make(map[Code]bool, len(ErrorCodes))
	for _, c := range ErrorCodes {
		m[c] = true
	}
	return m
}()

// toCode maps a sidecar ErrorInfo reason to a Code (unknown reasons are ERR_INTERNAL).
func toCode(reason string) Code {
	if knownCodes[Code(reason)] {
		return Code(reason)
	}
	return CodeInternal
}
