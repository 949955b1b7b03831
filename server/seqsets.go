package server

import (
	"strconv"
	"strings"
)

// refNumber is the number a response uses for a message: its UID for UID
// commands, else its sequence number.
func refNumber(r msgRef, uid bool) uint32 {
	if uid {
		return r.uid
	}
	return r.seq
}

// compactSet formats ascending message numbers as a sequence-set with
// ranges, such as 1:3,7 (RFC 4731 3.1 ALL).
func compactSet(refs []msgRef, uid bool) string {
	var b []byte
	for i := 0; i < len(refs); {
		lo := refNumber(refs[i], uid)
		hi := lo
		j := i + 1
		for j < len(refs) && refNumber(refs[j], uid) == hi+1 {
			hi++
			j++
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(lo), 10)
		if hi != lo {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(hi), 10)
		}
		i = j
	}
	return string(b)
}

// orderedSet renders numbers in the order given as a sequence-set, joining
// only ascending runs into ranges.
func orderedSet(refs []msgRef, uid bool) string {
	var b strings.Builder
	for i := 0; i < len(refs); {
		j := i
		for j+1 < len(refs) && refNumber(refs[j+1], uid) == refNumber(refs[j], uid)+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(refNumber(refs[i], uid)), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(refNumber(refs[j], uid)), 10))
		}
		i = j + 1
	}
	return b.String()
}
