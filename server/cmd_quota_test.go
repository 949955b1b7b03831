package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// setQuota sets the limits of the demo account.
func setQuota(t *testing.T, ts *testServer, q store.Quota) {
	t.Helper()
	qa, ok := ts.srv.cfg.Store.(store.QuotaAdmin)
	require.True(t, ok, "the test store keeps quotas")
	require.NoError(t, qa.SetQuota(context.Background(), "demo", q))
}

// TestQuotaCapability checks that QUOTA and its two resources are
// advertised after login only, and QUOTASET never (SETQUOTA is refused).
func TestQuotaCapability(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	pre := c.ok("C1", "CAPABILITY")
	assert.NotContains(t, pre[0], "QUOTA")
	c.login()
	caps := strings.Fields(c.ok("C2", "CAPABILITY")[0])
	for _, want := range quotaCapabilities {
		assert.Contains(t, caps, want)
	}
	assert.NotContains(t, caps, "QUOTASET")
}

// quotalessStore hides the store's quota support: its users implement only
// store.User.
type quotalessStore struct{ store.Store }

type plainUser struct{ store.User }

func (s quotalessStore) Authenticate(ctx context.Context, name, pw string) (store.User, error) {
	u, err := s.Store.Authenticate(ctx, name, pw)
	if err != nil {
		return nil, err
	}
	return plainUser{u}, nil
}

// TestQuotaNotAdvertisedWithoutStoreSupport is the mutant of
// TestQuotaCapability: a store without quotas gets no QUOTA capability,
// and the commands are refused with BAD.
func TestQuotaNotAdvertisedWithoutStoreSupport(t *testing.T) {
	ts := newTestServer(t, func(cfg *Config) { cfg.Store = quotalessStore{cfg.Store} })
	c := ts.dial()
	c.login()
	assert.NotContains(t, c.ok("C1", "CAPABILITY")[0], "QUOTA")
	for i, line := range []string{`GETQUOTA ""`, "GETQUOTAROOT INBOX", `SETQUOTA "" (STORAGE 1)`} {
		tag := fmt.Sprintf("Q%d", i)
		_, done := c.cmd(tag, line)
		assert.True(t, strings.HasPrefix(done, tag+" BAD "), done)
	}
}

// TestGetQuotaRoot checks GETQUOTAROOT and GETQUOTA (RFC 9208 4.1.1,
// 4.1.2): the root "" of the account covers every mailbox, lists only the
// resources with a limit, STORAGE in KiB rounded up, and exists only while
// the account has a limit.
func TestGetQuotaRoot(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()

	// No limits: no quota root.
	assert.Equal(t, []string{"* QUOTAROOT INBOX"}, c.ok("G1", "GETQUOTAROOT INBOX"))
	_, done := c.cmd("G2", `GETQUOTA ""`)
	assert.True(t, strings.HasPrefix(done, "G2 NO [NONEXISTENT]"), done)

	appendMsg(t, ts, "INBOX", fixturePlain)
	appendMsg(t, ts, "Archive", fixturePlain)
	setQuota(t, ts, store.Quota{Storage: 1 << 20, Messages: 10})
	used := (2*len(fixturePlain) + 1023) / 1024
	quota := fmt.Sprintf(`* QUOTA "" (STORAGE %d 1024 MESSAGE 2 10)`, used)
	assert.Equal(t, []string{`* QUOTAROOT INBOX ""`, quota}, c.ok("G3", "GETQUOTAROOT INBOX"))
	assert.Equal(t, []string{`* QUOTAROOT Archive ""`, quota}, c.ok("G4", "GETQUOTAROOT Archive"),
		"every mailbox shares the root")
	assert.Equal(t, []string{`* QUOTAROOT INBOX ""`, quota}, c.ok("G4b", "GETQUOTAROOT inbox"))
	assert.Equal(t, []string{quota}, c.ok("G5", `GETQUOTA ""`))

	// Only the resources with a limit are listed.
	setQuota(t, ts, store.Quota{Messages: 10})
	assert.Equal(t, []string{`* QUOTA "" (MESSAGE 2 10)`}, c.ok("G6", `GETQUOTA ""`))
	setQuota(t, ts, store.Quota{Storage: 1025})
	assert.Equal(t, []string{fmt.Sprintf(`* QUOTA "" (STORAGE %d 2)`, used)}, c.ok("G7", `GETQUOTA ""`),
		"a byte limit is reported in KiB rounded up")

	// Errors, and the selected state.
	_, done = c.cmd("G8", "GETQUOTAROOT Missing")
	assert.True(t, strings.HasPrefix(done, "G8 NO [NONEXISTENT]"), done)
	_, done = c.cmd("G9", "GETQUOTA Other")
	assert.True(t, strings.HasPrefix(done, "G9 NO [NONEXISTENT]"), done)
	_, done = c.cmd("G10", "GETQUOTAROOT")
	assert.True(t, strings.HasPrefix(done, "G10 BAD "), done)
	_, done = c.cmd("G11", `GETQUOTA "" extra`)
	assert.True(t, strings.HasPrefix(done, "G11 BAD "), done)
	c.ok("S1", "SELECT INBOX")
	assert.Len(t, c.ok("G12", "GETQUOTAROOT INBOX"), 2)
}

// TestSetQuota checks that SETQUOTA, not offered (no QUOTASET), is refused
// with NO [NOPERM] when well formed and BAD otherwise.
func TestSetQuota(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.login()
	for _, line := range []string{`SETQUOTA "" (STORAGE 512)`, `SETQUOTA "" ()`, `SETQUOTA "" (STORAGE 512 MESSAGE 10)`} {
		_, done := c.cmd("S1", line)
		assert.True(t, strings.HasPrefix(done, "S1 NO [NOPERM] "), "%s -> %s", line, done)
	}
	for _, line := range []string{`SETQUOTA ""`, `SETQUOTA "" (STORAGE)`, `SETQUOTA "" (STORAGE x)`, `SETQUOTA "" STORAGE 5`} {
		_, done := c.cmd("S2", line)
		assert.True(t, strings.HasPrefix(done, "S2 BAD "), "%s -> %s", line, done)
	}
	setQuota(t, ts, store.Quota{})
	assert.Equal(t, []string{"* QUOTAROOT INBOX"}, c.ok("S3", "GETQUOTAROOT INBOX"), "SETQUOTA changed nothing")
}

// TestOverQuota checks that APPEND and COPY beyond a limit answer
// NO [OVERQUOTA] (RFC 9208 4.3.1) and store nothing, and that MOVE within
// the account is allowed.
func TestOverQuota(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain)
	setQuota(t, ts, store.Quota{Messages: 2})
	c := ts.dial()
	c.login()
	c.ok("A1", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(fixturePlain), fixturePlain))
	_, done := c.cmd("A2", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(fixturePlain), fixturePlain))
	assert.True(t, strings.HasPrefix(done, "A2 NO [OVERQUOTA] "), done)

	c.ok("S1", "SELECT INBOX")
	_, done = c.cmd("C1", "COPY 1 Archive")
	assert.True(t, strings.HasPrefix(done, "C1 NO [OVERQUOTA] "), done)
	assert.Contains(t, c.ok("T1", "STATUS Archive (MESSAGES)")[0], "(MESSAGES 0)")
	c.ok("M1", "MOVE 1 Archive")
	assert.Contains(t, c.ok("T2", "STATUS Archive (MESSAGES)")[0], "(MESSAGES 1)")
	assert.Equal(t, []string{`* QUOTA "" (MESSAGE 2 2)`}, c.ok("G1", `GETQUOTA ""`))
}

func TestKiB(t *testing.T) {
	for n, want := range map[int64]uint64{-1: 0, 0: 0, 1: 1, 1023: 1, 1024: 1, 1025: 2, 1 << 30: 1 << 20} {
		assert.Equal(t, want, kib(n), "kib(%d)", n)
	}
}

// TestStatusDeletedStorage checks STATUS DELETED-STORAGE (RFC 9208 4.1.4):
// the bytes of the messages flagged \Deleted, in STATUS and in LIST-STATUS;
// a store that cannot compute it gets BAD, as for an unknown item.
func TestStatusDeletedStorage(t *testing.T) {
	ts := newTestServer(t)
	appendMsg(t, ts, "INBOX", fixturePlain, `\Deleted`)
	appendMsg(t, ts, "INBOX", fixtureMultipart)
	c := ts.dial()
	c.login()
	want := fmt.Sprintf("* STATUS INBOX (DELETED 1 DELETED-STORAGE %d SIZE %d)", len(fixturePlain), len(fixturePlain)+len(fixtureMultipart))
	assert.Equal(t, []string{want}, c.ok("T1", "STATUS INBOX (DELETED DELETED-STORAGE SIZE)"))
	lines := c.ok("T2", `LIST "" INBOX RETURN (STATUS (DELETED-STORAGE))`)
	assert.Contains(t, lines, fmt.Sprintf("* STATUS INBOX (DELETED-STORAGE %d)", len(fixturePlain)))
	c.ok("S1", "SELECT INBOX")
	c.ok("E1", "EXPUNGE")
	c.ok("U1", "UNSELECT")
	assert.Equal(t, []string{"* STATUS INBOX (DELETED-STORAGE 0)"}, c.ok("T3", "STATUS INBOX (DELETED-STORAGE)"))

	q := newTestServer(t, func(cfg *Config) { cfg.Store = quotalessStore{cfg.Store} })
	qc := q.dial()
	qc.login()
	_, done := qc.cmd("T4", "STATUS INBOX (DELETED-STORAGE)")
	assert.True(t, strings.HasPrefix(done, "T4 BAD "), done)
	_, done = qc.cmd("T5", `LIST "" INBOX RETURN (STATUS (DELETED-STORAGE))`)
	assert.True(t, strings.HasPrefix(done, "T5 BAD "), done)
}
