package server

// Handlers not written yet. Each is replaced by its command family file.

func notYet(c *conn, cmd *command) result { return no("CANNOT", "Command not available yet") }

var (
	cmdCreate      = notYet
	cmdDelete      = notYet
	cmdRename      = notYet
	cmdSubscribe   = notYet
	cmdUnsubscribe = notYet
	cmdList        = notYet
	cmdLsub        = notYet
	cmdStatus      = notYet
	cmdAppend      = notYet
	cmdExpunge     = notYet
	cmdSearch      = notYet
	cmdFetch       = notYet
	cmdStore       = notYet
	cmdCopy        = notYet
	cmdMove        = notYet
)

var messageCapabilities []string
