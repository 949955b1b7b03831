package imapwire

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSeqSet(t *testing.T) {
	tests := []struct {
		in     string
		want   SeqSet
		str    string
		reason string
	}{
		{in: "1", want: SeqSet{Ranges: []SeqRange{{1, 1}}}, str: "1"},
		{in: "*", want: SeqSet{Ranges: []SeqRange{{0, 0}}}, str: "*"},
		{in: "1:*", want: SeqSet{Ranges: []SeqRange{{1, 0}}}, str: "1:*"},
		{in: "*:1", want: SeqSet{Ranges: []SeqRange{{1, 0}}}, str: "1:*"},
		{in: "5:2", want: SeqSet{Ranges: []SeqRange{{2, 5}}}, str: "2:5"},
		{in: "2,4:7,9,12:*", want: SeqSet{Ranges: []SeqRange{{2, 2}, {4, 7}, {9, 9}, {12, 0}}}, str: "2,4:7,9,12:*"},
		{in: "1:4294967295", want: SeqSet{Ranges: []SeqRange{{1, 4294967295}}}, str: "1:4294967295"},
		{in: "$", want: SeqSet{Saved: true}, str: "$"},
		{in: "", reason: "Empty sequence set"},
		{in: "0", reason: "Sequence number must be non-zero"},
		{in: "1:0", reason: "Sequence number must be non-zero"},
		{in: "00", reason: "Sequence number must be non-zero"},
		{in: "4294967296", reason: "Sequence number out of range (max 4294967295)"},
		{in: "1:99999999999999999999", reason: "Sequence number out of range (max 4294967295)"},
		{in: "1,", reason: "Empty element in sequence set"},
		{in: ",1", reason: "Empty element in sequence set"},
		{in: "1:", reason: "Empty element in sequence set"},
		{in: "1::2", reason: "Invalid character ':' in sequence set"},
		{in: "1:2:3", reason: "Invalid character ':' in sequence set"},
		{in: "1,$", reason: "'$' must be the whole sequence set"},
		{in: "a", reason: "Invalid character 'a' in sequence set"},
		{in: "-1", reason: "Invalid character '-' in sequence set"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSeqSet(tt.in)
			if tt.reason != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrSyntax)
				assert.Equal(t, tt.reason, Reason(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, s)
			assert.Equal(t, tt.str, s.String())
			again, err := ParseSeqSet(s.String())
			require.NoError(t, err)
			assert.Equal(t, s, again, "String round-trips")
		})
	}
}

func TestSeqSetResolve(t *testing.T) {
	tests := []struct {
		in    string
		max   uint32
		want  []SeqRange
		count uint64
	}{
		{in: "1:*", max: 5, want: []SeqRange{{1, 5}}, count: 5},
		{in: "*", max: 5, want: []SeqRange{{5, 5}}, count: 1},
		{in: "*", max: 0, want: nil, count: 0},
		// "*:4" with 3 messages is "3:4", clipped to 3 (RFC 9051 section 9).
		{in: "4:*", max: 3, want: []SeqRange{{3, 3}}, count: 1},
		{in: "10:20", max: 5, want: []SeqRange{}, count: 0},
		{in: "3:5,1,2,4:8", max: 10, want: []SeqRange{{1, 8}}, count: 8},
		{in: "7,1:2,9", max: 10, want: []SeqRange{{1, 2}, {7, 7}, {9, 9}}, count: 4},
		{in: "1:4294967295", max: 4294967295, want: []SeqRange{{1, 4294967295}}, count: 4294967295},
		{in: "4294967295,1:*", max: 4294967295, want: []SeqRange{{1, 4294967295}}, count: 4294967295},
		{in: "$", max: 10, want: nil, count: 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSeqSet(tt.in)
			require.NoError(t, err)
			got := s.Resolve(tt.max)
			if len(tt.want) == 0 {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, tt.want, got)
			}
			assert.Equal(t, tt.count, s.Count(tt.max))
		})
	}
}

func TestSeqSetContains(t *testing.T) {
	tests := []struct {
		in  string
		max uint32
		yes []uint32
		no  []uint32
	}{
		{in: "1:*", max: 5, yes: []uint32{1, 3, 5}, no: []uint32{0, 6}},
		{in: "*", max: 5, yes: []uint32{5}, no: []uint32{1, 4}},
		{in: "2,4:6", max: 10, yes: []uint32{2, 4, 5, 6}, no: []uint32{1, 3, 7}},
		{in: "8:*", max: 3, yes: []uint32{3, 4, 8}, no: []uint32{2, 9}},
		{in: "1:4294967295", max: 1, yes: []uint32{1, 4294967295}, no: []uint32{0}},
		{in: "$", max: 10, no: []uint32{1}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSeqSet(tt.in)
			require.NoError(t, err)
			for _, n := range tt.yes {
				assert.True(t, s.Contains(n, tt.max), "%d", n)
			}
			for _, n := range tt.no {
				assert.False(t, s.Contains(n, tt.max), "%d", n)
			}
		})
	}
}

func TestSeqSetAll(t *testing.T) {
	s, err := ParseSeqSet("9,3:5,4,*")
	require.NoError(t, err)
	assert.Equal(t, []uint32{3, 4, 5, 9, 12}, slices.Collect(s.All(12)))
	assert.Equal(t, []uint32{3}, slices.Collect(s.All(3)))
	assert.Empty(t, slices.Collect(s.All(0)))

	// A huge range is iterated lazily and can be stopped early.
	huge, err := ParseSeqSet("1:*")
	require.NoError(t, err)
	var first []uint32
	for n := range huge.All(4294967295) {
		first = append(first, n)
		if len(first) == 3 {
			break
		}
	}
	assert.Equal(t, []uint32{1, 2, 3}, first)

	// The top of the range terminates without wrapping around.
	top, err := ParseSeqSet("4294967294:*")
	require.NoError(t, err)
	assert.Equal(t, []uint32{4294967294, 4294967295}, slices.Collect(top.All(4294967295)))
}

func TestSeqSetAllocationsAreProportionalToText(t *testing.T) {
	measure := func(set string, max uint32) float64 {
		s, err := ParseSeqSet(set)
		require.NoError(t, err)
		return testing.AllocsPerRun(5, func() {
			var count uint64
			for range s.All(max) {
				count++
			}
			if count != uint64(max) {
				t.Fatalf("iterated %d numbers, want %d", count, max)
			}
		})
	}
	small := measure("1:10", 10)
	large := measure("1:1000000", 1000000)
	assert.Equal(t, small, large, "allocations do not grow with the range")
	assert.LessOrEqual(t, large, 8.0)
}

func TestSeqSetExceedsAndDynamic(t *testing.T) {
	s, err := ParseSeqSet("1:5,9")
	require.NoError(t, err)
	assert.True(t, s.Exceeds(8))
	assert.False(t, s.Exceeds(9))
	assert.False(t, s.Dynamic())
	d, err := ParseSeqSet("3:*")
	require.NoError(t, err)
	assert.False(t, d.Exceeds(3))
	assert.True(t, d.Dynamic())
}
