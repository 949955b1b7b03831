package load

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/cmd/imapload/internal/imapc"
)

func lines(ls ...string) []imapc.Response {
	out := make([]imapc.Response, len(ls))
	for i, l := range ls {
		out[i] = imapc.Response{Line: l}
	}
	return out
}

func TestMixDefinitions(t *testing.T) {
	names := map[string]bool{}
	for _, m := range Mixes() {
		assert.False(t, names[m.Name], "duplicate mix %s", m.Name)
		names[m.Name] = true
		assert.NotEmpty(t, m.Summary, m.Name)
		assert.NotEmpty(t, m.Commands, m.Name)
		require.NotNil(t, m.run, m.Name)
		if m.Headline != 0 {
			assert.Contains(t, m.Commands, m.Headline, "%s: headline not measured", m.Name)
		}
		assert.Same(t, m, MixByName(m.Name))
	}
	for _, want := range []string{"imaptest", "login", "append", "append-spread", "status", "idle", "keywords"} {
		assert.True(t, names[want], want)
	}
	assert.Equal(t, "imaptest", Mixes()[0].Name, "the default mix comes first")
	assert.Nil(t, MixByName("nope"))
	assert.ElementsMatch(t, []Command{Connect, Login, Select, Fetch, Append, Store, Expunge, Logout}, imaptestMix.Commands)
}

func TestVerifySelect(t *testing.T) {
	var n uint32
	require.NoError(t, verifySelect(&imapc.Result{Status: "OK", Text: "[READ-WRITE] done", Untagged: lines("* 7 EXISTS", "* FLAGS ()")}, &n))
	assert.EqualValues(t, 7, n)
	assert.ErrorIs(t, verifySelect(&imapc.Result{Text: "[READ-WRITE] done", Untagged: lines("* FLAGS ()")}, &n), imapc.ErrVerify)
	assert.ErrorIs(t, verifySelect(&imapc.Result{Text: "[READ-ONLY] done", Untagged: lines("* 1 EXISTS")}, &n), imapc.ErrVerify)
}

func TestVerifyFetchAll(t *testing.T) {
	ok := lines(`* 1 FETCH (UID 4 FLAGS (\Seen))`, `* 2 FETCH (FLAGS () UID 9)`, `* 2 FETCH (FLAGS (\Deleted))`, "* 3 EXISTS")
	assert.NoError(t, verifyFetchAll(ok, 2, 3))
	assert.ErrorIs(t, verifyFetchAll(ok, 3, 3), imapc.ErrVerify, "too few answered")
	assert.ErrorIs(t, verifyFetchAll(ok, 1, 1), imapc.ErrVerify, "sequence number beyond EXISTS")
	assert.ErrorIs(t, verifyFetchAll(lines(`* 1 FETCH (UID 4)`), 1, 1), imapc.ErrVerify, "no FLAGS")
	assert.ErrorIs(t, verifyFetchAll(lines(`* 0 FETCH (UID 4 FLAGS ())`), 0, 1), imapc.ErrVerify, "sequence number 0")
	assert.ErrorIs(t, verifyFetchAll(lines(`* 1 FETCH (FLAGS ())`), 1, 1), imapc.ErrVerify, "an unsolicited update is no answer")
}

func TestVerifyBody(t *testing.T) {
	body := []byte("Subject: x\r\n\r\nhi\r\n")
	good := []imapc.Response{{Line: "* 3 FETCH (UID 12 BODY[] {18})", Literals: [][]byte{body}}}
	assert.NoError(t, verifyBody(good, 12, body))
	assert.ErrorIs(t, verifyBody(good, 13, body), imapc.ErrVerify, "other UID")
	other := []imapc.Response{{Line: "* 3 FETCH (UID 12 BODY[] {18})", Literals: [][]byte{bytes.ToUpper(body)}}}
	assert.ErrorIs(t, verifyBody(other, 12, body), imapc.ErrVerify, "body differs")
	assert.ErrorIs(t, verifyBody(append(good, good...), 12, body), imapc.ErrVerify, "answered twice")
	assert.ErrorIs(t, verifyBody(lines("* 3 FETCH (UID 12 BODY[] NIL)"), 12, body), imapc.ErrVerify, "no literal")
}

func TestVerifyStored(t *testing.T) {
	assert.NoError(t, verifyStored(lines(`* 3 FETCH (UID 12 FLAGS (\Seen \Deleted))`), 12))
	assert.NoError(t, verifyStored(lines(`* 3 FETCH (FLAGS (\Deleted) UID 12)`), 12))
	assert.ErrorIs(t, verifyStored(lines(`* 3 FETCH (UID 12 FLAGS (\Seen))`), 12), imapc.ErrVerify, "flag missing")
	assert.ErrorIs(t, verifyStored(lines(`* 3 FETCH (UID 123 FLAGS (\Deleted))`), 12), imapc.ErrVerify, "UID 123 is not UID 12")
	assert.ErrorIs(t, verifyStored(nil, 12), imapc.ErrVerify, "no FETCH")
	assert.NoError(t, verifyStored(lines("* 3 EXPUNGE"), 12), "expunged by another session meanwhile")
}

func TestVerifyStatus(t *testing.T) {
	assert.NoError(t, verifyStatus(lines(`* STATUS "INBOX" (MESSAGES 3 UIDNEXT 9 UNSEEN 0)`)))
	assert.NoError(t, verifyStatus(lines(`* STATUS INBOX (UNSEEN 1 MESSAGES 3 UIDNEXT 9)`)))
	assert.ErrorIs(t, verifyStatus(lines(`* STATUS INBOX (MESSAGES 3 UIDNEXT 9)`)), imapc.ErrVerify, "UNSEEN missing")
	assert.ErrorIs(t, verifyStatus(lines(`* STATUS INBOX (MESSAGES x UIDNEXT 9 UNSEEN 0)`)), imapc.ErrVerify, "not a number")
	assert.ErrorIs(t, verifyStatus(nil), imapc.ErrVerify)
}

func TestBuildMessage(t *testing.T) {
	a, b := buildMessage(1, 2048), buildMessage(2, 2048)
	assert.Len(t, a, 2048)
	assert.NotEqual(t, a, b, "unique Message-IDs")
	assert.True(t, bytes.HasSuffix(a, []byte("\r\n")))
	assert.Contains(t, string(a), "\r\n\r\n", "header and body")
	assert.NotContains(t, string(bytes.ReplaceAll(a, []byte("\r\n"), nil)), "\n", "only CRLF line ends")
	small := buildMessage(3, 10)
	assert.Contains(t, string(small), "Message-ID: <3.imapload@example.invalid>", "never below the header")
}
