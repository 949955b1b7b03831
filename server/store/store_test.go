package store

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeMailboxName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"INBOX", "INBOX", true},
		{"inbox", "INBOX", true},
		{"InBoX/Sub", "INBOX/Sub", true},
		{"Inboxes", "Inboxes", true},
		{"a/b/c", "a/b/c", true},
		{"..", "..", true},
		{"../x", "../x", true},
		{"&AGE-", "&AGE-", true},
		{"Entwürfe", "Entwürfe", true},
		{"", "", false},
		{"/", "", false},
		{"/a", "", false},
		{"a/", "", false},
		{"a//b", "", false},
		{"a\x00b", "", false},
		{"a\rb", "", false},
		{"a\nb", "", false},
		{"a\x7fb", "", false},
		{"a\u0085b", "", false},
		{"a*", "", false},
		{"%", "", false},
		{"\xff", "", false},
		{strings.Repeat("x", DefaultMaxMailboxNameLen), strings.Repeat("x", DefaultMaxMailboxNameLen), true},
		{strings.Repeat("x", DefaultMaxMailboxNameLen+1), "", false},
		{strings.Repeat("a/", MaxMailboxDepth-1) + "a", strings.Repeat("a/", MaxMailboxDepth-1) + "a", true},
		{strings.Repeat("a/", MaxMailboxDepth) + "a", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeMailboxName(tc.in, 0)
			if !tc.ok {
				assert.ErrorIs(t, err, ErrInvalidMailboxName)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := NormalizeMailboxName("abcdef", 5)
	assert.ErrorIs(t, err, ErrInvalidMailboxName)
}

func TestHierarchyHelpers(t *testing.T) {
	assert.Equal(t, []string{"a", "a/b"}, Superiors("a/b/c"))
	assert.Nil(t, Superiors("a"))
	assert.True(t, IsInferior("a/b", "a"))
	assert.True(t, IsInferior("a/b/c", "a"))
	assert.False(t, IsInferior("ab", "a"))
	assert.False(t, IsInferior("a", "a"))
	assert.False(t, IsInferior("a/", "a"))
}

func TestValidateUserName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"alice@example.org", true}, {"", false}, {"a b", false},
		{"a\x00", false}, {"a\n", false}, {strings.Repeat("u", MaxUserNameLen+1), false}, {"\xfe", false},
	} {
		err := ValidateUserName(tc.name)
		if tc.ok {
			assert.NoError(t, err, tc.name)
		} else {
			assert.ErrorIs(t, err, ErrInvalidUserName, tc.name)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		err  bool
	}{
		{[]string{`\seen`, `\FLAGGED`}, []string{`\Seen`, `\Flagged`}, false},
		{[]string{`$Junk`, `foo`, `FOO`, `\Draft`}, []string{`\Draft`, `$Junk`, `foo`}, false},
		{[]string{`\Recent`}, nil, true},
		{[]string{`\*`}, nil, true},
		{[]string{`\Unknown`}, nil, true},
		{[]string{`a b`}, nil, true},
		{[]string{`a(`}, nil, true},
		{[]string{``}, nil, true},
		{[]string{strings.Repeat("k", MaxKeywordLen+1)}, nil, true},
		{nil, []string{}, false},
	}
	for _, tc := range tests {
		fs, err := ParseFlags(tc.in)
		if tc.err {
			assert.ErrorIs(t, err, ErrInvalidFlag, tc.in)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, fs.Strings())
	}
}

func TestFlagApply(t *testing.T) {
	base, err := ParseFlags([]string{`\Seen`, `Work`})
	require.NoError(t, err)
	tests := []struct {
		op   FlagOp
		c    []string
		want []string
	}{
		{FlagsAdd, []string{`\Flagged`, `work`, `Home`}, []string{`\Seen`, `\Flagged`, `Home`, `Work`}},
		{FlagsRemove, []string{`\Seen`, `WORK`}, []string{}},
		{FlagsSet, []string{`\Deleted`}, []string{`\Deleted`}},
		{FlagsAdd, nil, []string{`\Seen`, `Work`}},
	}
	for _, tc := range tests {
		c, err := ParseFlags(tc.c)
		require.NoError(t, err)
		got := base.Apply(tc.op, c)
		assert.Equal(t, tc.want, got.Strings())
	}
	assert.True(t, base.Equal(base.Apply(FlagsAdd, FlagSet{System: FlagSeen})))
	assert.True(t, base.Has(FlagSeen))
	assert.False(t, base.Has(FlagSeen|FlagDeleted))
}

func TestUIDSet(t *testing.T) {
	s := UIDSet{{9, 7}, {1, 2}, {3, 3}, {0, 0}, {20, math.MaxUint32}, {30, 40}}
	assert.Equal(t, UIDSet{{1, 3}, {7, 9}, {20, math.MaxUint32}}, s.Normalize())
	assert.Equal(t, "1:3,7:9,20:*", s.String())
	assert.True(t, s.Contains(8))
	assert.True(t, s.Contains(4000000000))
	assert.False(t, s.Contains(5))
	assert.Equal(t, UIDSet{{1, 3}, {5, 5}}, UIDSetOf(5, 3, 1, 2, 2))
	assert.Equal(t, []uint32{1, 2, 3, 5}, UIDSetOf(5, 3, 1, 2).Expand())
	assert.Equal(t, uint64(4), UIDSetOf(5, 3, 1, 2).Count())
	assert.Equal(t, "", UIDSet(nil).String())
	assert.Empty(t, UIDSet{{0, 0}}.Normalize())
}

func TestMailboxAttr(t *testing.T) {
	a, err := ParseSpecialUse(`\junk`)
	require.NoError(t, err)
	assert.Equal(t, AttrJunk, a)
	_, err = ParseSpecialUse(`\Noselect`)
	assert.ErrorIs(t, err, ErrInvalidSpecialUse)
	assert.Equal(t, []string{`\Noselect`, `\HasChildren`, `\Trash`}, (AttrTrash | AttrNoselect | AttrHasChildren).Strings())
}

func TestLocalNotifierCoalesces(t *testing.T) {
	n := NewLocalNotifier()
	ch, cancel := n.Subscribe("u", 1)
	other, cancelOther := n.Subscribe("v", 1)
	for i := uint64(1); i <= 100; i++ {
		n.Publish(Notification{User: "u", Mailbox: 1, HighestModSeq: i})
	}
	n.Publish(Notification{User: "u", Mailbox: 2, HighestModSeq: 500})
	select {
	case got := <-ch:
		assert.Equal(t, uint64(100), got.HighestModSeq)
	case <-time.After(time.Second):
		t.Fatal("no notification")
	}
	select {
	case got := <-ch:
		t.Fatalf("unexpected second notification %v", got)
	case got := <-other:
		t.Fatalf("other user notified: %v", got)
	default:
	}
	assert.Equal(t, 2, n.Subscribers())
	cancel()
	cancel()
	cancelOther()
	assert.Equal(t, 0, n.Subscribers())
	n.Publish(Notification{User: "u", Mailbox: 1, HighestModSeq: 101})
	assert.Empty(t, ch)
}

// TestLocalNotifierCoalescedOrigin: a coalesced notification keeps the
// Origin its changes share, and has none when they had different ones, so
// that a receiver ignoring its own changes never loses another's.
func TestLocalNotifierCoalescedOrigin(t *testing.T) {
	n := NewLocalNotifier()
	ch, cancel := n.Subscribe("u", 1)
	defer cancel()
	mine, theirs := NewOrigin(), NewOrigin()
	require.NotEqual(t, mine, theirs)
	for _, tc := range []struct {
		name string
		in   []Origin
		want Origin
	}{
		{"one", []Origin{mine}, mine},
		{"same origin", []Origin{mine, mine, mine}, mine},
		{"mine then theirs", []Origin{mine, theirs}, 0},
		{"theirs then mine", []Origin{theirs, mine}, 0},
		{"mixed, then mine again", []Origin{mine, theirs, mine}, 0},
		{"unknown then mine", []Origin{0, mine}, 0},
	} {
		for i, o := range tc.in {
			n.Publish(Notification{User: "u", Mailbox: 1, HighestModSeq: uint64(i + 1), Origin: o})
		}
		got := <-ch
		assert.Equal(t, tc.want, got.Origin, tc.name)
		assert.Equal(t, uint64(len(tc.in)), got.HighestModSeq, tc.name)
	}
}

// TestOriginContext: WithOrigin's Origin reaches OriginOf through derived
// contexts; a context without one has the zero Origin; NewOrigin never
// returns zero or the same token twice.
func TestOriginContext(t *testing.T) {
	assert.Zero(t, OriginOf(context.Background()))
	o := NewOrigin()
	ctx, cancel := context.WithCancel(WithOrigin(context.Background(), o))
	defer cancel()
	ctx = context.WithValue(ctx, struct{ k int }{1}, "v")
	assert.Equal(t, o, OriginOf(ctx))
	assert.Equal(t, "v", ctx.Value(struct{ k int }{1}))
	cancel()
	assert.Error(t, ctx.Err(), "cancellation passes through")
	seen := map[Origin]bool{}
	for range 1000 {
		o := NewOrigin()
		require.NotZero(t, o)
		require.False(t, seen[o])
		seen[o] = true
	}
}

// TestLocalNotifierAccountEvents: a subscription to AccountEvents gets
// every mailbox's notifications of its user and the account events;
// mailbox subscriptions never get account events.
func TestLocalNotifierAccountEvents(t *testing.T) {
	n := NewLocalNotifier()
	var got []Notification
	cancel := n.SubscribeFunc("u", AccountEvents, func(note Notification) { got = append(got, note) })
	mailbox, cancelMailbox := n.Subscribe("u", 1)
	defer cancelMailbox()
	m1 := Notification{User: "u", Mailbox: 1, HighestModSeq: 7}
	m2 := Notification{User: "u", Mailbox: 2, HighestModSeq: 3}
	ev := Notification{User: "u", Mailbox: AccountEvents, Event: MailboxCreated, Name: "New"}
	for _, note := range []Notification{m1, m2, ev, {User: "v", Mailbox: 1, HighestModSeq: 9}} {
		n.Publish(note)
	}
	assert.Equal(t, []Notification{m1, m2, ev}, got)
	assert.Equal(t, m1, <-mailbox)
	assert.Empty(t, mailbox, "no account event on a mailbox subscription")
	cancel()
	n.Publish(ev)
	assert.Len(t, got, 3)
}

func TestLocalNotifierConcurrent(t *testing.T) {
	n := NewLocalNotifier()
	var wg sync.WaitGroup
	const publishers, each = 4, 500
	ch, cancel := n.Subscribe("u", 7)
	defer cancel()
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				n.Publish(Notification{User: "u", Mailbox: 7, HighestModSeq: uint64(p*each + i + 1)})
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var last uint64
	for {
		select {
		case got := <-ch:
			last = max(last, got.HighestModSeq)
			continue
		case <-done:
		}
		break
	}
	select {
	case got := <-ch:
		last = max(last, got.HighestModSeq)
	default:
	}
	assert.Equal(t, uint64(publishers*each), last, "the newest value must never be lost")
}

func TestHeaderLen(t *testing.T) {
	for raw, want := range map[string]int{
		"":                            0,
		"Subject: x\r\n\r\nbody":      14,
		"Subject: x\n\nbody\n\nmore":  12,
		"\r\nbody":                    2,
		"\nbody":                      1,
		"Subject: no body\r\n":        18,
		"A: b\nC: d\r\n\r\nx\n\ny":    13,
		"A: b\n\nC: d\r\n\r\nx":       6,
		"Subject: x\r\n\r\n":          14,
		"Subject: x\r\nY: z\r\n\r\nb": 20,
	} {
		require.Equal(t, want, HeaderLen([]byte(raw)), "%q", raw)
	}
}

func TestFlagQuery(t *testing.T) {
	f := FlagSet{System: FlagSeen | FlagFlagged, Keywords: []string{"$Junk", "Work"}}
	for _, c := range []struct {
		q    FlagQuery
		want bool
	}{
		{FlagQuery{}, true},
		{FlagQuery{Set: FlagSet{System: FlagSeen}}, true},
		{FlagQuery{Set: FlagSet{System: FlagSeen | FlagDraft}}, false},
		{FlagQuery{Unset: FlagSet{System: FlagFlagged}}, false},
		{FlagQuery{Unset: FlagSet{System: FlagDeleted}}, true},
		{FlagQuery{Set: FlagSet{Keywords: []string{"$junk", "WORK"}}}, true},
		{FlagQuery{Set: FlagSet{Keywords: []string{"todo"}}}, false},
		{FlagQuery{Unset: FlagSet{Keywords: []string{"work"}}}, false},
		{FlagQuery{Unset: FlagSet{Keywords: []string{"todo"}}}, true},
	} {
		require.Equal(t, c.want, c.q.Matches(f), "%+v", c.q)
		require.NoError(t, c.q.Validate())
	}
	require.ErrorIs(t, FlagQuery{Set: FlagSet{Keywords: []string{"k\u212a"}}}.Validate(), ErrInvalidFlag)
	require.ErrorIs(t, FlagQuery{Unset: FlagSet{System: 1 << 6}}.Validate(), ErrInvalidFlag)
}
