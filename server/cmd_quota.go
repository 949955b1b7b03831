package server

import (
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// QUOTA (RFC 9208). Every account has one quota root, named "" (the empty
// string), that covers all its mailboxes, with two resources: STORAGE, the
// sum of the message sizes in units of 1024 octets (rounded up), and
// MESSAGE, the number of messages. The limits are set by the operator
// (imapd user quota); SETQUOTA is not offered to users, so QUOTASET is not
// advertised. The root exists while the account has a limit: an account
// without limits has no quota root, GETQUOTAROOT lists none and GETQUOTA ""
// answers NO [NONEXISTENT], because a QUOTA response must list at least one
// resource (RFC 9208 7). STATUS DELETED-STORAGE (RFC 9208 4.1.4), which
// the STORAGE resource requires, reports the bytes of the mailbox's
// messages flagged \Deleted, in octets like STATUS SIZE.

// quotaRoot is the name of every account's quota root.
const quotaRoot = ""

// quotaCapabilities are advertised after login when the store keeps quotas
// (the user handle implements store.QuotaUser).
var quotaCapabilities = []string{"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"}

// quotaUser returns the session's user as a store.QuotaUser, or a BAD
// result when the store keeps no quotas (QUOTA is then not advertised).
func (c *conn) quotaUser(cmd *command) (store.QuotaUser, result, bool) {
	qu, ok := c.user.(store.QuotaUser)
	if !ok {
		return nil, bad(cmd.name + " is not supported: this server's store keeps no quotas"), false
	}
	return qu, result{}, true
}

// hasQuota reports whether the session's store keeps quotas.
func (c *conn) hasQuota() bool {
	_, ok := c.user.(store.QuotaUser)
	return ok
}

// cmdGetQuota implements GETQUOTA (RFC 9208 4.1.1).
func cmdGetQuota(c *conn, cmd *command) result {
	qu, res, supported := c.quotaUser(cmd)
	if !supported {
		return res
	}
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	root, err := a.AString()
	if err != nil {
		return argError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	q, use, err := qu.Quota(c.ctx)
	if err != nil {
		return c.storeError(err)
	}
	if root != quotaRoot || q.Unlimited() {
		return no("NONEXISTENT", "No such quota root")
	}
	c.write(func(e *imapwire.Encoder) { writeQuota(e, q, use) })
	return ok("GETQUOTA completed")
}

// cmdGetQuotaRoot implements GETQUOTAROOT (RFC 9208 4.1.2): the quota
// roots of an existing mailbox and their QUOTA responses.
func cmdGetQuotaRoot(c *conn, cmd *command) result {
	qu, res, supported := c.quotaUser(cmd)
	if !supported {
		return res
	}
	name, res, done := oneMailboxArg(c, cmd)
	if done {
		return res
	}
	mi, err := c.user.Mailbox(c.ctx, name)
	if err != nil {
		return c.storeError(err)
	}
	q, use, err := qu.Quota(c.ctx)
	if err != nil {
		return c.storeError(err)
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Atom("QUOTAROOT").SP().Mailbox(mi.Name)
		if !q.Unlimited() {
			e.SP().AString(quotaRoot)
		}
		e.CRLF()
		if !q.Unlimited() {
			writeQuota(e, q, use)
		}
	})
	return ok("GETQUOTAROOT completed")
}

// cmdSetQuota implements SETQUOTA (RFC 9208 4.1.3) for a server that does
// not offer it to users (no QUOTASET capability): the arguments are
// checked, then the command is refused with NO [NOPERM].
func cmdSetQuota(c *conn, cmd *command) result {
	if _, res, ok := c.quotaUser(cmd); !ok {
		return res
	}
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	if _, err := a.AString(); err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	err := a.List(func() error {
		if _, err := a.Atom(); err != nil {
			return err
		}
		if err := a.SP(); err != nil {
			return err
		}
		_, err := a.Number64()
		return err
	})
	if err != nil {
		return argError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	return no("NOPERM", "Quotas are set by the administrator (imapd user quota), not over IMAP")
}

// writeQuota writes the QUOTA response of the account's root, listing
// the resources that have a limit (RFC 9208 4.2.1).
func writeQuota(e *imapwire.Encoder, q store.Quota, use store.QuotaUsage) {
	e.Untagged().Atom("QUOTA").SP().AString(quotaRoot).SP().OpenList()
	sep := false
	if q.Storage > 0 {
		e.Atom("STORAGE").SP().Number64(kib(use.Storage)).SP().Number64(kib(q.Storage))
		sep = true
	}
	if q.Messages > 0 {
		if sep {
			e.SP()
		}
		e.Atom("MESSAGE").SP().Number64(uint64(max(use.Messages, 0))).SP().Number64(uint64(q.Messages))
	}
	e.CloseList().CRLF()
}

// kib converts bytes to units of 1024 octets, rounded up (RFC 9208 5.1).
func kib(n int64) uint64 {
	if n <= 0 {
		return 0
	}
	return (uint64(n) + 1023) / 1024
}
