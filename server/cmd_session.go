package server

import (
	"strings"

	"github.com/imapfsm/imapfsm/server/imapwire"
)

// cmdCapability implements CAPABILITY (RFC 9051 6.1.1).
func cmdCapability(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Raw("CAPABILITY " + c.capabilities(c.state.Authenticated())).CRLF()
	})
	return ok("CAPABILITY completed")
}

// cmdNoop implements NOOP (RFC 9051 6.1.2): it reports mailbox changes.
func cmdNoop(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.sendUpdates(true)
	return ok("NOOP completed")
}

// cmdCheck implements CHECK (RFC 3501 6.4.1); every change is already
// durable, so it behaves like NOOP.
func cmdCheck(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.sendUpdates(true)
	return ok("CHECK completed")
}

// cmdLogout implements LOGOUT (RFC 9051 6.1.3).
func cmdLogout(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.write(func(e *imapwire.Encoder) { e.StatusResponse("", imapwire.StatusBYE, "", "Logging out") })
	return ok("LOGOUT completed")
}

// cmdID implements ID (RFC 2971). The client's fields are logged, never
// used to change behaviour (RFC 2971 3.4; quirks are triggered by what
// arrives on the wire).
func cmdID(c *conn, cmd *command) result {
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	fields := map[string]string{}
	if b, _ := a.Peek(); b == '(' {
		var key string
		n := 0
		err := a.List(func() error {
			s, isNil, err := a.NString()
			if err != nil {
				return err
			}
			if n%2 == 0 {
				key = strings.ToLower(s)
			} else if !isNil && len(fields) < 30 {
				fields[key] = s
			}
			n++
			return nil
		})
		if err != nil {
			return argError(err)
		}
		if n%2 != 0 {
			return bad("ID list needs field/value pairs")
		}
	} else if _, isNil, err := a.NString(); err != nil || !isNil {
		return bad("ID expects a list or NIL")
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if len(fields) > 0 {
		c.log.Info("client id", "name", fields["name"], "version", fields["version"], "os", fields["os"])
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Raw(`ID ("name" "imapfsm" "vendor" "imapfsm")`).CRLF()
	})
	return ok("ID completed")
}

// cmdEnable implements ENABLE (RFC 5161, RFC 9051 6.3.1). UTF8=ACCEPT
// (RFC 6855) switches mailbox names to UTF-8; IMAP4rev2 is accepted as the
// default behaviour; CONDSTORE (RFC 7162 3.1) and QRESYNC (RFC 7162 3.2.3,
// which implies CONDSTORE) change how mailbox changes are reported.
func cmdEnable(c *conn, cmd *command) result {
	a := cmd.args
	var enabled []string
	implied := map[string]bool{} // enabled by this command without being named yet
	if a.AtEnd() {
		return bad("ENABLE needs at least one capability name") // RFC 5161 3.1
	}
	for !a.AtEnd() {
		if err := a.SP(); err != nil {
			return argError(err)
		}
		atom, err := a.Atom()
		if err != nil {
			return argError(err)
		}
		name := strings.ToUpper(atom)
		switch name {
		case "UTF8=ACCEPT", "IMAP4REV2":
			if !c.enabled[name] {
				c.enable(name)
				enabled = append(enabled, name)
			}
		case "CONDSTORE", "QRESYNC":
			// QRESYNC implies CONDSTORE (RFC 7162 3.2.3): CONDSTORE is
			// still listed when this command also names it.
			if !c.enabled[name] || implied[name] {
				c.enable(name)
				delete(implied, name)
				enabled = append(enabled, name)
			}
			if name == "QRESYNC" && !c.enabled["CONDSTORE"] {
				c.enable("CONDSTORE")
				implied["CONDSTORE"] = true
			}
		}
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if c.enabled["UTF8=ACCEPT"] && !c.utf8 {
		c.utf8 = true
		c.dec.SetUTF8(true)
		c.wmu.Lock()
		c.enc.SetUTF8(true)
		c.wmu.Unlock()
	}
	c.write(func(e *imapwire.Encoder) {
		e.Untagged().Raw("ENABLED")
		for _, n := range enabled {
			e.SP().Atom(n)
		}
		e.CRLF()
	})
	return ok("ENABLE completed")
}

// cmdNamespace implements NAMESPACE (RFC 2342, RFC 9051 6.3.10): one
// personal namespace with separator "/".
func cmdNamespace(c *conn, cmd *command) result {
	if err := cmd.args.End(); err != nil {
		return argError(err)
	}
	c.write(func(e *imapwire.Encoder) { e.Untagged().Raw(`NAMESPACE (("" "/")) NIL NIL`).CRLF() })
	return ok("NAMESPACE completed")
}
