package server

import (
	"errors"
	"slices"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// separator is the hierarchy delimiter as a string, for LIST responses and
// reference joining.
const separator = string(store.Separator)

// listOptions are the parsed options of an extended LIST (RFC 5258 3).
type listOptions struct {
	// extended is set when the command used any RFC 5258 syntax; names
	// that do not exist are then flagged \NonExistent rather than
	// \Noselect.
	extended bool

	// Selection options (RFC 5258 3, RFC 6154 5.1).
	selSubscribed bool
	selSpecialUse bool
	recursive     bool

	// Return options (RFC 5258 3, RFC 5819 2). CHILDREN and SPECIAL-USE
	// are accepted but always in effect: the server advertises CHILDREN
	// (RFC 3348) and returns special-use attributes in every LIST
	// (RFC 6154 2).
	retSubscribed bool
	status        []string
}

// cmdList implements LIST (RFC 9051 6.3.9) with the extensions of
// LIST-EXTENDED (RFC 5258), SPECIAL-USE (RFC 6154) and LIST-STATUS
// (RFC 5819):
//
//	list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
//	       [SP list-return-opts]
//
// `LIST "" ""` returns the hierarchy delimiter and the root name.
func cmdList(c *conn, cmd *command) result {
	a := cmd.args
	var opts listOptions
	if err := a.SP(); err != nil {
		return argError(err)
	}
	if b, _ := a.Peek(); b == '(' {
		opts.extended = true
		if err := parseSelectOptions(a, &opts); err != nil {
			return argError(err)
		}
		if err := a.SP(); err != nil {
			return argError(err)
		}
	}
	// The reference is a mailbox name, but not a name of the request:
	// "Archive/" is a legal reference, so the trailing-separator quirk
	// does not apply to it.
	ref, err := listReference(a)
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	var patterns []string
	if b, _ := a.Peek(); b == '(' {
		opts.extended = true
		err = a.List(func() error {
			p, err := c.listPattern(a)
			patterns = append(patterns, p)
			return err
		})
	} else {
		var p string
		p, err = c.listPattern(a)
		patterns = append(patterns, p)
	}
	if err != nil {
		return argError(err)
	}
	if len(patterns) == 0 {
		return bad("LIST needs at least one pattern") // RFC 5258 6, patterns
	}
	if !a.AtEnd() {
		opts.extended = true
		if err := a.SP(); err != nil {
			return argError(err)
		}
		if err := parseReturnOptions(a, &opts); err != nil {
			return argError(err)
		}
		if err := c.checkStatusItems(opts.status); err != nil {
			return argError(err)
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	// RFC 5258 3: RECURSIVEMATCH only makes sense together with a
	// selection option that restricts the result.
	if opts.recursive && !opts.selSubscribed && !opts.selSpecialUse {
		return bad("RECURSIVEMATCH needs another selection option")
	}
	if opts.selSubscribed {
		opts.retSubscribed = true // implied return option (RFC 5258 3)
	}

	var full []string
	root := false
	for _, p := range patterns {
		if p == "" {
			root = true // RFC 9051 6.3.9: delimiter and root name
			continue
		}
		full = append(full, joinReference(ref, p))
	}
	if root {
		c.write(func(e *imapwire.Encoder) {
			e.Untagged().Raw(`LIST (\Noselect) "/" `).Mailbox(rootName(ref)).CRLF()
		})
	}
	if len(full) == 0 {
		return ok("LIST completed")
	}
	entries, err := c.listEntries(full, opts.selSubscribed, func(e *listEntry) bool {
		if opts.selSubscribed && !e.subscribed {
			return false
		}
		if opts.selSpecialUse && (e.info == nil || e.info.Attr&store.SpecialUseMask == 0) {
			return false
		}
		return e.info != nil || opts.selSubscribed
	}, opts.recursive || (!opts.selSubscribed && !opts.selSpecialUse))
	if err != nil {
		return c.storeError(err)
	}
	for _, le := range entries {
		attrs := listAttributes(le, opts.extended, true)
		if opts.retSubscribed && le.subscribed {
			attrs = append(attrs, `\Subscribed`)
		}
		var childInfo []string
		if opts.recursive && le.descendant {
			if opts.selSubscribed {
				childInfo = append(childInfo, "SUBSCRIBED")
			}
			if opts.selSpecialUse {
				childInfo = append(childInfo, "SPECIAL-USE")
			}
		}
		var st *store.MailboxStatus
		if len(opts.status) > 0 && le.info != nil && le.info.Attr&store.AttrNoselect == 0 {
			// RFC 5819 2: STATUS for selectable mailboxes only; a
			// mailbox removed meanwhile simply gets none.
			if s, err := c.user.Status(c.ctx, le.name); err == nil && c.deletedStorage(le.name, &s, opts.status) == nil {
				if c.rev2() {
					s.Recent = 0 // RFC 9051 has no \Recent
				}
				st = &s
			}
		}
		c.write(func(e *imapwire.Encoder) {
			e.Untagged().Raw("LIST ").FlagList(attrs).Raw(` "/" `).Mailbox(le.name)
			if len(childInfo) > 0 {
				e.Raw(` ("CHILDINFO" (`)
				for i, ci := range childInfo {
					if i > 0 {
						e.SP()
					}
					e.Quoted(ci)
				}
				e.Raw("))")
			}
			e.CRLF()
			if st != nil {
				writeStatus(e, le.name, *st, opts.status)
			}
		})
	}
	return ok("LIST completed")
}

// cmdLsub implements LSUB (RFC 3501 6.3.9): subscribed names matching the
// pattern. With "%", a superior of a subscribed name that is not itself
// subscribed is returned with \Noselect. Special-use attributes are
// included when the lsub-special-use quirk is tolerated (Outlook 2013
// expects them; RFC 6154 does not require them).
func cmdLsub(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	ref, err := listReference(a)
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	pattern, err := c.listPattern(a)
	if err != nil {
		return argError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if pattern == "" {
		// RFC 3501 6.3.9 leaves LSUB "" "" open; answer like LIST.
		c.write(func(e *imapwire.Encoder) {
			e.Untagged().Raw(`LSUB (\Noselect) "/" `).Mailbox(rootName(ref)).CRLF()
		})
		return ok("LSUB completed")
	}
	specialUse := c.modes.Tolerates(fsm.QuirkLsubSpecialUse)
	entries, err := c.listEntries([]string{joinReference(ref, pattern)}, true,
		func(e *listEntry) bool { return e.subscribed }, true)
	if err != nil {
		return c.storeError(err)
	}
	for _, le := range entries {
		var attrs []string
		if !le.subscribed || le.info == nil || le.info.Attr&store.AttrNoselect != 0 {
			attrs = append(attrs, `\Noselect`)
		}
		if specialUse && le.info != nil {
			attrs = append(attrs, (le.info.Attr & store.SpecialUseMask).Strings()...)
		}
		c.write(func(e *imapwire.Encoder) {
			e.Untagged().Raw("LSUB ").FlagList(attrs).Raw(` "/" `).Mailbox(le.name).CRLF()
		})
	}
	return ok("LSUB completed")
}

// cmdStatus implements STATUS (RFC 9051 6.3.11):
//
//	status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
//
// STATUS on the mailbox this session has selected is the status-selected
// quirk (neomutt, imapfilter): the RFC says clients SHOULD NOT, but the
// answer is harmless, so the spec tolerates it in both modes: it is given
// with fresh counts and flagged OK [CLIENTBUG] (RFC 5530 3). Where a mode
// does not tolerate it, the answer is NO [CLIENTBUG].
func cmdStatus(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	name, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	items, err := statusItems(a)
	if err != nil {
		return argError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if err := c.checkStatusItems(items); err != nil {
		return argError(err)
	}
	if slices.Contains(items, "HIGHESTMODSEQ") {
		c.enableCondstore() // a CONDSTORE-enabling command (RFC 7162 3.1)
	}
	st, err := c.user.Status(c.ctx, name)
	if err != nil {
		return c.storeError(err)
	}
	if err := c.deletedStorage(name, &st, items); err != nil {
		return c.storeError(err)
	}
	if c.rev2() {
		st.Recent = 0 // RFC 9051 has no \Recent
	}
	onSelected := c.mailbox != nil && c.mailbox.id == st.ID
	if onSelected && !c.noteQuirk(fsm.QuirkStatusSelected, "input", cmd.input.String(), "tag", cmd.tag) {
		// A spec that stops tolerating the quirk refuses it, flagged.
		return no("CLIENTBUG", "STATUS on the selected mailbox is refused; use NOOP to check for new mail")
	}
	c.write(func(e *imapwire.Encoder) { writeStatus(e, st.Name, st, items) })
	if onSelected {
		return okCode("CLIENTBUG", "STATUS on the selected mailbox completed")
	}
	return ok("STATUS completed")
}

// statusItems reads a STATUS attribute list (RFC 9051 6.3.11, RFC 8438
// SIZE, RFC 9208 DELETED-STORAGE: see checkStatusItems). RECENT (RFC 3501 6.3.10) counts the messages no session has
// claimed as \Recent yet; it is 0 for IMAP4rev2 sessions (RFC 9051
// dropped \Recent). HIGHESTMODSEQ (RFC 7162 3.1.6) is accepted while
// CONDSTORE is offered; otherwise it is a syntax error like any unknown
// item.
func statusItems(a *imapwire.ArgReader) ([]string, error) {
	var items []string
	err := a.List(func() error {
		kw, err := a.Keyword()
		if err != nil {
			return err
		}
		switch kw {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "DELETED-STORAGE", "MAILBOXID":
			if !slices.Contains(items, kw) {
				items = append(items, kw)
			}
			return nil
		case "HIGHESTMODSEQ":
			if !slices.Contains(items, kw) {
				items = append(items, kw)
			}
			return nil
		}
		return errSyntax("Unknown STATUS item " + kw)
	})
	if err == nil && len(items) == 0 {
		err = errSyntax("STATUS needs at least one item")
	}
	return items, err
}

// writeStatus writes "* STATUS name (item value ...)" with the items in
// the order requested (RFC 9051 7.3.2).
func writeStatus(e *imapwire.Encoder, name string, st store.MailboxStatus, items []string) {
	e.Untagged().Raw("STATUS ").Mailbox(name).Raw(" (")
	for i, it := range items {
		if i > 0 {
			e.SP()
		}
		e.Atom(it).SP()
		switch it {
		case "MESSAGES":
			e.Number(st.Messages)
		case "UIDNEXT":
			e.Number(st.UIDNext)
		case "UIDVALIDITY":
			e.Number(st.UIDValidity)
		case "UNSEEN":
			e.Number(st.Unseen)
		case "DELETED":
			e.Number(st.Deleted)
		case "SIZE":
			e.Number64(uint64(max(st.Size, 0)))
		case "RECENT":
			e.Number(st.Recent)
		case "HIGHESTMODSEQ":
			e.Number64(st.HighestModSeq)
		case "DELETED-STORAGE":
			e.Number64(uint64(max(st.DeletedSize, 0)))
		case "MAILBOXID":
			e.Raw("(" + mailboxObjectID(st.ID) + ")") // RFC 8474 4.3
		}
	}
	e.Raw(")").CRLF()
}

// parseSelectOptions reads list-select-opts (RFC 5258 6, RFC 6154 6):
//
//	"(" [list-select-option *(SP list-select-option)] ")"
//
// Unknown options are rejected (RFC 5258 3: the server MUST return BAD).
// REMOTE is accepted and has no effect: there are no remote mailboxes.
func parseSelectOptions(a *imapwire.ArgReader, o *listOptions) error {
	return a.List(func() error {
		kw, err := a.Keyword()
		if err != nil {
			return err
		}
		switch kw {
		case "SUBSCRIBED":
			o.selSubscribed = true
		case "SPECIAL-USE":
			o.selSpecialUse = true
		case "RECURSIVEMATCH":
			o.recursive = true
		case "REMOTE":
		default:
			return errSyntax("Unknown LIST selection option " + kw)
		}
		return nil
	})
}

// parseReturnOptions reads list-return-opts (RFC 5258 6, RFC 5819 4):
//
//	"RETURN" SP "(" [return-option *(SP return-option)] ")"
//	return-option =/ "STATUS" SP "(" status-att *(SP status-att) ")"
func parseReturnOptions(a *imapwire.ArgReader, o *listOptions) error {
	kw, err := a.Keyword()
	if err != nil {
		return err
	}
	if kw != "RETURN" {
		return errSyntax("Expected RETURN")
	}
	if err := a.SP(); err != nil {
		return err
	}
	return a.List(func() error {
		kw, err := a.Keyword()
		if err != nil {
			return err
		}
		switch kw {
		case "SUBSCRIBED":
			o.retSubscribed = true
		case "CHILDREN", "SPECIAL-USE":
		case "STATUS":
			if err := a.SP(); err != nil {
				return err
			}
			items, err := statusItems(a)
			if err != nil {
				return err
			}
			o.status = items
		default:
			return errSyntax("Unknown LIST return option " + kw)
		}
		return nil
	})
}

// isListChar reports whether b is a list-char (RFC 9051 9): an ATOM-CHAR,
// a list-wildcard or a resp-special; that is a CHAR other than CTL, SP,
// "(", ")", "{", DQUOTE and "\".
func isListChar(b byte) bool {
	if b <= ' ' || b >= 0x7f {
		return false
	}
	return !strings.ContainsRune(`(){"\`, rune(b))
}

// listPattern reads a list-mailbox (RFC 9051 9: 1*list-char / string) and
// decodes it like a mailbox name: modified UTF-7 unless UTF8=ACCEPT is
// enabled (RFC 6855 3), in which case it is taken as UTF-8.
func (c *conn) listPattern(a *imapwire.ArgReader) (string, error) {
	var raw string
	if b, ok := a.Peek(); ok && (b == '"' || b == '{') {
		s, err := a.String()
		if err != nil {
			return "", err
		}
		raw = s
	} else {
		var sb strings.Builder
		for {
			b, ok := a.Peek()
			if !ok || !isListChar(b) {
				break
			}
			a.Accept(b)
			sb.WriteByte(b)
		}
		if sb.Len() == 0 {
			if err := a.Err(); err != nil {
				return "", err
			}
			return "", errSyntax("Missing mailbox pattern")
		}
		raw = sb.String()
	}
	if c.utf8 {
		return raw, nil // matched literally if not UTF-8: it then matches nothing
	}
	if p, err := imapwire.DecodeMailbox(raw); err == nil {
		return p, nil
	}
	// A pattern that is not valid modified UTF-7 is matched literally, as
	// it was sent: no mailbox name decodes to it, so at most a name with
	// the same characters matches. A LIST pattern never fails the command.
	return raw, nil
}

// listReference reads the reference name of LIST and LSUB. Like a
// pattern, a reference that does not decode is used as sent.
func listReference(a *imapwire.ArgReader) (string, error) {
	ref, err := a.Mailbox()
	var nameErr *imapwire.MailboxNameError
	if errors.As(err, &nameErr) {
		return nameErr.Raw, nil
	}
	return ref, err
}

// joinReference combines a LIST reference and pattern (RFC 9051 6.3.9): a
// non-empty reference is a hierarchy level, so a separator is inserted
// when neither side supplies one. A first level spelled INBOX in any case
// is the INBOX (RFC 9051 5.1).
func joinReference(ref, pattern string) string {
	full := pattern
	if ref != "" {
		switch {
		case strings.HasSuffix(ref, separator) || strings.HasPrefix(pattern, separator):
			full = ref + pattern
		default:
			full = ref + separator + pattern
		}
	}
	first, rest, found := strings.Cut(full, separator)
	if first != store.Inbox && strings.EqualFold(first, store.Inbox) {
		full = store.Inbox
		if found {
			full += separator + rest
		}
	}
	return full
}

// rootName is the name returned with the delimiter for an empty pattern
// (RFC 9051 6.3.9): the first hierarchy level of the reference, with its
// separator, or "" for the root of the single personal namespace.
func rootName(ref string) string {
	if i := strings.Index(ref, separator); i >= 0 {
		return ref[:i+1]
	}
	return ""
}
