package load

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets: exact below 64 ns,
// then 32 buckets per power of two, so a reported percentile is within
// 1/32 (about 3%) of the true sample. The zero value is ready to use; it is
// not safe for concurrent use (each client keeps its own and Merge joins
// them).
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

const (
	subBits    = 5
	subBuckets = 1 << subBits   // 32 buckets per power of two
	linearTop  = 2 * subBuckets // values below are their own bucket
	numBuckets = linearTop + (64-subBits-1)*subBuckets
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < linearTop {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1)), e >= subBits+1
	shift := e - subBits
	return linearTop + (e-subBits-1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketBounds returns the smallest value of bucket i and its width.
func bucketBounds(i int) (low, width uint64) {
	if i < linearTop {
		return uint64(i), 1
	}
	i -= linearTop
	e := i/subBuckets + subBits + 1
	shift := e - subBits
	return uint64(i%subBuckets+subBuckets) << shift, 1 << shift
}

// Record adds one sample; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest sample.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the mean sample, or 0 without samples.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Percentile returns the p-th percentile (0 < p <= 100) by the nearest-rank
// method: the smallest recorded value such that at least p% of the samples
// are less than or equal to it, reported as the middle of its bucket and
// never above the maximum. It returns 0 without samples.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketBounds(i)
			return min(time.Duration(low+width/2), h.max)
		}
	}
	return h.max
}
