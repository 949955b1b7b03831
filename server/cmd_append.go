package server

// cmdAppend implements APPEND (RFC 9051 6.3.12) with MULTIAPPEND
// (RFC 3502, in the syntax of RFC 4466):
//
//	append         = "APPEND" SP mailbox 1*append-message
//	append-message = [SP flag-list] [SP date-time] SP append-data
//	append-data    = literal / "UTF8" SP "(" literal8 ")"
//
// Each message literal (synchronising, LITERAL+ non-synchronising per
// RFC 7888, or literal8 per RFC 3516, bare or in the UTF8 data extension
// of UTF8=ACCEPT, RFC 6855 section 4) is received into an appendSpool;
// once the command has arrived completely and well formed, the messages
// are stored in one store operation (store.BatchAppender for more than
// one), so that all are stored or none: a later message with bad syntax,
// over a limit, or over quota leaves nothing behind. The tagged OK carries
// APPENDUID with the UIDs of all of them (RFC 4315 3). A missing mailbox
// gets NO [TRYCREATE] before the client is invited to send the first
// message; a literal over APPENDLIMIT gets NO [TOOBIG] (RFC 7889), so does
// a command whose messages exceed Config.MaxAppendSize together, and one
// with more than Config.MaxAppendMessages messages gets NO [LIMIT]. A
// zero-length message cancels the command (RFC 3502 6.3.11): NO, nothing
// stored.
func cmdAppend(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	name, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	sp := c.newAppendSpool()
	defer sp.close()
	multi := c.multiAppend()
	for {
		if res, ok := c.receiveAppendMessage(a, sp, name, "APPEND"); !ok {
			return res
		}
		if !multi || a.AtEnd() {
			break
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	results, res, ok := c.storeSpooled(name, sp)
	if !ok {
		return res
	}
	if m := c.mailbox; m != nil && m.id == results[0].Mailbox {
		c.sendUpdates(true)
	}
	return okCode(appendUID(results), "APPEND completed")
}
