package server

// Mailbox commands not written yet (cmd_mailbox.go, cmd_list.go,
// cmd_append.go replace these).
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
)
