package server

// Message commands not written yet (cmd_fetch.go, cmd_search.go,
// cmd_store.go, cmd_copy.go, cmd_expunge.go replace these).
var (
	cmdSearch = notYet
)

// messageCapabilities lists the capabilities of the message commands.
var messageCapabilities []string
