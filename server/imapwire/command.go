package imapwire

// Command is the start of a tagged command line: "tag SP command-name".
type Command struct {
	// Tag is the client's tag (RFC 9051 section 2.2.1).
	Tag string
	// Name is the upper-cased command name. "UID" followed by a command is
	// joined into one name, such as "UID FETCH" (RFC 9051 section 6.4.9).
	Name string
	// ArgsStart is the offset in the line of the first byte after the
	// command name: either the SP before the first argument or the end of
	// the line. Pass it to Decoder.Args.
	ArgsStart int
}

// ParseCommand parses "tag SP command-name" at the start of a command line
// (RFC 9051 section 9: tag = 1*<any ASTRING-CHAR except "+">; command
// names are atoms and case-insensitive).
//
// On error the returned Command still carries the Tag when the tag itself
// was valid, so the engine can answer "tag BAD <reason>"; with an invalid
// tag Tag is empty and the answer is "* BAD <reason>". The error is a
// syntax error whose Reason is suitable for the response text.
func ParseCommand(line []byte) (Command, error) {
	var cmd Command
	if len(line) == 0 {
		return cmd, syntaxErr("Empty command")
	}
	i := 0
	for i < len(line) && isTagChar(line[i]) {
		i++
	}
	if i == 0 {
		switch line[0] {
		case ' ':
			return cmd, syntaxErr("Missing tag")
		case '+':
			return cmd, syntaxErr("Tag must not contain '+'")
		default:
			return cmd, syntaxErr("Invalid character in tag")
		}
	}
	if i < len(line) && line[i] != ' ' {
		switch c := line[i]; {
		case c == '+':
			return cmd, syntaxErr("Tag must not contain '+'")
		case c == '\r':
			return cmd, syntaxErr("Bare CR in command")
		default:
			return cmd, syntaxErr("Invalid character in tag")
		}
	}
	cmd.Tag = string(line[:i])
	if i == len(line) {
		return cmd, syntaxErr("Expected SP after tag")
	}
	i++ // SP
	name, next, err := parseCommandName(line, i)
	if err != nil {
		return cmd, err
	}
	if name == "UID" {
		if next == len(line) || line[next] != ' ' {
			return cmd, syntaxErr("Expected command after UID")
		}
		sub, end, err := parseCommandName(line, next+1)
		if err != nil {
			return cmd, syntaxErr("Expected command after UID")
		}
		name, next = "UID "+sub, end
	}
	cmd.Name = name
	cmd.ArgsStart = next
	return cmd, nil
}

// parseCommandName reads an atom at line[i:] that must be followed by SP or
// the end of the line, and returns it upper-cased with the offset after it.
func parseCommandName(line []byte, i int) (string, int, error) {
	start := i
	for i < len(line) && isAtomChar(line[i]) {
		i++
	}
	if i == start {
		if i == len(line) || line[i] == ' ' {
			return "", i, syntaxErr("Missing command name")
		}
		return "", i, syntaxErr("Invalid character in command name")
	}
	if i < len(line) && line[i] != ' ' {
		if line[i] == '\r' {
			return "", i, syntaxErr("Bare CR in command")
		}
		return "", i, syntaxErr("Invalid character in command name")
	}
	return upperASCII(line[start:i]), i, nil
}
