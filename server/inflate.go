package server

import (
	"errors"
	"io"
)

// inflater decodes the client's raw DEFLATE stream (RFC 1951). It exists
// because of one property the decompressors of compress/flate lack: it
// hands out every byte it has decoded before it waits for more input. Go's
// decompressors deliver a block's bytes only when an empty stored block (a
// zlib Z_SYNC_FLUSH) or the final block follows, or when their window
// fills; a client that flushes with Z_PARTIAL_FLUSH (isync/mbsync does)
// ends a command with an empty fixed-code block whose last bits arrive
// with the next command, so its command would wait in the decompressor
// while the client waits for the answer.
//
// Decoding goes in steps that are atomic with respect to input: a block
// header, a run of stored bytes, one code length of a dynamic header, one
// literal or length/distance pair. Before a step the bit buffer is topped
// up with the bytes the source already holds, never more; a step that
// runs short of bits is undone and, when decoded bytes are waiting, Read
// returns them instead of blocking. Only with nothing to hand out does
// the inflater wait for the network.
//
// Its state is the 32 KiB window the RFC requires, the code tables (about
// 1 KiB) and the bit buffer.
type inflater struct {
	src *inflateSource

	bits  uint64 // input bits not yet used, least significant first
	nbits uint

	// win is the last 32 KiB of output, a ring. It is allocated on its
	// own, so that it takes exactly 32 KiB, and the rest of the
	// inflater a small size class, instead of both together rounding up
	// to 40 KiB.
	win    *[windowSize]byte
	wpos   int   // where the next output byte goes
	unread int   // decoded bytes before wpos not yet handed out
	filled bool  // the window has wrapped: every distance is valid
	err    error // sticky

	state   int
	final   bool // the current block is the last one
	stored  int  // bytes left in the current stored block
	lit     huffmanCode
	dist    huffmanCode
	dynamic *dynamicHeader // while a dynamic block's header is read
}

// newInflater returns an inflater reading src.
func newInflater(src *inflateSource) *inflater {
	return &inflater{src: src, win: new([windowSize]byte)}
}

// windowSize is DEFLATE's largest distance (RFC 1951 2).
const windowSize = 1 << 15

// The inflater's states: between blocks, in the steps of a dynamic block
// header, in a stored block, in a block of codes, after the final block.
const (
	inflateHeader = iota
	inflateCodeLengthCodes
	inflateCodeLengths
	inflateStored
	inflateCodes
	inflateDone
)

// errShort is a step that ran out of buffered input; it is undone.
var errShort = errors.New("inflate: step needs more input")

// huffmanCode is a canonical Huffman code (RFC 1951 3.2.2) decoded bit by
// bit: count[n] codes have length n, and symbol lists the symbols in code
// order.
type huffmanCode struct {
	count  [16]uint16
	symbol [288]uint16
}

// dynamicHeader is the progress through a dynamic block's header (RFC 1951
// 3.2.7).
type dynamicHeader struct {
	hlit, hdist, hclen int
	i                  int // code length codes or code lengths read so far
	lens               [320]uint8
	clen               huffmanCode
}

// codeLengthOrder is the order of the code length code lengths.
var codeLengthOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// The lengths and distances of codes 257..285 and 0..29 (RFC 1951 3.2.5).
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// The fixed codes (RFC 1951 3.2.6), built once.
var fixedLit, fixedDist = func() (lit, dist huffmanCode) {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	lit.build(lens[:])
	// 32 distance codes, of which 30 and 31 never occur in valid data.
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	dist.build(d[:])
	return
}()

// corruptInput is the error of a stream that breaks RFC 1951.
type corruptInput string

func (e corruptInput) Error() string { return "invalid DEFLATE data: " + string(e) }

// build makes the canonical code of the code lengths lens; it reports
// whether they form a code (not over-subscribed). Incomplete codes are
// allowed (RFC 1951 allows one distance code); decoding a missing code is
// an error then.
func (h *huffmanCode) build(lens []uint8) bool {
	h.count = [16]uint16{}
	for _, l := range lens {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= int(h.count[l])
		if left < 0 {
			return false
		}
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lens {
		if l != 0 {
			h.symbol[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	return true
}

// decode reads one symbol of h from the bit buffer; errShort when the
// buffer ends first.
func (f *inflater) decode(h *huffmanCode) (int, error) {
	code, first, index := 0, 0, 0
	bits, nbits := f.bits, f.nbits
	for l := 1; l < 16; l++ {
		if nbits == 0 {
			return 0, errShort
		}
		code |= int(bits & 1)
		bits >>= 1
		nbits--
		count := int(h.count[l])
		if code-first < count {
			f.bits, f.nbits = bits, nbits
			return int(h.symbol[index+code-first]), nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, corruptInput("no such code")
}

// need reports whether the bit buffer holds n bits.
func (f *inflater) need(n uint) bool { return f.nbits >= n }

// take removes n bits (n <= 32) from the buffer; need(n) must hold.
func (f *inflater) take(n uint) int {
	v := int(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nbits -= n
	return v
}

// topUp moves the bytes the source already holds into the bit buffer, as
// many as fit; it never waits.
func (f *inflater) topUp() {
	for f.nbits <= 56 && f.src.buffered() > 0 {
		b, _ := f.src.ReadByte()
		f.bits |= uint64(b) << f.nbits
		f.nbits += 8
	}
}

// waitByte waits for one more byte of input and adds it to the buffer.
func (f *inflater) waitByte() error {
	if f.nbits > 56 {
		return corruptInput("a step needs more bits than exist") // cannot happen
	}
	b, err := f.src.ReadByte()
	if err != nil {
		return err
	}
	f.bits |= uint64(b) << f.nbits
	f.nbits += 8
	return nil
}

// put appends a decoded byte to the window.
func (f *inflater) put(b byte) {
	f.win[f.wpos] = b
	f.wpos++
	if f.wpos == windowSize {
		f.wpos = 0
		f.filled = true
	}
	f.unread++
}

// Read implements io.Reader: it hands out decoded bytes, decoding more
// while p has room, and waits for input only when it has nothing for p.
func (f *inflater) Read(p []byte) (int, error) {
	n := 0
	for {
		if f.unread > 0 && n < len(p) {
			start := (f.wpos - f.unread + windowSize) % windowSize
			end := start + f.unread
			if end > windowSize {
				end = windowSize
			}
			k := copy(p[n:], f.win[start:end])
			n += k
			f.unread -= k
			continue
		}
		if n == len(p) && len(p) > 0 {
			return n, nil
		}
		if f.err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, f.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		// Decode one step, keeping the bit buffer as it was if it runs
		// short: then hand out what there is, or wait for a byte.
		f.topUp()
		bits, nbits := f.bits, f.nbits
		err := f.step()
		if err == errShort {
			f.bits, f.nbits = bits, nbits
			if n > 0 {
				// Everything the client sent so far is decoded
				// and handed out.
				return n, nil
			}
			if werr := f.waitByte(); werr != nil {
				f.err = werr
			}
			continue
		}
		if err != nil {
			f.err = err
		}
	}
}

// step runs one input-atomic step of decoding.
func (f *inflater) step() error {
	switch f.state {
	case inflateDone:
		return io.EOF
	case inflateHeader:
		if f.final {
			f.state = inflateDone
			return io.EOF
		}
		if !f.need(3) {
			return errShort
		}
		f.final = f.bits&1 == 1
		switch (f.bits >> 1) & 3 {
		case 0:
			// Stored: skip to the byte boundary, then LEN and NLEN.
			skip := 3 + (f.nbits-3)%8
			if !f.need(skip + 32) {
				return errShort
			}
			f.take(skip)
			n, nn := f.take(16), f.take(16)
			if n != ^nn&0xffff {
				return corruptInput("stored block length check")
			}
			f.stored = n
			f.state = inflateStored
		case 1:
			f.take(3)
			f.lit, f.dist = fixedLit, fixedDist
			f.state = inflateCodes
		case 2:
			if !f.need(3 + 14) {
				return errShort
			}
			f.take(3)
			h := &dynamicHeader{}
			f.dynamic = h
			h.hlit = f.take(5) + 257
			h.hdist = f.take(5) + 1
			h.hclen = f.take(4) + 4
			if h.hlit > 286 || h.hdist > 30 {
				return corruptInput("too many length or distance codes")
			}
			f.state = inflateCodeLengthCodes
		default:
			return corruptInput("reserved block type")
		}
		return nil
	case inflateCodeLengthCodes:
		h := f.dynamic
		if h.i < h.hclen {
			// One length a step: a step is undone as a whole.
			if !f.need(3) {
				return errShort
			}
			h.lens[codeLengthOrder[h.i]] = uint8(f.take(3))
			h.i++
			return nil
		}
		if !h.clen.build(h.lens[:19]) {
			return corruptInput("code length code over-subscribed")
		}
		h.i = 0
		h.lens = [320]uint8{}
		f.state = inflateCodeLengths
		return nil
	case inflateCodeLengths:
		return f.codeLength()
	case inflateStored:
		if f.stored == 0 {
			f.state = inflateHeader
			return nil
		}
		// Whole bytes may wait in the bit buffer (the buffer is
		// byte-aligned in a stored block); then the source. At most
		// 1 KiB a step, so that undelivered bytes stay far below the
		// window.
		k := 0
		for k < 1024 && f.stored > 0 {
			var b byte
			switch {
			case f.nbits >= 8:
				b = byte(f.take(8))
			case f.src.buffered() > 0:
				b, _ = f.src.ReadByte()
			default:
				if k == 0 {
					return errShort
				}
				return nil
			}
			f.put(b)
			f.stored--
			k++
		}
		return nil
	case inflateCodes:
		return f.symbol()
	}
	return corruptInput("bad state")
}

// codeLength reads one code length of a dynamic header (RFC 1951 3.2.7)
// and, after the last one, builds the block's codes.
func (f *inflater) codeLength() error {
	h := f.dynamic
	total := h.hlit + h.hdist
	if h.i < total {
		sym, err := f.decode(&h.clen)
		if err != nil {
			return err
		}
		switch {
		case sym < 16:
			h.lens[h.i] = uint8(sym)
			h.i++
			return nil
		case sym == 16:
			if h.i == 0 {
				return corruptInput("repeat with no previous length")
			}
			if !f.need(2) {
				return errShort
			}
			return h.repeat(h.lens[h.i-1], 3+f.take(2), total)
		case sym == 17:
			if !f.need(3) {
				return errShort
			}
			return h.repeat(0, 3+f.take(3), total)
		default:
			if !f.need(7) {
				return errShort
			}
			return h.repeat(0, 11+f.take(7), total)
		}
	}
	if h.lens[256] == 0 {
		return corruptInput("no end-of-block code")
	}
	if !f.lit.build(h.lens[:h.hlit]) || !f.dist.build(h.lens[h.hlit:total]) {
		return corruptInput("over-subscribed code")
	}
	f.dynamic = nil
	f.state = inflateCodes
	return nil
}

// repeat sets n code lengths to l.
func (h *dynamicHeader) repeat(l uint8, n, total int) error {
	if h.i+n > total {
		return corruptInput("code lengths repeat past the end")
	}
	for range n {
		h.lens[h.i] = l
		h.i++
	}
	return nil
}

// symbol decodes one literal, the end of the block, or one length and
// distance, and writes its bytes to the window.
func (f *inflater) symbol() error {
	sym, err := f.decode(&f.lit)
	if err != nil {
		return err
	}
	switch {
	case sym < 256:
		f.put(byte(sym))
		return nil
	case sym == 256:
		f.state = inflateHeader
		return nil
	case sym > 285:
		return corruptInput("invalid length code")
	}
	i := sym - 257
	if !f.need(uint(lengthExtra[i])) {
		return errShort
	}
	length := int(lengthBase[i]) + f.take(uint(lengthExtra[i]))
	d, err := f.decode(&f.dist)
	if err != nil {
		return err
	}
	if d > 29 {
		return corruptInput("invalid distance code")
	}
	if !f.need(uint(distExtra[d])) {
		return errShort
	}
	dist := int(distBase[d]) + f.take(uint(distExtra[d]))
	if !f.filled && dist > f.wpos {
		return corruptInput("distance too far back")
	}
	for range length {
		f.put(f.win[(f.wpos-dist+windowSize)%windowSize])
	}
	return nil
}
