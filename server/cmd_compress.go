package server

import "strings"

// compressCapability is advertised after login, where COMPRESS is valid
// (RFC 4978 3).
const compressCapability = "COMPRESS=DEFLATE"

// cmdCompress implements COMPRESS (RFC 4978 section 3). DEFLATE is the
// only mechanism; any other gets BAD, as the RFC's result list says for an
// unknown or unsupported algorithm. The tagged OK is the last response
// sent uncompressed: the engine switches both directions right after it
// (startCompression), so the client's bytes after the command's CRLF are
// decompressed, bytes pipelined after COMPRESS included. The handler runs
// only while the spec's compression fact is unset, and its OK sets it, so a
// second COMPRESS is refused by the machine with NO [COMPRESSIONACTIVE].
func cmdCompress(c *conn, cmd *command) result {
	a := cmd.args
	if a.AtEnd() {
		return bad("COMPRESS needs a mechanism; DEFLATE is supported")
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	mech, err := a.Atom()
	if err != nil {
		return argError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if !strings.EqualFold(mech, "DEFLATE") {
		return bad("Unsupported compression mechanism " + mech + "; only DEFLATE is supported")
	}
	c.after = c.startCompression
	return ok("DEFLATE active")
}
