package load

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 123456789, 1<<63 - 1} {
		i := bucketOf(v)
		require.Less(t, i, numBuckets, "value %d", v)
		low, width := bucketBounds(i)
		assert.LessOrEqual(t, low, v, "value %d bucket %d", v, i)
		assert.Less(t, v-low, width, "value %d bucket %d", v, i)
		if v >= linearTop {
			assert.LessOrEqual(t, float64(width)/float64(low), 1.0/subBuckets, "relative width at %d", v)
		}
	}
}

func TestPercentileUniform(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	require.EqualValues(t, 1000, h.Count())
	assert.InEpsilon(t, float64(500*time.Microsecond), float64(h.Percentile(50)), 0.04)
	assert.InEpsilon(t, float64(990*time.Microsecond), float64(h.Percentile(99)), 0.04)
	assert.Equal(t, 1000*time.Microsecond, h.Percentile(100), "the maximum caps the last bucket")
	assert.Equal(t, 1000*time.Microsecond, h.Max())
	assert.Equal(t, 500500*time.Nanosecond, h.Mean())
}

func TestPercentileNearestRank(t *testing.T) {
	var h Histogram
	for range 98 {
		h.Record(time.Millisecond)
	}
	h.Record(time.Second)
	h.Record(time.Second)
	// 98 of 100 samples are 1ms: p98 is 1ms, p99 is 1s.
	assert.InEpsilon(t, float64(time.Millisecond), float64(h.Percentile(98)), 0.04)
	assert.InEpsilon(t, float64(time.Second), float64(h.Percentile(99)), 0.04)
}

func TestPercentileEdges(t *testing.T) {
	var h Histogram
	assert.Zero(t, h.Percentile(50), "no samples")
	assert.Zero(t, h.Mean())
	h.Record(-time.Second)
	assert.Zero(t, h.Percentile(99), "negative durations count as zero")
	h.Record(37)
	assert.Equal(t, time.Duration(37), h.Percentile(100), "exact below 64ns")
}

func TestMerge(t *testing.T) {
	var a, b Histogram
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(5 * time.Millisecond)
	a.Merge(&b)
	assert.EqualValues(t, 3, a.Count())
	assert.Equal(t, 5*time.Millisecond, a.Max())
	assert.InEpsilon(t, float64(3*time.Millisecond), float64(a.Percentile(50)), 0.04)
}

func TestFormatDuration(t *testing.T) {
	assert.Equal(t, "250µs", FormatDuration(250*time.Microsecond))
	assert.Equal(t, "1.5ms", FormatDuration(1500*time.Microsecond))
	assert.Equal(t, "2.5s", FormatDuration(2500*time.Millisecond))
}
