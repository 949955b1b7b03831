package imapwire_test

import (
	"fmt"
	"strings"

	"github.com/imapfsm/imapfsm/server/imapwire"
)

// Example shows the shape of an engine loop: read a line, parse the command
// start, read the arguments, and answer; on a protocol error answer BAD and
// discard the rest of the command.
func Example() {
	input := "A1 LOGIN {5+}\r\nalice \"s3cret\"\r\nA2 SELECT inbox extra\r\nA3 LOGOUT\r\n"
	dec := imapwire.NewDecoder(strings.NewReader(input), imapwire.DefaultLimits())
	var out strings.Builder
	enc := imapwire.NewEncoder(&out)
	dec.SetContinuationFunc(func(imapwire.LiteralInfo) error {
		return enc.Continuation("Ready for literal data").Flush()
	})
	for {
		line, err := dec.ReadLine()
		if err != nil {
			break
		}
		cmd, err := imapwire.ParseCommand(line.Text)
		if err != nil {
			enc.StatusResponse(cmd.Tag, imapwire.StatusBAD, "", imapwire.Reason(err))
			continue
		}
		// The argument reader's errors are sticky: End reports the first.
		a := dec.Args(cmd.ArgsStart)
		switch cmd.Name {
		case "LOGIN":
			a.SP()
			user, _ := a.AString()
			a.SP()
			a.AString()
			if err = a.End(); err == nil {
				enc.StatusResponse(cmd.Tag, imapwire.StatusOK, "", "Logged in as "+user)
			}
		case "SELECT":
			a.SP()
			name, _ := a.Mailbox()
			if err = a.End(); err == nil {
				enc.StatusResponse(cmd.Tag, imapwire.StatusOK, "READ-WRITE", "Selected "+name)
			}
		case "LOGOUT":
			enc.StatusResponse("", imapwire.StatusBYE, "", "")
			enc.StatusResponse(cmd.Tag, imapwire.StatusOK, "", "")
		}
		if err != nil {
			enc.StatusResponse(cmd.Tag, imapwire.StatusBAD, "", imapwire.Reason(err))
			if dec.Discard() != nil {
				break
			}
		}
	}
	enc.Flush()
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// A1 OK Logged in as alice
	// A2 BAD Unexpected extra arguments
	// * BYE Logging out
	// A3 OK Completed
}

// ExampleSeqSet resolves a sequence set against a mailbox of 10 messages.
func ExampleSeqSet() {
	set, err := imapwire.ParseSeqSet("8:*,2,5:3")
	if err != nil {
		panic(err)
	}
	fmt.Println(set)
	for n := range set.All(10) {
		fmt.Print(n, " ")
	}
	fmt.Println()
	// Output:
	// 8:*,2,3:5
	// 2 3 4 5 8 9 10
}

// ExampleEncodeMailbox shows the modified UTF-7 of RFC 3501 section 5.1.3.
func ExampleEncodeMailbox() {
	fmt.Println(imapwire.EncodeMailbox("~peter/mail/台北/日本語"))
	name, _ := imapwire.DecodeMailbox("Entw&APw-rfe")
	fmt.Println(name)
	// Output:
	// ~peter/mail/&U,BTFw-/&ZeVnLIqe-
	// Entwürfe
}
