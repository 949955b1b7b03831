package server

import (
	"errors"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// storeOps maps the STORE data item names to flag operations (RFC 9051
// 6.4.6); the ".SILENT" suffix is handled separately.
var storeOps = map[string]store.FlagOp{
	"FLAGS":  store.FlagsSet,
	"+FLAGS": store.FlagsAdd,
	"-FLAGS": store.FlagsRemove,
}

// cmdStore implements STORE and UID STORE (RFC 9051 6.4.6, 6.4.9). Unless
// .SILENT is given, an untagged FETCH with the new FLAGS (and the UID for
// UID STORE) follows for every message of the set. Messages that another
// session expunged meanwhile are skipped without error (RFC 9051 7.5.1).
// EXPUNGE responses of other sessions are deferred during STORE.
//
// With CONDSTORE (RFC 7162 3.1.3) the store-modifier UNCHANGEDSINCE skips
// messages whose MODSEQ is greater (with 0, every message); the tagged OK
// names them in [MODIFIED set]. Once CONDSTORE is enabled the FETCH
// responses carry UID and MODSEQ, and .SILENT still reports the MODSEQ of
// every message that changed.
func cmdStore(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDStore
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	set, err := a.SeqSet()
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	var unchangedSince uint64
	conditional := false
	if ch, _ := a.Peek(); ch == '(' {
		// store-modifiers (RFC 4466 2.5): UNCHANGEDSINCE (RFC 7162 3.1.3).
		err := a.List(func() error {
			kw, err := a.Keyword()
			if err != nil {
				return err
			}
			if kw != "UNCHANGEDSINCE" || conditional {
				return fetchSyntaxError("Unknown or repeated STORE modifier " + kw)
			}
			if err := a.SP(); err != nil {
				return err
			}
			conditional = true
			unchangedSince, err = a.Number64() // mod-sequence-valzer: 0 allowed
			return err
		})
		if err != nil {
			return fetchArgError(err)
		}
		if !conditional {
			return bad("Empty STORE modifier list")
		}
		if err := a.SP(); err != nil {
			return argError(err)
		}
	}
	item, err := a.Keyword()
	if err != nil {
		return argError(err)
	}
	silent := strings.HasSuffix(item, ".SILENT")
	op, known := storeOps[strings.TrimSuffix(item, ".SILENT")]
	if !known {
		return bad("Unknown STORE data item " + item)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	flags, err := readStoreFlags(a)
	if err != nil {
		return argError(err)
	}
	m := c.mailbox
	sel, err := m.selection(set, uidCmd)
	if err != nil {
		return bad("Invalid message sequence number")
	}
	uids, count := sel.storeSet()
	if conditional {
		c.enableCondstore() // a CONDSTORE-enabling command (RFC 7162 3.1)
	}
	condstore := c.condstore()
	var modified []msgRef
	if count > 0 && conditional && unchangedSince == 0 {
		// UNCHANGEDSINCE 0 fails for every existing message (RFC 7162
		// 3.1.3); the flags are still validated.
		if _, err := store.ParseFlags(flags); err != nil {
			return bad("Invalid flag in STORE")
		}
		modified = sel.refs()
	} else if count > 0 {
		res, err := c.user.StoreFlags(c.ctx, m.id, uids, store.FlagChange{Op: op, Flags: flags, UnchangedSince: unchangedSince})
		if errors.Is(err, store.ErrInvalidFlag) {
			return bad("Invalid flag in STORE")
		}
		if err != nil {
			return c.storeError(err)
		}
		m.noteOwnFlagChange(res.ModSeq)
		for _, u := range res.Updated {
			if u.Changed {
				m.markContextDirty(u.UID)
			}
		}
		for i, u := range res.Updated {
			res.Updated[i].Flags = m.withRecent(u.UID, u.Flags)
		}
		for _, uid := range res.Modified.Expand() {
			if seq := m.seqOf(uid); seq != 0 {
				modified = append(modified, msgRef{seq: seq, uid: uid})
			}
		}
		c.write(func(e *imapwire.Encoder) {
			if !silent {
				for _, u := range res.Updated {
					if m.seqOf(u.UID) != 0 {
						m.announceFlags(e, u.Flags)
					}
				}
			}
			for _, u := range res.Updated {
				seq := m.seqOf(u.UID)
				if seq == 0 || (silent && (!condstore || !u.Changed)) {
					continue
				}
				e.Untagged().Number(seq).Raw(" FETCH (")
				if uidCmd || condstore {
					e.Raw("UID ").Number(u.UID).SP()
				}
				if condstore {
					e.Raw("MODSEQ (").Number64(u.ModSeq).Raw(")")
					if silent {
						e.Raw(")").CRLF()
						continue
					}
					e.SP()
				}
				e.Raw("FLAGS ").FlagList(m.canonical(u.Flags)).Raw(")").CRLF()
			}
		})
	}
	c.sendCommandUpdates(uidCmd)
	if len(modified) > 0 {
		return okCode("MODIFIED "+compactSet(modified, uidCmd), "Conditional STORE failed for some messages")
	}
	return ok("STORE completed")
}

// readStoreFlags reads the flags of STORE: a flag list, or flags separated
// by SP up to the end of the command (RFC 9051 9, store-att-flags).
func readStoreFlags(a *imapwire.ArgReader) ([]string, error) {
	var flags []string
	if ch, _ := a.Peek(); ch == '(' {
		fl, err := a.FlagList()
		if err != nil {
			return nil, err
		}
		flags = fl
	} else {
		for {
			f, err := a.Flag()
			if err != nil {
				return nil, err
			}
			flags = append(flags, f)
			if a.AtEnd() {
				break
			}
			if err := a.SP(); err != nil {
				return nil, err
			}
		}
	}
	if err := a.End(); err != nil {
		return nil, err
	}
	return flags, nil
}
