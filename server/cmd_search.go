package server

import (
	"slices"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
	"github.com/imapfsm/imapfsm/server/imapwire"
)

// messageCapabilities lists the extensions the message commands implement:
// BINARY (RFC 3516, FETCH BINARY items), ESEARCH (RFC 4731, SEARCH RETURN
// options), SEARCHRES (RFC 5182, SEARCH RETURN (SAVE) and "$"), WITHIN
// (RFC 5032, the OLDER and YOUNGER search keys), PREVIEW (RFC 8970, the
// FETCH item, cmd_fetch.go), OBJECTID (RFC 8474, objectid.go) and
// SAVEDATE (RFC 8514, the FETCH item and the SAVED* search keys,
// savedate.go). UIDPLUS and MOVE are advertised with the base
// capabilities.
var messageCapabilities = []string{"BINARY", "ESEARCH", "SEARCHRES", "WITHIN", "PREVIEW", "OBJECTID", "SAVEDATE"}

// cmdSearch implements SEARCH and UID SEARCH (RFC 9051 6.4.4, 6.4.9) with
// the RFC 3501 keys, the ESEARCH return options MIN, MAX, COUNT and ALL
// (RFC 4731) and SAVE with "$" (RFC 5182). Without RETURN the answer is a
// SEARCH response, or an ESEARCH response once IMAP4rev2 is enabled
// (RFC 9051 7.3.4). EXPUNGE responses of other sessions are deferred during
// SEARCH (RFC 9051 7.5.1).
func cmdSearch(c *conn, cmd *command) result {
	uidCmd := cmd.input == fsm.InputUIDSearch
	a := cmd.args
	m := c.mailbox
	if err := a.SP(); err != nil {
		return argError(err)
	}
	ret := searchReturn{extended: c.rev2()}
	program := &searchKey{op: searchAnd}
	charset := ""
	res := parseSearch(a, &ret, program, &charset)
	if res != nil {
		if ret.save {
			m.saved = nil // a failed SEARCH ... SAVE empties "$" (RFC 5182 2.1)
		}
		return *res
	}
	if charset != "" && !strings.EqualFold(charset, "UTF-8") && !strings.EqualFold(charset, "US-ASCII") {
		if ret.save {
			m.saved = nil
		}
		return no("BADCHARSET (UTF-8 US-ASCII)", "Only UTF-8 and US-ASCII are supported")
	}
	if ret.extended && !ret.given {
		ret.all = true // RETURN () means ALL (RFC 4731 3.1)
	}
	if res := c.checkContextTag(cmd, ret); res != nil {
		return *res
	}
	withModSeq := program.usesModSeq()
	if withModSeq {
		c.enableCondstore() // a CONDSTORE-enabling command (RFC 7162 3.1)
	}
	hits, modseqs, err := c.searchMessages(program)
	if err != nil {
		if ret.save {
			m.saved = nil
		}
		return c.storeError(err)
	}
	if ret.save {
		m.saved = savedResult(hits, ret)
	}
	c.write(func(e *imapwire.Encoder) {
		if !ret.extended {
			e.Untagged().Raw("SEARCH")
			for _, h := range hits {
				e.SP().Number(refNumber(h, uidCmd))
			}
			if withModSeq && len(hits) > 0 {
				// The highest MODSEQ of the messages returned (RFC 7162
				// 3.1.5).
				e.Raw(" (MODSEQ ").Number64(slices.Max(modseqs)).Raw(")")
			}
			e.CRLF()
			return
		}
		if ret.save && !ret.min && !ret.max && !ret.count && !ret.all && !ret.partial && !ret.update {
			return // SAVE alone: no ESEARCH response (RFC 5182 2.1)
		}
		e.Untagged().Raw("ESEARCH (TAG ").Quoted(cmd.tag).Raw(")")
		if uidCmd {
			e.Raw(" UID")
		}
		if len(hits) > 0 && ret.min {
			e.Raw(" MIN ").Number(refNumber(hits[0], uidCmd))
		}
		if len(hits) > 0 && ret.max {
			e.Raw(" MAX ").Number(refNumber(hits[len(hits)-1], uidCmd))
		}
		if ret.count {
			e.Raw(" COUNT ").Number(uint32(len(hits)))
		}
		if len(hits) > 0 && ret.all {
			e.Raw(" ALL ").Raw(compactSet(hits, uidCmd))
		}
		if ret.partial {
			writePartial(e, ret, hits, uidCmd, false)
		}
		if withModSeq && len(hits) > 0 {
			// RFC 7162 3.1.5 with RFC 4731 3.2: with ALL or COUNT the
			// highest MODSEQ of every match, with MIN/MAX alone that of
			// the messages returned.
			top := slices.Max(modseqs)
			if !ret.all && !ret.count {
				top = 0
				if ret.min {
					top = modseqs[0]
				}
				if ret.max {
					top = max(top, modseqs[len(modseqs)-1])
				}
			}
			e.Raw(" MODSEQ ").Number64(top)
		}
		e.CRLF()
	})
	if ret.update {
		c.startContext(cmd, uidCmd, program, hits, nil, nil)
	}
	c.sendCommandUpdates(uidCmd)
	return ok("SEARCH completed")
}

// parseSearch reads the whole SEARCH argument: the RETURN options, the
// CHARSET and the keys. It returns nil on success or the result to answer.
func parseSearch(a *imapwire.ArgReader, ret *searchReturn, program *searchKey, charset *string) *result {
	// "RETURN" and a first key such as RECENT share a prefix, so the
	// first keyword is read once and handed on when it is a key.
	name := ""
	if c, _ := a.Peek(); c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
		kw, err := a.Keyword()
		if err != nil {
			return searchArgResult(err)
		}
		name = kw
		if name == "RETURN" {
			if err := parseSearchReturn(a, ret); err != nil {
				return searchArgResult(err)
			}
			name = ""
		}
	}
	for first := true; ; first = false {
		if !first {
			if a.AtEnd() {
				break
			}
			if err := a.SP(); err != nil {
				return searchArgResult(err)
			}
		}
		k, err := parseSearchKey(a, first, charset, name)
		name = ""
		if err != nil {
			return searchArgResult(err)
		}
		program.sub = append(program.sub, k)
	}
	if len(program.sub) == 0 {
		return searchArgResult(fetchSyntaxError("SEARCH needs a search key"))
	}
	if err := a.End(); err != nil {
		return searchArgResult(err)
	}
	return nil
}
