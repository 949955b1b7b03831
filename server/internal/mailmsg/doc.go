// Package mailmsg analyses stored RFC 5322 messages for the IMAP FETCH and
// SEARCH commands.
//
// The store calls [Analyze] once, when a message is appended, and keeps the
// compact blob it returns next to the raw message. [Decode] turns the blob
// back into a [Structure]: the message envelope (RFC 9051 section 7.5.2,
// ENVELOPE) and its MIME tree (RFC 2045, RFC 2046) with the byte offsets of
// every part's header and body inside the raw message. Everything else in
// the package works from a Structure plus an [io.ReaderAt] over the raw
// message, so that large bodies are read only in the byte range a command
// needs and are never re-parsed:
//
//   - [WriteEnvelope] and [WriteBodyStructure] produce the ENVELOPE, BODY and
//     BODYSTRUCTURE FETCH data items in IMAP wire syntax (RFC 9051 7.5.2).
//   - [ParseSection] and [ExtractSection] implement BODY[section]<partial>
//     and the RFC822, RFC822.HEADER and RFC822.TEXT items (RFC 9051 6.4.5).
//   - [ExtractBinary] and [BinarySize] implement BINARY[section] and
//     BINARY.SIZE[section] (RFC 3516), decoding the content transfer encoding.
//   - [MatchHeader], [MatchAddress], [MatchBody] and [MatchText] are the
//     substring tests behind the SEARCH keys HEADER, FROM/TO/CC/BCC, BODY and
//     TEXT, and [SentDate] gives the Date header for SENTBEFORE, SENTON and
//     SENTSINCE (RFC 9051 6.4.4).
//
// Header fields, media-type parameters, content transfer encodings and
// charsets are parsed and decoded with github.com/emersion/go-message. The
// package itself only locates header blocks and multipart boundary
// delimiter lines (RFC 2046 5.1.1), because IMAP needs the exact octet
// offsets of every part, and tokenises address lists (RFC 5322 3.4) so that
// the envelope can carry display names and group syntax exactly as they
// appear on the wire.
//
// Malformed MIME never makes analysis fail: an entity whose Content-Type is
// missing or cannot be parsed is treated as text/plain; charset=us-ascii
// (RFC 2045 5.2), and a multipart entity without a usable boundary or
// without any body part is treated the same way.
package mailmsg
