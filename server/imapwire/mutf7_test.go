package imapwire

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModifiedUTF7RoundTrip(t *testing.T) {
	tests := []struct {
		utf8, mutf7 string
	}{
		// RFC 3501 section 5.1.3 example.
		{utf8: "~peter/mail/台北/日本語", mutf7: "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{utf8: "INBOX", mutf7: "INBOX"},
		{utf8: "", mutf7: ""},
		{utf8: "&", mutf7: "&-"},
		{utf8: "Tom & Jerry", mutf7: "Tom &- Jerry"},
		{utf8: "Entwürfe", mutf7: "Entw&APw-rfe"},
		{utf8: "Corbeille/été", mutf7: "Corbeille/&AOk-t&AOk-"},
		{utf8: "😀", mutf7: "&2D3eAA-"},
		{utf8: "a\tb", mutf7: "a&AAk-b"},
		{utf8: "Отправленные", mutf7: "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
	}
	for _, tt := range tests {
		t.Run(tt.mutf7, func(t *testing.T) {
			assert.Equal(t, tt.mutf7, EncodeMailbox(tt.utf8))
			got, err := DecodeMailbox(tt.mutf7)
			require.NoError(t, err)
			assert.Equal(t, tt.utf8, got)
		})
	}
}

func TestDecodeMailboxStrict(t *testing.T) {
	tests := []struct {
		in     string
		reason string
	}{
		// RFC 3501 section 5.1.3 cites these as invalid.
		{in: "&Jjo!", reason: "Unterminated '&' in mailbox name"},
		{in: "&U,BTFw-&ZeVnLIqe-", reason: "Adjacent encoded sequences in mailbox name"},
		{in: "&", reason: "Unterminated '&' in mailbox name"},
		{in: "abc&AOk", reason: "Unterminated '&' in mailbox name"},
		{in: "&AOk/-", reason: "Invalid modified base64 in mailbox name"},
		{in: "&AO=-", reason: "Invalid modified base64 in mailbox name"},
		{in: "&A-", reason: "Invalid modified base64 padding in mailbox name"},
		{in: "&AOl-", reason: "Invalid modified base64 padding in mailbox name"},
		{in: "&AOkA-", reason: "Invalid modified base64 padding in mailbox name"},
		{in: "&AGE-", reason: "Mailbox name encodes a printable ASCII character"},
		{in: "&ACY-", reason: "Mailbox name encodes a printable ASCII character"},
		{in: "&2D0-", reason: "Unpaired UTF-16 surrogate in mailbox name"},
		{in: "&3gA-", reason: "Unpaired UTF-16 surrogate in mailbox name"},
		{in: "&2D3YPQ-", reason: "Unpaired UTF-16 surrogate in mailbox name"},
		{in: "caf\xc3\xa9", reason: "Mailbox name contains a character that must be encoded"},
		{in: "a\x01b", reason: "Mailbox name contains a character that must be encoded"},
		{in: "&AOk-\x7f", reason: "Mailbox name contains a character that must be encoded"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := DecodeMailbox(tt.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrSyntax)
			assert.Equal(t, tt.reason, Reason(err))
		})
	}
}

func TestEncodeMailboxNoAllocForASCII(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _ = EncodeMailbox("Archive/2024") })
	assert.Zero(t, allocs)
}

func FuzzModifiedUTF7(f *testing.F) {
	for _, s := range []string{"~peter/mail/台北/日本語", "&", "Entwürfe", "😀x😀", "\x00\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		enc := EncodeMailbox(s)
		for i := 0; i < len(enc); i++ {
			require.True(t, enc[i] >= 0x20 && enc[i] <= 0x7e, "encoded form is printable ASCII")
		}
		dec, err := DecodeMailbox(enc)
		require.NoError(t, err)
		require.Equal(t, s, dec)
	})
}
