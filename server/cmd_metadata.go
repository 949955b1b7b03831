package server

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// METADATA (RFC 5464). Annotations are kept per account by the store
// (store.MetadataUser): entries of each mailbox, and server entries under
// the mailbox name "". The account is its only user, so /private and
// /shared entries differ only in name (there is no sharing). The server
// entry /shared/admin is read-only and comes from Config.Metadata.Admin.
// METADATA is advertised (it implies METADATA-SERVER); unsolicited
// METADATA responses are not sent, so ENABLE METADATA enables nothing
// (RFC 5464 4.1 makes them optional).
//
// Entry names are case-insensitive and stored lower-cased (RFC 5464 3.2).
// GETMETADATA takes its options before the mailbox, as the RFC's grammar
// says, or after it, as the RFC's examples and go-imap do; and its entries
// as one entry, a parenthesised list, or several entries separated by
// spaces (another RFC example).

// adminEntry is the read-only server entry naming the administrator.
const adminEntry = "/shared/admin"

// metadataUser returns the session's user as a store.MetadataUser, or a
// BAD result when the store keeps no annotations (METADATA is then not
// advertised).
func (c *conn) metadataUser(cmd *command) (store.MetadataUser, result, bool) {
	mu, ok := c.user.(store.MetadataUser)
	if !ok {
		return nil, bad(cmd.name + " is not supported: this server's store keeps no annotations"), false
	}
	return mu, result{}, true
}

// hasMetadata reports whether the session's store keeps annotations.
func (c *conn) hasMetadata() bool {
	_, ok := c.user.(store.MetadataUser)
	return ok
}

// metadataLimits are the store limits of Config.Metadata.
func (c *conn) metadataLimits() store.MetadataLimits {
	m := c.srv.cfg.Metadata
	return store.MetadataLimits{
		Entries: m.MaxEntries, Bytes: m.MaxBytes,
		AccountEntries: m.MaxAccountEntries, AccountBytes: m.MaxAccountBytes,
	}
}

// errEntry is a malformed entry name (BAD, RFC 5464 3.2).
type errEntry string

func (e errEntry) Error() string { return string(e) }

// checkEntry validates an entry name and returns it lower-cased. forSet
// also requires what only a stored entry needs: at least two components,
// and four under /private/vendor or /shared/vendor. GETMETADATA accepts
// the shorter names, which hold no value but may be the roots of a DEPTH
// search ("/private" with DEPTH infinity).
func checkEntry(name string, forSet bool) (string, error) {
	if name == "" || name[0] != '/' {
		return "", errEntry("Entry name must start with /private or /shared: " + strconv.Quote(name))
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c <= 0x19 || c >= 0x7f:
			return "", errEntry("Entry name must be printable ASCII: " + strconv.Quote(name))
		case c == '*' || c == '%':
			return "", errEntry("Entry name must not contain * or %: " + strconv.Quote(name))
		}
	}
	if strings.Contains(name, "//") || strings.HasSuffix(name, "/") {
		return "", errEntry("Entry name must not contain // or end with /: " + strconv.Quote(name))
	}
	name = strings.ToLower(name)
	parts := strings.Split(name[1:], "/")
	if parts[0] != "private" && parts[0] != "shared" {
		return "", errEntry("Entry name must start with /private or /shared: " + strconv.Quote(name))
	}
	if forSet {
		if len(parts) < 2 {
			return "", errEntry("Entry name needs a component after the scope: " + strconv.Quote(name))
		}
		if parts[1] == "vendor" && len(parts) < 4 {
			return "", errEntry("Vendor entry name needs /vendor/<vendor-token>/<name>: " + strconv.Quote(name))
		}
	}
	return name, nil
}

// readEntry reads and checks one entry name.
func readEntry(a *imapwire.ArgReader, forSet bool) (string, error) {
	raw, err := a.AString()
	if err != nil {
		return "", err
	}
	return checkEntry(raw, forSet)
}

// metadataArgError is argError for a malformed entry name as well.
func metadataArgError(err error) result {
	var ee errEntry
	if errors.As(err, &ee) {
		return bad(string(ee))
	}
	return argError(err)
}

// metadataDepth is the DEPTH option of GETMETADATA (RFC 5464 4.2.2).
type metadataDepth int

const (
	depthZero     metadataDepth = 0
	depthOne      metadataDepth = 1
	depthInfinity metadataDepth = -1
)

// getMetadataOptions are the options of one GETMETADATA.
type getMetadataOptions struct {
	maxSize int64 // -1: no MAXSIZE
	depth   metadataDepth
	seen    bool // an options list was read
}

// readMetadataOption reads one option of the list; first is its label,
// already read.
func (o *getMetadataOptions) read(a *imapwire.ArgReader, label string) error {
	if err := a.SP(); err != nil {
		return err
	}
	switch strings.ToUpper(label) {
	case "MAXSIZE":
		n, err := a.Number()
		if err != nil {
			return err
		}
		o.maxSize = int64(n)
	case "DEPTH":
		v, err := a.Atom()
		if err != nil {
			return err
		}
		switch strings.ToLower(v) {
		case "0":
			o.depth = depthZero
		case "1":
			o.depth = depthOne
		case "infinity":
			o.depth = depthInfinity
		default:
			return errEntry("DEPTH must be 0, 1 or infinity")
		}
	default:
		return errEntry("Unknown GETMETADATA option " + label)
	}
	return nil
}

// isMetadataOption reports whether s names a GETMETADATA option.
func isMetadataOption(s string) bool {
	s = strings.ToUpper(s)
	return s == "MAXSIZE" || s == "DEPTH"
}

// readOptionsOrEntries reads a parenthesised list that is either the
// options (its first element is MAXSIZE or DEPTH) or the entries.
func readOptionsOrEntries(a *imapwire.ArgReader, o *getMetadataOptions) (entries []string, isOptions bool, err error) {
	first := true
	err = a.List(func() error {
		raw, err := a.AString()
		if err != nil {
			return err
		}
		if first {
			first = false
			isOptions = !o.seen && isMetadataOption(raw)
		}
		if isOptions {
			return o.read(a, raw)
		}
		name, err := checkEntry(raw, false)
		if err != nil {
			return err
		}
		entries = append(entries, name)
		return nil
	})
	if err == nil && isOptions {
		o.seen = true
	}
	return entries, isOptions, err
}

// parseGetMetadata reads the arguments of GETMETADATA.
func (c *conn) parseGetMetadata(a *imapwire.ArgReader) (mailbox string, entries []string, o getMetadataOptions, err error) {
	o.maxSize = -1
	if err := a.SP(); err != nil {
		return "", nil, o, err
	}
	if c, _ := a.Peek(); c == '(' {
		// Options before the mailbox, as the grammar says.
		if _, isOptions, err := readOptionsOrEntries(a, &o); err != nil {
			return "", nil, o, err
		} else if !isOptions {
			return "", nil, o, errEntry("GETMETADATA needs the mailbox before the entries")
		}
		if err := a.SP(); err != nil {
			return "", nil, o, err
		}
	}
	if mailbox, err = c.mailboxArg(a); err != nil {
		return "", nil, o, err
	}
	for {
		if err := a.SP(); err != nil {
			return "", nil, o, err
		}
		if c, _ := a.Peek(); c == '(' {
			list, isOptions, err := readOptionsOrEntries(a, &o)
			if err != nil {
				return "", nil, o, err
			}
			if isOptions {
				continue // options after the mailbox: entries follow
			}
			entries = list
			if len(entries) == 0 {
				return "", nil, o, errEntry("GETMETADATA needs at least one entry")
			}
			break
		}
		// One entry, or several separated by spaces.
		for {
			name, err := readEntry(a, false)
			if err != nil {
				return "", nil, o, err
			}
			entries = append(entries, name)
			if a.AtEnd() {
				break
			}
			if err := a.SP(); err != nil {
				return "", nil, o, err
			}
		}
		break
	}
	return mailbox, entries, o, a.End()
}

// under reports whether name is below entry at a depth the option allows.
func (d metadataDepth) under(entry, name string) bool {
	if !strings.HasPrefix(name, entry+"/") {
		return false
	}
	switch d {
	case depthInfinity:
		return true
	case depthOne:
		return !strings.Contains(name[len(entry)+1:], "/")
	}
	return false
}

// cmdGetMetadata implements GETMETADATA (RFC 5464 4.2).
func cmdGetMetadata(c *conn, cmd *command) result {
	mu, res, supported := c.metadataUser(cmd)
	if !supported {
		return res
	}
	mailbox, requested, o, err := c.parseGetMetadata(cmd.args)
	if err != nil {
		return metadataArgError(err)
	}
	stored, err := mu.Metadata(c.ctx, mailbox)
	if err != nil {
		return c.storeError(err)
	}
	if mailbox == "" && c.srv.cfg.Metadata.Admin != "" {
		stored = append(stored, store.MetadataEntry{Name: adminEntry, Value: []byte(c.srv.cfg.Metadata.Admin)})
		sort.Slice(stored, func(i, j int) bool { return stored[i].Name < stored[j].Name })
	}
	if c.srv.cfg.Metadata.SharedOnly {
		stored = slices.DeleteFunc(stored, func(e store.MetadataEntry) bool { return strings.HasPrefix(e.Name, "/private/") })
	}
	values := make(map[string][]byte, len(stored))
	for _, e := range stored {
		values[e.Name] = e.Value
	}
	// The requested entries in their order, each followed by the entries
	// below it that DEPTH reaches, in name order; each entry once.
	var out []store.MetadataEntry
	done := map[string]bool{}
	var longest int64 = -1
	add := func(name string, v []byte, explicit bool) {
		if done[name] {
			return
		}
		done[name] = true
		if v == nil {
			if explicit && o.depth == depthZero {
				out = append(out, store.MetadataEntry{Name: name}) // NIL: no such entry
			}
			return
		}
		if o.maxSize >= 0 && int64(len(v)) > o.maxSize {
			longest = max(longest, int64(len(v)))
			return
		}
		out = append(out, store.MetadataEntry{Name: name, Value: v})
	}
	for _, name := range requested {
		add(name, values[name], true)
		if o.depth == depthZero {
			continue
		}
		for _, e := range stored {
			if o.depth.under(name, e.Name) {
				add(e.Name, e.Value, false)
			}
		}
	}
	if len(out) > 0 {
		c.write(func(e *imapwire.Encoder) {
			e.Untagged().Atom("METADATA").SP().Mailbox(mailbox).SP().OpenList()
			for i, entry := range out {
				if i > 0 {
					e.SP()
				}
				e.AString(entry.Name).SP()
				writeMetadataValue(e, entry.Value)
			}
			e.CloseList().CRLF()
		})
	}
	if longest >= 0 {
		return okCode(fmt.Sprintf("METADATA LONGENTRIES %d", longest), "GETMETADATA completed")
	}
	return ok("GETMETADATA completed")
}

// writeMetadataValue writes a value: NIL for none, a literal8 when it
// holds NUL (which no string can carry), otherwise a string.
func writeMetadataValue(e *imapwire.Encoder, v []byte) {
	switch {
	case v == nil:
		e.NIL()
	case bytes.IndexByte(v, 0) >= 0:
		e.Literal8(bytes.NewReader(v), int64(len(v)))
	default:
		e.String(string(v))
	}
}

// cmdSetMetadata implements SETMETADATA (RFC 5464 4.3): all entries are
// set (NIL removes) or none is.
func cmdSetMetadata(c *conn, cmd *command) result {
	mu, res, supported := c.metadataUser(cmd)
	if !supported {
		return res
	}
	a := cmd.args
	if err := a.SP(); err != nil {
		return argError(err)
	}
	mailbox, err := c.mailboxArg(a)
	if err != nil {
		return argError(err)
	}
	if err := a.SP(); err != nil {
		return argError(err)
	}
	// Refuse a missing mailbox before any value is uploaded.
	if mailbox != "" {
		if _, err := c.user.Mailbox(c.ctx, mailbox); err != nil {
			return c.storeError(err)
		}
	}
	maxSize := c.srv.cfg.Metadata.MaxValueSize
	tooBig := no(fmt.Sprintf("METADATA MAXSIZE %d", maxSize), fmt.Sprintf("Annotation values are limited to %d octets", maxSize))
	var changes []store.MetadataEntry
	var refused *result
	err = a.List(func() error {
		name, err := readEntry(a, true)
		if err != nil {
			return err
		}
		if err := a.SP(); err != nil {
			return err
		}
		if info, isLiteral := a.PeekLiteral(); isLiteral && info.Sync && info.Size > maxSize {
			// Before the continuation request: the value is not sent.
			// (A non-synchronising literal is on its way anyway; it is
			// read like a quoted value and refused after the list.)
			refused = &tooBig
			return errRefused
		}
		v, isNil, err := a.NBinary()
		if err != nil {
			return err
		}
		if isNil {
			v = nil
		} else if v == nil {
			v = []byte{}
		}
		if int64(len(v)) > maxSize && refused == nil {
			refused = &tooBig
		}
		changes = append(changes, store.MetadataEntry{Name: name, Value: v})
		return nil
	})
	if refused != nil && (err == nil || errors.Is(err, errRefused)) {
		return *refused
	}
	if err != nil {
		var lit *imapwire.LiteralTooLargeError
		if errors.As(err, &lit) && !lit.Closing {
			return tooBig
		}
		return metadataArgError(err)
	}
	if err := a.End(); err != nil {
		return argError(err)
	}
	if len(changes) == 0 {
		return bad("SETMETADATA needs at least one entry")
	}
	for _, ch := range changes {
		if c.srv.cfg.Metadata.SharedOnly && strings.HasPrefix(ch.Name, "/private/") {
			return no("METADATA NOPRIVATE", "This server keeps no private annotations; use /shared")
		}
		if mailbox == "" && ch.Name == adminEntry {
			return no("NOPERM", "/shared/admin is read-only")
		}
	}
	if err := mu.SetMetadata(c.ctx, mailbox, changes, c.metadataLimits()); err != nil {
		if errors.Is(err, store.ErrMetadataTooMany) {
			return no("METADATA TOOMANY", "Too many annotations, or too large in total")
		}
		return c.storeError(err)
	}
	return ok("SETMETADATA completed")
}

// errRefused stops reading SETMETADATA's arguments once it is refused.
var errRefused = errors.New("refused")
