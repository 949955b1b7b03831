package server

// notYet answers commands whose handlers are still being written. Each
// command family file replaces its entries in pending_mailbox.go and
// pending_message.go; when both files are gone, so is this one.
func notYet(c *conn, cmd *command) result { return no("CANNOT", "Command not available yet") }
