package server

import "github.com/imapfsm/imapfsm/fsm"

// handler runs one command. It parses its arguments from cmd.args, writes
// untagged responses with c.write, and reports a result; the engine writes
// the tagged completion. Handlers never look at the session's state: the
// machine has already allowed the command where it runs.
type handler func(c *conn, cmd *command) result

// handlerTable maps command inputs to handlers. Its size is fsm.NumInputs,
// so the table breaks the build if the generated inputs change shape, and
// TestEveryCommandHasAHandler fails if a command input has no handler.
func handlerTable() *[fsm.NumInputs]handler {
	return &[fsm.NumInputs]handler{
		fsm.InputCapability:   cmdCapability,
		fsm.InputNoop:         cmdNoop,
		fsm.InputLogout:       cmdLogout,
		fsm.InputID:           cmdID,
		fsm.InputStarttls:     cmdStartTLS,
		fsm.InputAuthenticate: cmdAuthenticate,
		fsm.InputLogin:        cmdLogin,
		fsm.InputEnable:       cmdEnable,
		fsm.InputNamespace:    cmdNamespace,
		fsm.InputIdle:         cmdIdle,
		fsm.InputCheck:        cmdCheck,
		fsm.InputSASLResponse: cmdSASLResponse,
		// Mailbox commands: cmd_mailbox.go, cmd_list.go, cmd_append.go.
		fsm.InputSelect:      cmdSelect,
		fsm.InputExamine:     cmdSelect,
		fsm.InputCreate:      cmdCreate,
		fsm.InputDelete:      cmdDelete,
		fsm.InputRename:      cmdRename,
		fsm.InputSubscribe:   cmdSubscribe,
		fsm.InputUnsubscribe: cmdUnsubscribe,
		fsm.InputList:        cmdList,
		fsm.InputLsub:        cmdLsub,
		fsm.InputStatus:      cmdStatus,
		fsm.InputAppend:      cmdAppend,
		fsm.InputClose:       cmdClose,
		fsm.InputUnselect:    cmdUnselect,
		// Message commands: cmd_fetch.go, cmd_search.go, cmd_store.go,
		// cmd_copy.go, cmd_expunge.go.
		fsm.InputExpunge:    cmdExpunge,
		fsm.InputUIDExpunge: cmdExpunge,
		fsm.InputSearch:     cmdSearch,
		fsm.InputUIDSearch:  cmdSearch,
		fsm.InputFetch:      cmdFetch,
		fsm.InputUIDFetch:   cmdFetch,
		fsm.InputStore:      cmdStore,
		fsm.InputUIDStore:   cmdStore,
		fsm.InputCopy:       cmdCopy,
		fsm.InputUIDCopy:    cmdCopy,
		fsm.InputMove:       cmdMove,
		fsm.InputUIDMove:    cmdMove,
		// SORT and THREAD: cmd_sort.go.
		fsm.InputSort:      cmdSort,
		fsm.InputUIDSort:   cmdSort,
		fsm.InputThread:    cmdThread,
		fsm.InputUIDThread: cmdThread,
		// QUOTA: cmd_quota.go.
		fsm.InputGetquota:     cmdGetQuota,
		fsm.InputGetquotaroot: cmdGetQuotaRoot,
		fsm.InputSetquota:     cmdSetQuota,
		// NOTIFY: cmd_notify.go, notify.go.
		fsm.InputNotify: cmdNotify,
		// METADATA: cmd_metadata.go.
		fsm.InputGetmetadata: cmdGetMetadata,
		fsm.InputSetmetadata: cmdSetMetadata,
		// CONTEXT=SEARCH, CONTEXT=SORT: contexts.go.
		fsm.InputCancelupdate: cmdCancelUpdate,
		// COMPRESS: cmd_compress.go, compress.go.
		fsm.InputCompress: cmdCompress,
	}
}
