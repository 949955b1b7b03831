package imapwire

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line   string
		tag    string
		name   string
		start  int
		reason string // expected error reason; "" for success
	}{
		{line: "A1 NOOP", tag: "A1", name: "NOOP", start: 7},
		{line: "a1 noop", tag: "a1", name: "NOOP", start: 7},
		{line: "8.569 IDLE", tag: "8.569", name: "IDLE", start: 10},
		{line: "A1 LOGIN {29+}", tag: "A1", name: "LOGIN", start: 8},
		{line: "A1 uid fetch 1:* FLAGS", tag: "A1", name: "UID FETCH", start: 12},
		{line: "A1 UID EXPUNGE", tag: "A1", name: "UID EXPUNGE", start: 14},
		{line: "A1 COMPRESS DEFLATE", tag: "A1", name: "COMPRESS", start: 11},
		{line: "x]y STATUS", tag: "x]y", name: "STATUS", start: 10},
		{line: "", reason: "Empty command"},
		{line: "DONE", tag: "DONE", reason: "Expected SP after tag"},
		{line: "A1", tag: "A1", reason: "Expected SP after tag"},
		{line: " A1 NOOP", reason: "Missing tag"},
		{line: "+ NOOP", reason: "Tag must not contain '+'"},
		{line: "A+1 NOOP", reason: "Tag must not contain '+'"},
		{line: "* NOOP", reason: "Invalid character in tag"},
		{line: "A(1 NOOP", reason: "Invalid character in tag"},
		{line: "A\"1 NOOP", reason: "Invalid character in tag"},
		{line: "A\x011 NOOP", reason: "Invalid character in tag"},
		{line: "T\xc3\xa9 NOOP", reason: "Invalid character in tag"},
		{line: "A1\tNOOP", reason: "Invalid character in tag"},
		{line: "A1\r", reason: "Bare CR in command"},
		{line: "A1 NO\rOP", tag: "A1", reason: "Bare CR in command"},
		{line: "A1 ", tag: "A1", reason: "Missing command name"},
		{line: "A1  NOOP", tag: "A1", reason: "Missing command name"},
		{line: "A1 NO(OP", tag: "A1", reason: "Invalid character in command name"},
		{line: "A1 {5}", tag: "A1", reason: "Invalid character in command name"},
		{line: "A1 UID", tag: "A1", reason: "Expected command after UID"},
		{line: "A1 UID ", tag: "A1", reason: "Expected command after UID"},
		{line: "A1 UID (", tag: "A1", reason: "Expected command after UID"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmd, err := ParseCommand([]byte(tt.line))
			assert.Equal(t, tt.tag, cmd.Tag)
			if tt.reason != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrSyntax)
				assert.Equal(t, tt.reason, Reason(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.name, cmd.Name)
			assert.Equal(t, tt.start, cmd.ArgsStart)
		})
	}
}

// readArgs reads a full command from input and runs fn on its arguments.
func readArgs(t *testing.T, input string, lim Limits, fn func(a *ArgReader) (any, error)) (any, *Decoder, *contRecorder, error) {
	t.Helper()
	d, rec := newTestDecoder(input, lim)
	line, err := d.ReadLine()
	require.NoError(t, err)
	cmd, err := ParseCommand(line.Text)
	require.NoError(t, err)
	a := d.Args(cmd.ArgsStart)
	v, err := fn(a)
	return v, d, rec, err
}

func TestArgReaderScalars(t *testing.T) {
	atom := func(a *ArgReader) (any, error) { _ = a.SP(); return a.Atom() }
	num := func(a *ArgReader) (any, error) { _ = a.SP(); return a.Number() }
	num64 := func(a *ArgReader) (any, error) { _ = a.SP(); return a.Number64() }
	nz := func(a *ArgReader) (any, error) { _ = a.SP(); return a.NZNumber() }
	quoted := func(a *ArgReader) (any, error) { _ = a.SP(); return a.Quoted() }
	str := func(a *ArgReader) (any, error) { _ = a.SP(); return a.String() }
	astr := func(a *ArgReader) (any, error) { _ = a.SP(); return a.AString() }
	kw := func(a *ArgReader) (any, error) { _ = a.SP(); return a.Keyword() }
	nstr := func(a *ArgReader) (any, error) {
		_ = a.SP()
		s, isNil, err := a.NString()
		if isNil {
			return nil, err
		}
		return s, err
	}
	nbin := func(a *ArgReader) (any, error) {
		_ = a.SP()
		b, isNil, err := a.NBinary()
		if isNil {
			return nil, err
		}
		return b, err
	}
	withEnd := func(fn func(a *ArgReader) (any, error)) func(a *ArgReader) (any, error) {
		return func(a *ArgReader) (any, error) {
			v, err := fn(a)
			if err != nil {
				return v, err
			}
			return v, a.End()
		}
	}
	tests := []struct {
		name   string
		input  string
		fn     func(a *ArgReader) (any, error)
		want   any
		reason string
	}{
		{name: "atom", input: "A X FLAGS\r\n", fn: atom, want: "FLAGS"},
		{name: "atom stops at paren", input: "A X FOO)\r\n", fn: atom, want: "FOO"},
		{name: "atom with bracket open", input: "A X BODY[\r\n", fn: atom, want: "BODY["},
		{name: "atom missing", input: "A X \r\n", fn: atom, reason: "Missing atom"},
		{name: "atom bad char", input: "A X \"x\r\n", fn: atom, reason: "Invalid character in atom"},
		{name: "atom no SP", input: "A X\r\n", fn: atom, reason: "Expected SP"},
		{name: "atom double SP", input: "A X  Y\r\n", fn: atom, reason: "Unexpected SP, expected atom"},
		{name: "atom 8-bit", input: "A X \xc3\xa9\r\n", fn: atom, reason: "Invalid character in atom"},
		{name: "keyword upper", input: "A X uidNext\r\n", fn: kw, want: "UIDNEXT"},
		{name: "number", input: "A X 4294967295\r\n", fn: withEnd(num), want: uint32(4294967295)},
		{name: "number zero", input: "A X 0\r\n", fn: num, want: uint32(0)},
		{name: "number leading zeros", input: "A X 007\r\n", fn: num, want: uint32(7)},
		{name: "number overflow", input: "A X 4294967296\r\n", fn: num, reason: "Number out of range"},
		{name: "number huge overflow", input: "A X 99999999999999999999999\r\n", fn: num, reason: "Number out of range"},
		{name: "number not digits", input: "A X abc\r\n", fn: num, reason: "Invalid character in number"},
		{name: "number64", input: "A X 9223372036854775807\r\n", fn: num64, want: uint64(9223372036854775807)},
		{name: "number64 overflow", input: "A X 9223372036854775808\r\n", fn: num64, reason: "Number out of range"},
		{name: "nz-number", input: "A X 12\r\n", fn: nz, want: uint32(12)},
		{name: "nz-number zero", input: "A X 0\r\n", fn: nz, reason: "Number must be non-zero"},
		{name: "quoted", input: "A X \"hello world\"\r\n", fn: withEnd(quoted), want: "hello world"},
		{name: "quoted empty", input: "A X \"\"\r\n", fn: quoted, want: ""},
		{name: "quoted escapes", input: `A X "a\"b\\c"` + "\r\n", fn: withEnd(quoted), want: `a"b\c`},
		{name: "quoted utf8", input: "A X \"caf\xc3\xa9\"\r\n", fn: quoted, want: "café"},
		{name: "quoted tab allowed", input: "A X \"a\tb\"\r\n", fn: quoted, want: "a\tb"},
		{name: "quoted bad escape", input: `A X "a\nb"` + "\r\n", fn: quoted, reason: "Invalid escape in quoted string"},
		{name: "quoted invalid utf8", input: "A X \"\xff\xfe\"\r\n", fn: quoted, reason: "Quoted string contains invalid UTF-8"},
		{name: "quoted truncated utf8", input: "A X \"\xc3\"\r\n", fn: quoted, reason: "Quoted string contains invalid UTF-8"},
		{name: "quoted bare CR", input: "A X \"a\rb\"\r\n", fn: quoted, reason: "Quoted string contains CR/LF"},
		{name: "quoted unterminated", input: "A X \"abc\r\n", fn: quoted, reason: "Unterminated quoted string"},
		{name: "quoted trailing backslash", input: "A X \"abc\\\r\n", fn: quoted, reason: "Unterminated quoted string"},
		{name: "quoted not quoted", input: "A X abc\r\n", fn: quoted, reason: "Expected quoted string"},
		{name: "string quoted", input: "A X \"v\"\r\n", fn: str, want: "v"},
		{name: "string literal", input: "A X {3}\r\nabc\r\n", fn: withEnd(str), want: "abc"},
		{name: "string literal with CRLF", input: "A X {4+}\r\na\r\nb\r\n", fn: withEnd(str), want: "a\r\nb"},
		{name: "string literal with NUL", input: "A X {3+}\r\na\x00b\r\n", fn: str, reason: "Literal contains NUL"},
		{name: "string atom refused", input: "A X abc\r\n", fn: str, reason: "Invalid character in string"},
		{name: "string literal8 refused", input: "A X ~{3}\r\n", fn: str, reason: "literal8 not allowed here"},
		{name: "literal in middle of line", input: "A X {3}abc\r\n", fn: str, reason: "Literal announcement must end the line"},
		{name: "astring atom", input: "A X user.name]\r\n", fn: withEnd(astr), want: "user.name]"},
		{name: "astring quoted", input: "A X \"a b\"\r\n", fn: astr, want: "a b"},
		{name: "astring literal", input: "A X {0+}\r\n\r\n", fn: withEnd(astr), want: ""},
		{name: "astring tilde atom", input: "A X ~user\r\n", fn: withEnd(astr), want: "~user"},
		{name: "astring literal8 refused", input: "A X ~{2+}\r\nab\r\n", fn: astr, reason: "literal8 not allowed here"},
		{name: "astring percent refused", input: "A X %\r\n", fn: astr, reason: "Invalid character in astring"},
		{name: "nstring NIL", input: "A X nil\r\n", fn: withEnd(nstr), want: nil},
		{name: "nstring string", input: "A X \"NIL\"\r\n", fn: nstr, want: "NIL"},
		{name: "nstring atom", input: "A X NILS\r\n", fn: nstr, reason: "Expected string or NIL"},
		{name: "nbinary NIL", input: "A X NIL\r\n", fn: withEnd(nbin), want: nil},
		{name: "nbinary quoted", input: "A X \"v w\"\r\n", fn: withEnd(nbin), want: []byte("v w")},
		{name: "nbinary empty", input: "A X \"\"\r\n", fn: withEnd(nbin), want: []byte{}},
		{name: "nbinary literal", input: "A X {3+}\r\na\r\n\r\n", fn: withEnd(nbin), want: []byte("a\r\n")},
		{name: "nbinary literal8 with NUL", input: "A X ~{3+}\r\na\x00b\r\n", fn: withEnd(nbin), want: []byte("a\x00b")},
		{name: "nbinary literal with NUL", input: "A X {3+}\r\na\x00b\r\n", fn: nbin, reason: "Literal contains NUL"},
		{name: "nbinary atom", input: "A X abc\r\n", fn: nbin, reason: "Expected string or NIL"},
		{name: "end with extra", input: "A X FOO BAR\r\n", fn: withEnd(atom), reason: "Unexpected extra arguments"},
		{name: "end with bare CR", input: "A X FOO\r\r\n", fn: withEnd(atom), reason: "Bare CR in command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _, _, err := readArgs(t, tt.input, DefaultLimits(), tt.fn)
			if tt.reason != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrSyntax)
				assert.Equal(t, tt.reason, Reason(err))
				assert.False(t, IsFatal(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v)
		})
	}
}

func TestArgReaderStickyError(t *testing.T) {
	_, d, _, err := readArgs(t, "A X 12 abc\r\n", DefaultLimits(), func(a *ArgReader) (any, error) {
		_, err := a.Atom() // fails: SP comes first
		require.Error(t, err)
		assert.Equal(t, err, a.SP(), "later calls return the first error")
		assert.False(t, a.AtEnd())
		_, ok := a.Peek()
		assert.False(t, ok)
		return nil, a.End()
	})
	assert.Equal(t, "Unexpected SP, expected atom", Reason(err))
	require.NoError(t, d.Discard())
}

func TestArgReaderLogin(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		user      string
		pass      string
		conts     int
		utf8Input bool
	}{
		{name: "atoms", input: "A1 LOGIN alice secret\r\n", user: "alice", pass: "secret"},
		{name: "quoted", input: "A1 LOGIN \"alice\" \"p w\"\r\n", user: "alice", pass: "p w"},
		{name: "sync literals", input: "A1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n", user: "alice", pass: "secret", conts: 2},
		// New Outlook sends a non-synchronising literal for the password
		// (quirk nonsync-literal-login).
		{name: "non-sync literal", input: "A1 LOGIN {29+}\r\nsomeone@example.invalid.local \"x\"\r\n",
			user: "someone@example.invalid.local", pass: "x"},
		{name: "mixed", input: "A1 LOGIN alice {3+}\r\n\"\\ \r\n", user: "alice", pass: "\"\\ "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d, rec, err := readArgs(t, tt.input+"A2 NOOP\r\n", DefaultLimits(), func(a *ArgReader) (any, error) {
				require.NoError(t, a.SP())
				user, err := a.AString()
				require.NoError(t, err)
				require.NoError(t, a.SP())
				pass, err := a.AString()
				require.NoError(t, err)
				assert.Equal(t, tt.user, user)
				assert.Equal(t, tt.pass, pass)
				return nil, a.End()
			})
			require.NoError(t, err)
			assert.Len(t, rec.calls, tt.conts)
			line, err := d.ReadLine()
			require.NoError(t, err)
			assert.Equal(t, "A2 NOOP", string(line.Text))
		})
	}
}

func TestLiteralLimits(t *testing.T) {
	lim := smallLimits() // MaxLiteral 16, MaxAppendLiteral 64
	tests := []struct {
		name     string
		input    string
		sync     bool
		size     int64
		limit    int64
		minus    bool
		conts    int
		nextLine string
		fatal    error
	}{
		{name: "sync too large: nothing read, no continuation", input: "A1 LOGIN {17}\r\nA2 NOOP\r\n",
			sync: true, size: 17, limit: 16, nextLine: "A2 NOOP"},
		{name: "non-sync too large: payload skipped", input: "A1 LOGIN {17+}\r\n01234567890123456 rest\r\nA2 NOOP\r\n",
			size: 17, limit: 16, nextLine: "A2 NOOP"},
		{name: "size overflow sync", input: "A1 LOGIN {99999999999999999999}\r\nA2 NOOP\r\n",
			sync: true, size: -1, limit: 16, nextLine: "A2 NOOP"},
		{name: "size overflow non-sync is desync", input: "A1 LOGIN {99999999999999999999+}\r\nxxx\r\n",
			size: -1, limit: 16, fatal: ErrDesync},
		{name: "LITERAL- caps non-sync at 4096", input: "A1 LOGIN {5000+}\r\n" + strings.Repeat("p", 5000) + "\r\nA2 NOOP\r\n",
			size: 5000, limit: LiteralMinusMax, minus: true, nextLine: "A2 NOOP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lim
			if tt.minus {
				l.MaxLiteral = 10000
				l.MaxAppendLiteral = 10000
			}
			d, rec := newTestDecoder(tt.input, l)
			d.SetLiteralMinus(tt.minus)
			line, err := d.ReadLine()
			require.NoError(t, err)
			cmd, err := ParseCommand(line.Text)
			require.NoError(t, err)
			a := d.Args(cmd.ArgsStart)
			require.NoError(t, a.SP())
			_, err = a.AString()
			require.Error(t, err)
			if tt.fatal != nil {
				assert.ErrorIs(t, err, tt.fatal)
				assert.True(t, IsFatal(err))
				return
			}
			var tooBig *LiteralTooLargeError
			require.ErrorAs(t, err, &tooBig)
			assert.ErrorIs(t, err, ErrLiteralTooLarge)
			assert.False(t, IsFatal(err))
			assert.Equal(t, tt.sync, tooBig.Sync)
			assert.Equal(t, tt.size, tooBig.Size)
			assert.Equal(t, tt.limit, tooBig.Limit)
			assert.NotEmpty(t, Reason(err))
			assert.Len(t, rec.calls, tt.conts)
			require.NoError(t, d.Discard())
			line, err = d.ReadLine()
			require.NoError(t, err)
			assert.Equal(t, tt.nextLine, string(line.Text))
		})
	}
}

func TestLiteralShortPayload(t *testing.T) {
	// Announce 10, disconnect after 3.
	for _, sync := range []bool{true, false} {
		ann := "{10}"
		if !sync {
			ann = "{10+}"
		}
		_, d, _, err := readArgs(t, "A1 LOGIN "+ann+"\r\nabc", DefaultLimits(), func(a *ArgReader) (any, error) {
			require.NoError(t, a.SP())
			return a.AString()
		})
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.True(t, IsFatal(err))
		_, err = d.ReadLine()
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	}
}

func TestContinuationErrors(t *testing.T) {
	d := NewDecoder(strings.NewReader("A1 LOGIN {3}\r\nabc\r\n"), DefaultLimits())
	line, err := d.ReadLine()
	require.NoError(t, err)
	a := d.Args(len("A1 LOGIN"))
	require.NoError(t, a.SP())
	_, err = a.AString()
	assert.ErrorIs(t, err, ErrDesync, "synchronising literal without continuation function")
	assert.True(t, line.HasLiteral)

	boom := errors.New("write failed")
	d = NewDecoder(strings.NewReader("A1 LOGIN {3}\r\nabc\r\n"), DefaultLimits())
	d.SetContinuationFunc(func(LiteralInfo) error { return boom })
	_, err = d.ReadLine()
	require.NoError(t, err)
	a = d.Args(len("A1 LOGIN"))
	require.NoError(t, a.SP())
	_, err = a.AString()
	assert.ErrorIs(t, err, boom)
	assert.True(t, IsFatal(err))
}

func TestListsAndDepth(t *testing.T) {
	var elem func(a *ArgReader, out *[]string) func() error
	elem = func(a *ArgReader, out *[]string) func() error {
		return func() error {
			if c, _ := a.Peek(); c == '(' {
				*out = append(*out, "(")
				err := a.List(elem(a, out))
				*out = append(*out, ")")
				return err
			}
			s, err := a.AString()
			*out = append(*out, s)
			return err
		}
	}
	tests := []struct {
		name   string
		input  string
		want   []string
		err    error
		reason string
	}{
		{name: "empty", input: "A X ()\r\n", want: []string{}},
		{name: "flat", input: "A X (a b \"c d\")\r\n", want: []string{"a", "b", "c d"}},
		{name: "nested", input: "A X (a (b (c)) d)\r\n", want: []string{"a", "(", "b", "(", "c", ")", ")", "d"}},
		{name: "literal inside", input: "A X (a {2+}\r\nbc d)\r\n", want: []string{"a", "bc", "d"}},
		{name: "depth at limit", input: "A X ((((x))))\r\n", want: []string{"(", "(", "(", "x", ")", ")", ")"}},
		{name: "depth over limit", input: "A X (((((x)))))\r\n", err: ErrTooDeep},
		{name: "10000 deep", input: "A X " + strings.Repeat("(", 10000) + "\r\n", err: ErrTooDeep},
		{name: "unterminated", input: "A X (a b\r\n", reason: "Unterminated list"},
		{name: "double space", input: "A X (a  b)\r\n", reason: "Unexpected SP, expected astring"},
		{name: "bad separator", input: "A X (\"a\"\"b\")\r\n", reason: "Expected SP or ')' in list"},
		{name: "no paren", input: "A X a\r\n", reason: "Expected '('"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := DefaultLimits()
			lim.MaxDepth = 4
			var got []string
			_, _, _, err := readArgs(t, tt.input, lim, func(a *ArgReader) (any, error) {
				require.NoError(t, a.SP())
				got = []string{}
				if err := a.List(elem(a, &got)); err != nil {
					return nil, err
				}
				return nil, a.End()
			})
			switch {
			case tt.err != nil:
				assert.ErrorIs(t, err, tt.err)
				assert.False(t, IsFatal(err))
			case tt.reason != "":
				assert.Equal(t, tt.reason, Reason(err))
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestDeepNestingDefaultLimit(t *testing.T) {
	input := "A X " + strings.Repeat("(", 10000) + strings.Repeat(")", 10000) + "\r\n"
	var depth, maxDepth int
	var elem func(a *ArgReader) func() error
	elem = func(a *ArgReader) func() error {
		return func() error {
			depth++
			maxDepth = max(maxDepth, depth)
			defer func() { depth-- }()
			return a.List(elem(a))
		}
	}
	_, _, _, err := readArgs(t, input, DefaultLimits(), func(a *ArgReader) (any, error) {
		require.NoError(t, a.SP())
		return nil, a.List(elem(a))
	})
	assert.ErrorIs(t, err, ErrTooDeep)
	assert.LessOrEqual(t, maxDepth, DefaultMaxDepth, "recursion stopped at the limit")
}

func TestFlags(t *testing.T) {
	tests := []struct {
		input  string
		want   []string
		reason string
	}{
		{input: "()", want: nil},
		{input: `(\Seen)`, want: []string{`\Seen`}},
		{input: `(\seen \ANSWERED \flagged \Deleted \draft \Recent)`, want: []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, `\Recent`}},
		{input: `($Forwarded \X-Ext keyword)`, want: []string{"$Forwarded", `\X-Ext`, "keyword"}},
		{input: `(\)`, reason: "Invalid character in flag"},
		{input: `(\*)`, reason: "Invalid character in flag"},
		{input: `("quoted")`, reason: "Invalid character in flag"},
		{input: `(a]b)`, reason: "Expected SP or ')' in list"},
		{input: `\Seen`, reason: "Expected '('"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			v, _, _, err := readArgs(t, "A STORE "+tt.input+"\r\n", DefaultLimits(), func(a *ArgReader) (any, error) {
				require.NoError(t, a.SP())
				f, err := a.FlagList()
				if err != nil {
					return nil, err
				}
				return f, a.End()
			})
			if tt.reason != "" {
				assert.Equal(t, tt.reason, Reason(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v)
		})
	}
}

func TestArgSeqSet(t *testing.T) {
	tests := []struct {
		input  string
		want   string
		reason string
	}{
		{input: "1:*", want: "1:*"},
		{input: "*", want: "*"},
		{input: "$", want: "$"},
		{input: "5:2,7", want: "2:5,7"},
		{input: "0", reason: "Sequence number must be non-zero"},
		{input: "4294967296", reason: "Sequence number out of range (max 4294967295)"},
		{input: "FLAGS", reason: "Invalid character in sequence set"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			v, _, _, err := readArgs(t, "A FETCH "+tt.input+" FLAGS\r\n", DefaultLimits(), func(a *ArgReader) (any, error) {
				require.NoError(t, a.SP())
				s, err := a.SeqSet()
				return s.String(), err
			})
			if tt.reason != "" {
				assert.Equal(t, tt.reason, Reason(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v)
		})
	}
}

func TestArgDates(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		dt     bool
		want   time.Time
		reason string
	}{
		{name: "date", input: "1-Feb-1994", want: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)},
		{name: "date quoted", input: `"01-feb-1994"`, want: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)},
		{name: "date bad month", input: "1-Foo-1994", reason: "Invalid date, expected d-Mon-yyyy"},
		{name: "date bad day", input: "30-Feb-1994", reason: "Invalid date: day out of range"},
		{name: "date-time", input: `"17-Jul-1996 02:44:25 -0700"`, dt: true,
			want: time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600))},
		{name: "date-time space day", input: `" 7-Jul-1996 02:44:25 +0130"`, dt: true,
			want: time.Date(1996, 7, 7, 2, 44, 25, 0, time.FixedZone("", 90*60))},
		{name: "date-time unquoted", input: `17-Jul-1996`, dt: true, reason: "Invalid character in date-time"},
		{name: "date-time bad hour", input: `"17-Jul-1996 24:44:25 -0700"`, dt: true, reason: "Invalid date-time: field out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _, _, err := readArgs(t, "A X "+tt.input+"\r\n", DefaultLimits(), func(a *ArgReader) (any, error) {
				require.NoError(t, a.SP())
				if tt.dt {
					return a.DateTime()
				}
				return a.Date()
			})
			if tt.reason != "" {
				assert.Equal(t, tt.reason, Reason(err))
				return
			}
			require.NoError(t, err)
			got := v.(time.Time)
			assert.True(t, tt.want.Equal(got), "got %v want %v", got, tt.want)
			_, wantOff := tt.want.Zone()
			_, gotOff := got.Zone()
			assert.Equal(t, wantOff, gotOff)
		})
	}
}

func TestArgMailbox(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		utf8   bool
		want   string
		reason string
	}{
		{name: "inbox any case", input: "iNbOx", want: "INBOX"},
		{name: "inbox quoted", input: `"inbox"`, want: "INBOX"},
		{name: "inbox child not normalised", input: "inbox/x", want: "inbox/x"},
		{name: "mutf7 decoded", input: "~peter/mail/&U,BTFw-/&ZeVnLIqe-", want: "~peter/mail/台北/日本語"},
		{name: "ampersand escape", input: "A&-B", want: "A&B"},
		{name: "invalid mutf7", input: "&Jjo!", reason: "Unterminated '&' in mailbox name"},
		{name: "raw utf8 without utf8 mode", input: "\"caf\xc3\xa9\"", reason: "Mailbox name contains a character that must be encoded"},
		// Thunderbird sends raw "&" after ENABLE UTF8=ACCEPT
		// (quirk utf8-raw-ampersand).
		{name: "utf8 mode raw ampersand", input: "\"R&D\"", utf8: true, want: "R&D"},
		{name: "utf8 mode no mutf7 decoding", input: "&U,BTFw-", utf8: true, want: "&U,BTFw-"},
		{name: "utf8 mode utf8", input: "\"caf\xc3\xa9\"", utf8: true, want: "café"},
		{name: "utf8 mode invalid utf8 literal", input: "{2+}\r\n\xff\xfe", utf8: true, reason: "Mailbox name is not valid UTF-8"},
		{name: "literal", input: "{5+}\r\nINBOX", want: "INBOX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newTestDecoder("A SELECT "+tt.input+"\r\n", DefaultLimits())
			d.SetUTF8(tt.utf8)
			line, err := d.ReadLine()
			require.NoError(t, err)
			cmd, err := ParseCommand(line.Text)
			require.NoError(t, err)
			a := d.Args(cmd.ArgsStart)
			require.NoError(t, a.SP())
			name, err := a.Mailbox()
			if tt.reason != "" {
				assert.Equal(t, tt.reason, Reason(err))
				return
			}
			require.NoError(t, err)
			require.NoError(t, a.End())
			assert.Equal(t, tt.want, name)
		})
	}
}

func TestPeekAcceptExpect(t *testing.T) {
	_, _, _, err := readArgs(t, "A FETCH 1 BODY[1.2]<0.100>\r\n", DefaultLimits(), func(a *ArgReader) (any, error) {
		require.NoError(t, a.SP())
		_, err := a.SeqSet()
		require.NoError(t, err)
		require.NoError(t, a.SP())
		name, err := a.AtomStop("[<")
		require.NoError(t, err)
		assert.Equal(t, "BODY", name)
		c, ok := a.Peek()
		assert.True(t, ok)
		assert.Equal(t, byte('['), c)
		assert.True(t, a.Accept('['))
		sec, err := a.AtomStop("[]")
		require.NoError(t, err)
		assert.Equal(t, "1.2", sec)
		require.NoError(t, a.Expect(']'))
		assert.False(t, a.Accept('('))
		require.NoError(t, a.Expect('<'))
		off, err := a.Number()
		require.NoError(t, err)
		require.NoError(t, a.Expect('.'))
		n, err := a.NZNumber()
		require.NoError(t, err)
		assert.Equal(t, uint32(0), off)
		assert.Equal(t, uint32(100), n)
		require.NoError(t, a.Expect('>'))
		assert.True(t, a.AtEnd())
		return nil, a.End()
	})
	require.NoError(t, err)

	_, _, _, err = readArgs(t, "A X y\r\n", DefaultLimits(), func(a *ArgReader) (any, error) {
		require.NoError(t, a.SP())
		return nil, a.Expect('(')
	})
	assert.Equal(t, "Expected '('", Reason(err))
}

func TestBareLFTracking(t *testing.T) {
	_, _, _, err := readArgs(t, "A LOGIN {1+}\r\nx y\n", DefaultLimits(), func(a *ArgReader) (any, error) {
		assert.False(t, a.BareLF())
		require.NoError(t, a.SP())
		_, err := a.AString()
		require.NoError(t, err)
		require.NoError(t, a.SP())
		_, err = a.AString()
		require.NoError(t, err)
		assert.True(t, a.BareLF(), "continuation segment ended with bare LF")
		return nil, a.End()
	})
	require.NoError(t, err)
}
