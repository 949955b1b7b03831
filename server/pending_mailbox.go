package server

// Mailbox commands not written yet (cmd_list.go, cmd_append.go replace
// these).
var (
	cmdList   = notYet
	cmdLsub   = notYet
	cmdStatus = notYet
	cmdAppend = notYet
)
