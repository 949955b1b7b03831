package imapwire

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorClassification(t *testing.T) {
	tooBig := &LiteralTooLargeError{Size: 100, Limit: 10, Sync: true}
	tests := []struct {
		name   string
		err    error
		is     error
		fatal  bool
		reason string
	}{
		{name: "syntax", err: syntaxErr("Expected SP"), is: ErrSyntax, reason: "Expected SP"},
		{name: "wrapped syntax", err: fmt.Errorf("login: %w", syntaxErr("Expected SP")), is: ErrSyntax, reason: "Expected SP"},
		{name: "line too long", err: ErrLineTooLong, is: ErrLineTooLong, reason: "Line too long"},
		{name: "nul", err: ErrNULByte, is: ErrNULByte, reason: "Line contains NUL byte"},
		{name: "too deep", err: &Error{Kind: KindTooDeep, Reason: "x"}, is: ErrTooDeep, reason: "x"},
		{name: "literal too large", err: tooBig, is: ErrLiteralTooLarge, reason: "Literal of 100 bytes exceeds limit of 10 bytes"},
		{name: "literal size overflow", err: &LiteralTooLargeError{Size: -1, Limit: 10}, is: ErrLiteralTooLarge, reason: "Literal size out of range"},
		{name: "desync", err: &Error{Kind: KindDesync, Reason: "gone"}, is: ErrDesync, fatal: true, reason: "gone"},
		{name: "eof", err: io.EOF, is: io.EOF, fatal: true, reason: "Internal error"},
		{name: "io", err: io.ErrUnexpectedEOF, is: io.ErrUnexpectedEOF, fatal: true, reason: "Internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.err, tt.is)
			assert.Equal(t, tt.fatal, IsFatal(tt.err))
			assert.Equal(t, tt.reason, Reason(tt.err))
			assert.NotContains(t, tt.err.Error(), "\n")
		})
	}
	assert.False(t, IsFatal(nil))
	assert.False(t, errors.Is(syntaxErr("x"), ErrLineTooLong), "kinds are distinct")
	assert.False(t, errors.Is(tooBig, ErrSyntax))
	assert.Equal(t, "too-deep", KindTooDeep.String())
	assert.Equal(t, "kind(99)", ErrorKind(99).String())
}

func TestArgsAfterLineError(t *testing.T) {
	d, _ := newTestDecoder(strings.Repeat("x", 100)+"\r\n", smallLimits())
	_, err := d.ReadLine()
	require.ErrorIs(t, err, ErrLineTooLong)
	a := d.Args(0)
	assert.ErrorIs(t, a.End(), ErrLineTooLong, "an argument reader over a failed line never succeeds")
}
