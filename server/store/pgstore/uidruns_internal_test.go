package pgstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/imapfsm/imapfsm/server/store"
)

// TestExpandRuns: runs expand to their UIDs in order; runs that overlap,
// are out of order, are inverted, or do not add up to the message count
// are refused (View then rebuilds them).
func TestExpandRuns(t *testing.T) {
	got, err := expandRuns([]int64{1, 5, 9}, []int64{3, 5, 10}, 6)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 2, 3, 5, 9, 10}, got)
	got, err = expandRuns(nil, nil, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
	for name, c := range map[string]struct {
		los, his []int64
		n        int64
	}{
		"count too high":   {[]int64{1}, []int64{3}, 4},
		"count too low":    {[]int64{1}, []int64{3}, 2},
		"overlapping runs": {[]int64{1, 3}, []int64{3, 4}, 5},
		"out of order":     {[]int64{5, 1}, []int64{6, 2}, 4},
		"inverted run":     {[]int64{4}, []int64{2}, 0},
		"zero UID":         {[]int64{0}, []int64{1}, 2},
		"uneven arrays":    {[]int64{1, 5}, []int64{2}, 2},
	} {
		_, err := expandRuns(c.los, c.his, c.n)
		assert.ErrorIs(t, err, errRunsMismatch, name)
	}
}

// BenchmarkExpandRuns measures the CPU cost of View's UID list for a
// mailbox of a million messages in one run (the case after an import) and
// in 1,000 runs.
func BenchmarkExpandRuns(b *testing.B) {
	for _, runs := range []int64{1, 1000} {
		b.Run(map[int64]string{1: "OneRun", 1000: "ThousandRuns"}[runs], func(b *testing.B) {
			const n = 1_000_000
			var los, his []int64
			per := int64(n) / runs
			for i := range runs {
				los = append(los, 1+i*(per+1))
				his = append(his, i*(per+1)+per)
			}
			for b.Loop() {
				if _, err := expandRuns(los, his, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFetchPart: Fetch reads the leading ranges as narrow while they span
// at most maxNarrowUIDs UIDs together (and are at most maxRangesPerQuery),
// and a wider leading range with the ranges after it as wide.
func TestFetchPart(t *testing.T) {
	r := func(a, b uint32) store.UIDRange { return store.UIDRange{Start: a, Stop: b} }
	part, narrow := fetchPart(store.UIDSet{r(1, 3), r(7, 7), r(10, 10+maxNarrowUIDs)})
	assert.Equal(t, store.UIDSet{r(1, 3), r(7, 7)}, part)
	assert.True(t, narrow)
	part, narrow = fetchPart(store.UIDSet{r(1, maxNarrowUIDs)})
	assert.Equal(t, store.UIDSet{r(1, maxNarrowUIDs)}, part)
	assert.True(t, narrow)
	part, narrow = fetchPart(store.UIDSet{r(1, maxNarrowUIDs+1), r(5000, 5000)})
	assert.Equal(t, store.UIDSet{r(1, maxNarrowUIDs+1), r(5000, 5000)}, part)
	assert.False(t, narrow)
	part, narrow = fetchPart(store.UIDSet{r(1, 1<<32-1)})
	assert.Equal(t, store.UIDSet{r(1, 1<<32-1)}, part)
	assert.False(t, narrow)
	singles := make(store.UIDSet, maxRangesPerQuery+5)
	for i := range singles {
		singles[i] = r(uint32(i)*3+1, uint32(i)*3+1)
	}
	part, narrow = fetchPart(singles)
	assert.Len(t, part, maxRangesPerQuery)
	assert.True(t, narrow)
	wide := make(store.UIDSet, maxRangesPerQuery+5)
	for i := range wide {
		wide[i] = r(uint32(i)*10000+1, uint32(i)*10000+5000)
	}
	part, narrow = fetchPart(wide)
	assert.Len(t, part, maxRangesPerQuery)
	assert.False(t, narrow)
}
