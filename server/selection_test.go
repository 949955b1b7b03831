package server

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
	"github.com/imapfsm/imapfsm/server/store/boltstore"
)

// naiveRefs resolves a set the slow, obvious way: every message of the
// view tested against the set.
func naiveRefs(m *selectedMailbox, set imapwire.SeqSet, uid bool) []msgRef {
	var out []msgRef
	n := uint32(len(m.uids))
	for i, u := range m.uids {
		seq := uint32(i + 1)
		var in bool
		switch {
		case set.Saved:
			for _, s := range m.saved {
				in = in || s == u
			}
		case uid:
			in = set.Contains(u, m.uids[n-1])
		default:
			in = set.Contains(seq, n)
		}
		if in {
			out = append(out, msgRef{seq: seq, uid: u})
		}
	}
	return out
}

// randomView returns a view of up to 40 messages with gaps in the UIDs,
// and a saved result that names some of them and some expunged UIDs.
func randomView(r *rand.Rand) *selectedMailbox {
	m := &selectedMailbox{}
	uid := uint32(0)
	for range r.IntN(41) {
		uid += 1 + uint32(r.IntN(3))
		m.uids = append(m.uids, uid)
	}
	for u := uint32(1); u <= uid+2; u++ {
		if r.IntN(3) == 0 {
			m.saved = append(m.saved, u)
		}
	}
	return m
}

// randomSet returns a sequence set of up to four ranges over 1..limit,
// with "*" now and then, or "$".
func randomSet(r *rand.Rand, limit uint32) string {
	if r.IntN(10) == 0 {
		return "$"
	}
	num := func() string {
		if r.IntN(6) == 0 {
			return "*"
		}
		return fmt.Sprint(1 + r.Uint32N(limit))
	}
	parts := make([]string, 1+r.IntN(4))
	for i := range parts {
		parts[i] = num()
		if r.IntN(2) == 0 {
			parts[i] += ":" + num()
		}
	}
	return strings.Join(parts, ",")
}

// dropLastChunk is a broken walk: it loses a final partial chunk.
func dropLastChunk(s selection, size int) iter.Seq[[]msgRef] {
	return func(yield func([]msgRef) bool) {
		for c := range s.chunks(size) {
			if len(c) == size && !yield(c) {
				return
			}
		}
	}
}

// TestSelectionChunks checks that walking a selection in chunks of any
// size yields exactly the messages the naive resolution finds, in order,
// that no chunk is larger than asked, that storeSet names the same UIDs,
// and that a message sequence number beyond the view fails before any
// walk. The broken walk dropLastChunk must be caught.
func TestSelectionChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 4))
	caught := false
	for range 3000 {
		m := randomView(r)
		limit := uint32(len(m.uids)) + 3
		if len(m.uids) > 0 {
			limit = m.uids[len(m.uids)-1] + 3
		}
		text := randomSet(r, limit)
		set, err := imapwire.ParseSeqSet(text)
		require.NoError(t, err)
		uid := r.IntN(2) == 0
		sel, err := m.selection(set, uid)
		n := uint32(len(m.uids))
		if !uid && !set.Saved && set.Exceeds(n) && (n != 0 || !set.Dynamic()) {
			require.ErrorIs(t, err, errBadSeqNumber, "%s on %d messages", text, n)
			continue
		}
		require.NoError(t, err, text)
		want := naiveRefs(m, set, uid)
		size := 1 + r.IntN(5)
		var got, broken []msgRef
		for c := range sel.chunks(size) {
			require.LessOrEqual(t, len(c), size)
			require.NotEmpty(t, c)
			got = append(got, c...)
		}
		for c := range dropLastChunk(sel, size) {
			broken = append(broken, c...)
		}
		require.Equal(t, want, got, "set %s uid=%v view %v saved %v", text, uid, m.uids, m.saved)
		caught = caught || len(broken) != len(want)
		assert.Equal(t, want, sel.refs())
		uids := make([]uint32, len(want))
		for i, ref := range want {
			uids[i] = ref.uid
		}
		ss, count := sel.storeSet()
		assert.Equal(t, len(want), count)
		assert.Equal(t, store.UIDSetOf(uids...).String(), ss.String(), text)
	}
	assert.True(t, caught, "mutant: the walk that drops the last chunk must differ")
}

// heapProbe is a store whose Fetch, while armed, collects garbage and
// records the live heap before a read: at that point a FETCH holds
// everything it keeps across chunks.
type heapProbe struct {
	store.Store
	mu    sync.Mutex
	armed bool
	peak  uint64
	calls int
}

type heapProbeUser struct {
	store.User
	p *heapProbe
}

func (p *heapProbe) Authenticate(ctx context.Context, name, pw string) (store.User, error) {
	u, err := p.Store.Authenticate(ctx, name, pw)
	if err != nil {
		return nil, err
	}
	return heapProbeUser{u, p}, nil
}

func (u heapProbeUser) Fetch(ctx context.Context, mailbox store.MailboxID, uids store.UIDSet, opts store.FetchOptions, fn func(*store.Message) error) error {
	u.p.sample()
	return u.User.Fetch(ctx, mailbox, uids, opts, fn)
}

// liveHeap collects garbage and returns the bytes still allocated.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func (p *heapProbe) sample() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.armed {
		return
	}
	// Every fourth read: a collection each time would make the test
	// slow, and what a FETCH keeps across chunks is live at all of them.
	if p.calls++; p.calls%4 == 1 {
		p.peak = max(p.peak, liveHeap())
	}
}

// fetchGrowth runs "UID FETCH 1:* (FLAGS)" on a selected mailbox of n
// messages and returns how far the live heap rose above what it was
// before the command.
func fetchGrowth(t *testing.T, c *client, p *heapProbe, mailbox string, n int) uint64 {
	t.Helper()
	c.ok("S", "SELECT "+mailbox)
	base := liveHeap()
	p.mu.Lock()
	p.armed, p.peak, p.calls = true, 0, 0
	p.mu.Unlock()
	require.Equal(t, n, c.count("F", "UID FETCH 1:* (FLAGS)", "* "))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = false
	require.Greater(t, p.calls, 1, "the FETCH read the store in chunks")
	if p.peak < base {
		return 0
	}
	return p.peak - base
}

// TestFetchMemoryBounded checks that the memory UID FETCH 1:* (FLAGS)
// holds while it streams does not grow with the mailbox: the live heap
// above what the session held before (its view, 4 bytes per message) is
// measured at store reads, on mailboxes of 10,000 and 100,000 messages,
// and must be within 256 KiB of each other and under 512 KiB.
// The mutant resolves the whole set first, as FETCH once did (8 bytes per
// message, held for the whole command), and must exceed the bound.
func TestFetchMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-message mailbox")
	}
	// A store that does not analyse the messages it is given (FLAGS
	// does not need their structure), to build the mailboxes faster.
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir(), boltstore.Options{Options: store.Options{BcryptCost: 4}})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateUser(ctx, "demo", "demo"))
	probe := &heapProbe{Store: st}
	ts := newTestServer(t, func(cfg *Config) { cfg.Store = probe })
	u, err := probe.Store.OpenUser(ctx, "demo")
	require.NoError(t, err)
	const small, large = 10_000, 100_000
	build := func(mailbox string, n int) {
		_, err := u.CreateMailbox(ctx, mailbox, 0)
		require.NoError(t, err)
		for i := 0; i < n; i += 10_000 {
			msgs := make([]store.NewMessage, 0, 10_000)
			for j := i; j < min(i+10_000, n); j++ {
				msgs = append(msgs, millionMessage(j))
			}
			_, err := u.(store.BatchAppender).AppendBatch(ctx, mailbox, msgs)
			require.NoError(t, err)
		}
	}
	t0 := time.Now()
	build("Small", small)
	build("Large", large)
	t.Logf("built in %v", time.Since(t0))
	c := ts.dial()
	c.login()
	measure := func() (uint64, uint64) {
		gs := fetchGrowth(t, c, probe, "Small", small)
		gl := fetchGrowth(t, c, probe, "Large", large)
		t.Logf("live heap growth during FETCH: %d messages %d KiB, %d messages %d KiB", small, gs>>10, large, gl>>10)
		return gs, gl
	}
	const slack, ceiling = 256 << 10, 512 << 10
	gs, gl := measure()
	assert.Less(t, gl, gs+slack, "FETCH memory grows with the mailbox")
	assert.Less(t, gl, uint64(ceiling))

	ts.srv.fetchChunks = wholeSetChunks
	ms, ml := measure()
	assert.False(t, ml < ms+slack && ml < ceiling, "mutant: whole-set resolution must exceed the bound (%d, %d KiB)", ms>>10, ml>>10)
}

// wholeSetChunks is the mutant of FETCH's walk: it resolves the whole set
// up front and hands it out in chunks.
func wholeSetChunks(s selection, size int) iter.Seq[[]msgRef] {
	refs := s.refs()
	return func(yield func([]msgRef) bool) {
		for i := 0; i < len(refs); i += size {
			if !yield(refs[i:min(i+size, len(refs))]) {
				return
			}
		}
	}
}

// fetchLineRe matches the responses TestFetchAcrossChunks reads.
var fetchLineRe = regexp.MustCompile(`^\* (\d+) FETCH \(UID (\d+)(?: MODSEQ \(\d+\))? FLAGS \(([^)]*)\)`)

// fetched parses FETCH (UID [MODSEQ] FLAGS) responses into UID -> seq and
// UID -> flags, requiring that nothing else was sent.
func fetched(t *testing.T, lines []string) (seqs map[uint32]uint32, flags map[uint32]string) {
	t.Helper()
	seqs, flags = map[uint32]uint32{}, map[uint32]string{}
	for _, l := range lines {
		m := fetchLineRe.FindStringSubmatch(l)
		require.NotNil(t, m, l)
		seq, _ := strconv.ParseUint(m[1], 10, 32)
		uid, _ := strconv.ParseUint(m[2], 10, 32)
		require.NotContains(t, seqs, uint32(uid), "UID %d sent twice", uid)
		seqs[uint32(uid)], flags[uint32(uid)] = uint32(seq), m[3]
	}
	return seqs, flags
}

// TestFetchAcrossChunks runs FETCH forms whose sets span many of the
// chunks FETCH reads in (512 messages, 128 with body items) on a mailbox
// with gaps, and checks each response against the expected view: the
// sequence numbers of a sparse UID set, a UID set naming expunged and
// absent UIDs, \Seen set by BODY[] in every chunk and reported once per
// message, and CHANGEDSINCE with and without a body item. The mutant
// dropLastChunk must fail the first of these checks.
func TestFetchAcrossChunks(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	u, err := ts.srv.cfg.Store.OpenUser(ctx, "demo")
	require.NoError(t, err)
	const n = 1300
	msgs := make([]store.NewMessage, n)
	for i := range msgs {
		msgs[i] = millionMessage(i)
	}
	_, err = u.(store.BatchAppender).AppendBatch(ctx, store.Inbox, msgs)
	require.NoError(t, err)
	c := ts.dial()
	c.login()
	c.ok("E", "ENABLE CONDSTORE")
	c.ok("S", "SELECT INBOX")
	var deleted []string
	for uid := 7; uid <= n; uid += 7 {
		deleted = append(deleted, strconv.Itoa(uid))
	}
	c.ok("D", "UID STORE "+strings.Join(deleted, ",")+" +FLAGS.SILENT (\\Deleted)")
	c.ok("X", "EXPUNGE")
	// The view: UIDs 1..n without the multiples of 7; message i (UID
	// i+1) was appended \Seen when i%3 == 0.
	var view []uint32
	seqOf := map[uint32]uint32{}
	for uid := uint32(1); uid <= n; uid++ {
		if uid%7 != 0 {
			view = append(view, uid)
			seqOf[uid] = uint32(len(view))
		}
	}
	seen := func(uid uint32) bool { return (uid-1)%3 == 0 }

	// A sparse UID set over every chunk, with expunged UIDs and UIDs
	// beyond the last.
	seqs, _ := fetched(t, c.ok("F1", "UID FETCH 2:600,603,700:*,5000:6000 (FLAGS)"))
	want := map[uint32]uint32{}
	for _, uid := range view {
		if (uid >= 2 && uid <= 600) || uid == 603 || uid >= 700 {
			want[uid] = seqOf[uid]
		}
	}
	assert.Equal(t, want, seqs)

	// Sequence numbers: every message, and "*".
	seqs, _ = fetched(t, c.ok("F2", "FETCH 1:* (UID FLAGS)"))
	assert.Len(t, seqs, len(view))
	for uid, seq := range seqs {
		assert.Equal(t, seqOf[uid], seq)
	}
	seqs, _ = fetched(t, c.ok("F3", "FETCH * (UID FLAGS)"))
	assert.Equal(t, map[uint32]uint32{view[len(view)-1]: uint32(len(view))}, seqs)

	lines := c.ok("M", "NOOP")
	require.Empty(t, lines)
	modseq := highestModSeq(t, c.ok("S2", "SELECT INBOX"))
	require.NotZero(t, modseq)

	// BODY[] over 300 messages (three chunks of 128 and a partial one)
	// sets \Seen; each response carries FLAGS once, with \Seen.
	untagged, done := c.full("B", "FETCH 100:399 (BODY[])")
	require.True(t, strings.HasPrefix(done, "B OK"), done)
	require.Len(t, untagged, 300)
	for i, r := range untagged {
		seq := 100 + i
		uid := view[seq-1]
		assert.True(t, strings.HasPrefix(r, fmt.Sprintf("* %d FETCH (", seq)), r)
		assert.Contains(t, r, fmt.Sprintf("Message-ID: <m%d@example.org>", uid-1))
		if seen(uid) {
			assert.NotContains(t, r, "FLAGS", "already \\Seen: no flag change to report")
		} else {
			assert.Equal(t, 1, strings.Count(r, "FLAGS ("), r)
			assert.Regexp(t, `FLAGS \([^)]*\\Seen`, r)
		}
	}
	_, flags := fetched(t, c.ok("F4", "UID FETCH 1:* (FLAGS)"))
	changed := map[uint32]bool{}
	for seq, uid := range view {
		inBody := seq+1 >= 100 && seq+1 <= 399
		assert.Equal(t, seen(uid) || inBody, strings.Contains(flags[uid], `\Seen`), "UID %d", uid)
		if inBody && !seen(uid) {
			changed[uid] = true
		}
	}

	// CHANGEDSINCE returns exactly the messages BODY[] changed, in every
	// chunk; with a body item, it sets \Seen on those only.
	seqs, _ = fetched(t, c.ok("C1", fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", modseq)))
	assert.Len(t, seqs, len(changed))
	for uid := range changed {
		assert.Contains(t, seqs, uid)
	}
	c.ok("R", "UID STORE 1:* -FLAGS.SILENT (\\Seen)")
	modseq = highestModSeq(t, c.ok("S3", "SELECT INBOX"))
	c.ok("W", "UID STORE 10,600,1299 +FLAGS.SILENT (\\Flagged)")
	untagged, done = c.full("C2", fmt.Sprintf("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY[TEXT]) (CHANGEDSINCE %d)", modseq))
	require.True(t, strings.HasPrefix(done, "C2 OK"), done)
	require.Len(t, untagged, 3)
	for i, uid := range []uint32{10, 600, 1299} {
		assert.True(t, strings.HasPrefix(untagged[i], fmt.Sprintf("* %d FETCH (UID %d ", seqOf[uid], uid)), untagged[i])
		assert.Regexp(t, `FLAGS \((\\Seen \\Flagged|\\Flagged \\Seen)\)\)$`, untagged[i])
	}
	_, flags = fetched(t, c.ok("F5", "UID FETCH 1:* (FLAGS)"))
	for _, uid := range view {
		assert.Equal(t, uid == 10 || uid == 600 || uid == 1299, strings.Contains(flags[uid], `\Seen`), "UID %d", uid)
	}
	// The mutant: a walk that loses the last partial chunk fails the
	// first check above.
	ts.srv.fetchChunks = dropLastChunk
	seqs, _ = fetched(t, c.ok("F6", "UID FETCH 2:600,603,700:*,5000:6000 (FLAGS)"))
	assert.NotEqual(t, want, seqs, "mutant: a lost chunk must be noticed")
}
