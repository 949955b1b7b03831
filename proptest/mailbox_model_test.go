package proptest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMailboxModel(t *testing.T) {
	m := &mailboxModel{}
	m.tick()
	require.NoError(t, m.add(3, []string{`\seen`, "$Work"}))
	require.NoError(t, m.add(5, nil))
	assert.Error(t, m.add(5, nil), "a UID given before")
	assert.Error(t, m.add(4, nil), "a UID below the highest")
	mark := m.step
	m.tick()
	assert.Equal(t, []uint32{5}, m.store([]uint32{3, 5, 9}, '+', []string{`\Seen`}), "3 had \\Seen, 9 does not exist")
	f, _ := m.flagsOf(3)
	assert.Equal(t, []string{"$work", `\Seen`}, f, "canonical spelling, sorted")
	m.tick()
	assert.Equal(t, []uint32{3}, m.store([]uint32{3}, '=', []string{`\Deleted`, `\Recent`}), "\\Recent is never stored")
	assert.Equal(t, []uint32{3, 5}, m.changedAfter(mark))
	assert.Equal(t, []uint32{3}, m.deleted())
	m.remove(m.deleted())
	assert.Equal(t, []uint32{5}, m.uids())
	assert.Error(t, m.add(3, nil), "an expunged UID never comes back")
}

func TestParseFetch(t *testing.T) {
	a, ok := parseFetch(wireEvent{tag: "*", line: `* 4 FETCH (MODSEQ (12) FLAGS (\Seen $x) UID 9 BODY[HEADER.FIELDS (A B)] {3})`})
	require.True(t, ok)
	assert.Equal(t, fetchAtts{seq: 4, uid: 9, hasUID: true, flags: []string{`\Seen`, "$x"}, hasFlags: true, modseq: 12, hasMod: true}, a)
	_, ok = parseFetch(wireEvent{tag: "*", line: "* 4 EXISTS"})
	assert.False(t, ok)
	nums, ok := searchNumbers(wireEvent{tag: "*", line: `* ESEARCH (TAG "a1") UID ALL 3:5,9`})
	require.True(t, ok)
	assert.Equal(t, []uint32{3, 4, 5, 9}, nums)
}
