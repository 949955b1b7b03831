package server

// cmdNotify implements NOTIFY (RFC 5465 3):
//
//	notify      = "NOTIFY" SP (notify-set / notify-none)
//	notify-none = "NONE"
//	notify-set  = "SET" [SP "STATUS"] SP event-group *(SP event-group)
//
// NOTIFY SET replaces the session's notify set; with STATUS it first
// reports the status of each mailbox whose messages it watches. Events
// this server cannot report are refused with NO [BADEVENT (...)], which
// lists the ones it can; invalid combinations get BAD. A refused NOTIFY
// leaves the set as it was.
func cmdNotify(c *conn, cmd *command) result {
	if !c.hasNotify() {
		return no("CANNOT", "NOTIFY is not available with this store")
	}
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	kw, err := a.Keyword()
	if err != nil {
		return argError(err)
	}
	switch kw {
	case "NONE":
		if err := a.End(); err != nil {
			return argError(err)
		}
		c.stopNotify()
		return ok("NOTIFY completed; no more notifications")
	case "SET":
	default:
		return bad("NOTIFY needs SET or NONE")
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	withStatus := false
	if ch, _ := a.Peek(); ch != '(' {
		if kw, err := a.Keyword(); err != nil {
			return argError(err)
		} else if kw != "STATUS" {
			return bad("Expected STATUS or an event group")
		}
		withStatus = true
		if err := a.SP(); err != nil {
			return argError(err)
		}
	}
	set := &notifySet{}
	var unsupported bool
	for {
		g, unsup, err := c.parseEventGroup(a)
		if err != nil {
			return argError(err)
		}
		unsupported = unsupported || unsup
		set.groups = append(set.groups, g)
		if a.AtEnd() {
			break
		}
		if err := a.SP(); err != nil {
			return argError(err)
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if err := checkEventGroups(set); err != nil {
		return argError(err)
	}
	if unsupported {
		return no(c.supportedEvents(), "Event not supported")
	}
	if err := c.startNotify(set, withStatus); err != nil {
		return c.storeError(err)
	}
	return ok("NOTIFY completed")
}
