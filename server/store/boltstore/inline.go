package boltstore

import (
	"bytes"
	"errors"
	"io"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/imapfsm/imapfsm/server/store"
)

// defaultInlineMax is the largest body, in bytes, kept inline in the
// database (bucket inline, content id -> body) instead of as a content
// file. A small body then costs no file creation, no file sync and no
// directory sync: it becomes durable with the metadata commit that
// references it, so a batch of small messages costs one fsync in all.
// Larger bodies still go to files, where bbolt would have to copy them on
// every rewrite of their page.
const defaultInlineMax = 8 << 10

// readSmall reads r until it ends or limit+1 bytes were read. small tells
// whether r ended within limit bytes; otherwise buf holds the bytes read so
// far, which the caller must put back in front of the rest of r.
func readSmall(r io.Reader, limit int64) (buf []byte, small bool, err error) {
	if limit <= 0 {
		return nil, false, nil
	}
	size := limit + 1
	if l, ok := r.(interface{ Len() int }); ok && int64(l.Len()) < limit {
		size = int64(l.Len()) + 1 // an in-memory body: no larger buffer
	}
	buf = make([]byte, 0, size)
	// Not io.ReadFull: it reports a short read as io.ErrUnexpectedEOF,
	// which a body reader also returns for a truncated body (a client gone
	// in the middle of a literal), and such a body must fail.
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(limit+1)-len(buf))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			if len(buf) == 0 {
				// Empty bodies go to files: an empty inline value would
				// be indistinguishable from a missing one.
				return nil, false, nil
			}
			return buf[:len(buf):len(buf)], true, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	return buf, false, nil
}

// rest returns the whole body again after readSmall found it too large.
func rest(prefix []byte, r io.Reader) io.Reader {
	if len(prefix) == 0 {
		return r
	}
	return io.MultiReader(bytes.NewReader(prefix), r)
}

// checkInlineSize applies the store's size limit to a body read whole.
func checkInlineSize(body []byte, maxSize int64) error {
	if int64(len(body)) > maxSize {
		return store.ErrTooBig
	}
	return nil
}

// putInline stores the body of content in tx.
func putInline(tx *bolt.Tx, content uint64, body []byte) error {
	return tx.Bucket(bucketInline).Put(u64key(content), body)
}

// inlineBody returns a copy of the inline body of content, or nil when the
// content is a file (every store written before inline bodies existed).
func inlineBody(tx *bolt.Tx, content uint64) []byte {
	v := tx.Bucket(bucketInline).Get(u64key(content))
	if v == nil {
		return nil
	}
	return clone(v)
}

// memBody is an inline body opened for reading.
type memBody struct{ *bytes.Reader }

// Close implements store.Body.
func (memBody) Close() error { return nil }
