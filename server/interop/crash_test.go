package interop_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashWorkers is how many clients load the server between kills.
const crashWorkers = 4

// crashFlagSets are the flag sets the workers STORE (FLAGS replaces).
var crashFlagSets = [][]imap.Flag{
	{}, {imap.FlagSeen}, {imap.FlagFlagged}, {imap.FlagSeen, imap.FlagAnswered}, {"$Crash"},
}

var crashIDRE = regexp.MustCompile(`(?m)^Message-ID: <(crash-[0-9-]+)@example\.org>\r$`)

// crashMessage returns a unique message of a size between a few hundred
// bytes and ~12 KiB.
func crashMessage(id string, r *rand.Rand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: load@example.org\r\nSubject: crash %s\r\nMessage-ID: <%s@example.org>\r\n\r\n", id, id)
	for n := r.IntN(12 << 10); b.Len() < n; {
		fmt.Fprintf(&b, "%s %08x %08x\r\n", id, r.Uint32(), r.Uint32())
	}
	return b.String()
}

// flagState is what a UID's flags may be: the last acknowledged STORE, or
// the STORE in flight when the server died.
type flagState struct {
	acked   []imap.Flag
	pending []imap.Flag // nil: none in flight
}

type crashAck struct {
	id          string
	uidValidity uint32
}

// crashLog records what the clients sent and what the server acknowledged.
type crashLog struct {
	mu       sync.Mutex
	sent     map[string]string // Message-ID -> bytes, acknowledged or not
	acked    map[imap.UID]crashAck
	flags    map[imap.UID]*flagState
	failures []string
}

func newCrashLog() *crashLog {
	return &crashLog{sent: map[string]string{}, acked: map[imap.UID]crashAck{}, flags: map[imap.UID]*flagState{}}
}

func (l *crashLog) failf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
}

// crashWorker appends messages and replaces flags of its own messages until
// the connection breaks (the server was killed).
func crashWorker(addr, prefix string, seed uint64, log *crashLog) {
	r := rand.New(rand.NewPCG(seed, 7))
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		log.failf("%s: dial: %v", prefix, err)
		return
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := imapclient.New(nc, nil)
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		checkCrashErr(log, prefix+" LOGIN", err)
		return
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		checkCrashErr(log, prefix+" SELECT", err)
		return
	}
	var mine []imap.UID
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		body := crashMessage(id, r)
		log.mu.Lock()
		log.sent[id] = body
		log.mu.Unlock()
		app := c.Append("INBOX", int64(len(body)), nil)
		if _, err := app.Write([]byte(body)); err != nil {
			return
		}
		if err := app.Close(); err != nil {
			return
		}
		data, err := app.Wait()
		if err != nil {
			checkCrashErr(log, "APPEND "+id, err)
			return
		}
		if data.UID == 0 || data.UIDValidity == 0 {
			log.failf("APPEND %s: OK without APPENDUID", id)
			return
		}
		log.mu.Lock()
		if prev, dup := log.acked[data.UID]; dup {
			log.failures = append(log.failures, fmt.Sprintf("UID %d acknowledged for %s and %s", data.UID, prev.id, id))
		}
		log.acked[data.UID] = crashAck{id: id, uidValidity: data.UIDValidity}
		log.flags[data.UID] = &flagState{acked: []imap.Flag{}}
		log.mu.Unlock()
		mine = append(mine, data.UID)

		if i%2 == 1 {
			uid := mine[r.IntN(len(mine))]
			flags := crashFlagSets[r.IntN(len(crashFlagSets))]
			log.mu.Lock()
			log.flags[uid].pending = flags
			log.mu.Unlock()
			err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: flags}, nil).Close()
			if err != nil {
				checkCrashErr(log, fmt.Sprintf("STORE UID %d", uid), err)
				return
			}
			log.mu.Lock()
			log.flags[uid] = &flagState{acked: flags}
			log.mu.Unlock()
		}
	}
}

// checkCrashErr records err unless it is the broken connection a kill
// causes: a NO or BAD from a live server is a failure.
func checkCrashErr(log *crashLog, what string, err error) {
	var ie *imap.Error
	if errors.As(err, &ie) {
		log.failf("%s: %v", what, err)
	}
}

// verifyCrashState checks the mailbox against the log: every acknowledged
// message present byte for byte under its UID, nothing torn or foreign,
// UIDs unique and increasing, flags as last acknowledged (or as the STORE
// in flight).
func verifyCrashState(t *testing.T, addr string, log *crashLog) {
	t.Helper()
	c := dialClient(t, addr, nil)
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	require.NoError(t, err)
	var msgs []*imapclient.FetchMessageBuffer
	if sel.NumMessages > 0 {
		msgs, err = c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
			UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		require.NoError(t, err)
	}
	require.NoError(t, c.Logout().Wait())
	require.Len(t, msgs, int(sel.NumMessages))

	log.mu.Lock()
	defer log.mu.Unlock()
	require.Empty(t, log.failures)
	present := map[imap.UID]*imapclient.FetchMessageBuffer{}
	var last imap.UID
	for _, m := range msgs {
		require.Greater(t, m.UID, last, "UIDs must increase with sequence numbers")
		last = m.UID
		present[m.UID] = m
		require.Len(t, m.BodySection, 1)
		got := string(m.BodySection[0].Bytes)
		match := crashIDRE.FindStringSubmatch(got)
		require.NotNil(t, match, "UID %d is not a message the clients sent: %.200q", m.UID, got)
		require.Equal(t, log.sent[match[1]], got, "UID %d (%s) is torn", m.UID, match[1])
	}
	for uid, a := range log.acked {
		require.Equal(t, sel.UIDValidity, a.uidValidity, "UIDVALIDITY changed")
		m, ok := present[uid]
		require.True(t, ok, "acknowledged UID %d (%s) lost", uid, a.id)
		require.Equal(t, log.sent[a.id], string(m.BodySection[0].Bytes), "UID %d holds another message", uid)
		got := slices.DeleteFunc(slices.Clone(m.Flags), func(f imap.Flag) bool { return f == "\\Recent" })
		fs := log.flags[uid]
		if !sameFlags(got, fs.acked) && (fs.pending == nil || !sameFlags(got, fs.pending)) {
			t.Fatalf("UID %d flags %v, want the acknowledged %v or the in-flight %v", uid, got, fs.acked, fs.pending)
		}
		// The in-flight STORE is settled now; what is stored is acknowledged.
		fs.acked, fs.pending = got, nil
	}
}

func sameFlags(a, b []imap.Flag) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// requireCleanStart fails when a restarted imapd logged warnings or errors
// (e.g. about repairing its store).
func requireCleanStart(t *testing.T, p *imapdProc) {
	t.Helper()
	for _, line := range strings.Split(p.logText(), "\n") {
		require.NotRegexp(t, `level=(WARN|ERROR)`, line, "restart after SIGKILL is not clean")
	}
}

// TestCrashKillImapd loads "imapd serve" with clients that append and
// change flags, kills it with SIGKILL at random moments and restarts it on
// the same data directory: every acknowledged APPEND survives byte for
// byte, UIDs stay unique and increasing, and the server restarts without
// complaint. IMAPFSM_CRASH_LONG=1 runs more rounds.
func TestCrashKillImapd(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns imapd")
	}
	rounds := 3
	if os.Getenv("IMAPFSM_CRASH_LONG") == "1" {
		rounds = 15
	}
	bin := buildImapd(t)
	data := newImapdData(t, bin)
	log := newCrashLog()

	p := spawnImapd(t, bin, data)
	for round := range rounds {
		var wg sync.WaitGroup
		for w := range crashWorkers {
			wg.Go(func() {
				crashWorker(p.addr, fmt.Sprintf("crash-%d-%d", round, w), uint64(round*100+w), log)
			})
		}
		// Kill at a random moment once the load is running: logins (bcrypt)
		// may take a while on a busy machine.
		log.mu.Lock()
		before := len(log.acked)
		log.mu.Unlock()
		require.Eventually(t, func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			return len(log.acked) > before || len(log.failures) > 0
		}, 20*time.Second, 5*time.Millisecond, "no APPEND acknowledged in round %d", round)
		delay := time.Duration(rand.IntN(800)) * time.Millisecond
		time.Sleep(delay)
		p.kill()
		wg.Wait()

		log.mu.Lock()
		acked := len(log.acked)
		log.mu.Unlock()
		t.Logf("round %d: killed %v after the first acknowledgement; %d appends acknowledged in total", round, delay, acked)

		p = spawnImapd(t, bin, data)
		verifyCrashState(t, p.addr, log)
		requireCleanStart(t, p)
	}
	log.mu.Lock()
	assert.NotEmpty(t, log.acked, "no APPEND was ever acknowledged")
	log.mu.Unlock()

	// The store keeps working after the crashes: an append gets the next UID.
	c := dialClient(t, p.addr, nil)
	body := "Subject: after the crashes\r\n\r\nstill fine\r\n"
	app := c.Append("INBOX", int64(len(body)), nil)
	_, err := app.Write([]byte(body))
	require.NoError(t, err)
	require.NoError(t, app.Close())
	res, err := app.Wait()
	require.NoError(t, err)
	log.mu.Lock()
	for uid := range log.acked {
		assert.Greater(t, res.UID, uid, "UID reused after crashes")
	}
	log.mu.Unlock()
	require.NoError(t, c.Logout().Wait())
	p.stop()
}
