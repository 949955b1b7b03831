package imapwire

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "1-Feb-1994", want: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)},
		{in: "01-FEB-1994", want: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)},
		{in: "29-feb-2024", want: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{in: "31-Dec-9999", want: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{in: "29-Feb-2023", bad: true},
		{in: "0-Jan-2000", bad: true},
		{in: "32-Jan-2000", bad: true},
		{in: "1-Jan-99", bad: true},
		{in: "1/Jan/2000", bad: true},
		{in: "001-Jan-2000", bad: true},
		{in: "1-Janu-2000", bad: true},
		{in: "", bad: true},
		{in: "a1-Jan-2000", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if tt.bad {
				assert.ErrorIs(t, err, ErrSyntax)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Time
		offset int
		bad    bool
	}{
		{in: "17-Jul-1996 02:44:25 -0700", want: time.Date(1996, 7, 17, 9, 44, 25, 0, time.UTC), offset: -7 * 3600},
		{in: " 7-Jul-1996 02:44:25 +0000", want: time.Date(1996, 7, 7, 2, 44, 25, 0, time.UTC)},
		{in: "07-Jul-1996 02:44:25 +0000", want: time.Date(1996, 7, 7, 2, 44, 25, 0, time.UTC)},
		{in: "7-Jul-1996 02:44:25 +0545", want: time.Date(1996, 7, 6, 20, 59, 25, 0, time.UTC), offset: 5*3600 + 45*60},
		{in: "17-Jul-1996 02:44:25 0700", bad: true},
		{in: "17-Jul-1996 02:44:25", bad: true},
		{in: "17-Jul-1996 2:44:25 -0700", bad: true},
		{in: "17-Jul-1996 02:60:25 -0700", bad: true},
		{in: "17-Jul-1996 02:44:60 -0700", bad: true},
		{in: "17-Jul-1996 02:44:25 -0760", bad: true},
		{in: "17-Jul-1996T02:44:25 -0700", bad: true},
		{in: "31-Jun-1996 02:44:25 -0700", bad: true},
		{in: "  7-Jul-1996 02:44:25 +0000", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDateTime(tt.in)
			if tt.bad {
				assert.ErrorIs(t, err, ErrSyntax)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v want %v", got, tt.want)
			_, off := got.Zone()
			assert.Equal(t, tt.offset, off)
		})
	}
}

func TestDateFormatting(t *testing.T) {
	tm := time.Date(1996, 7, 7, 2, 44, 25, 0, time.FixedZone("", -7*3600))
	assert.Equal(t, "07-Jul-1996 02:44:25 -0700", string(AppendDateTime(nil, tm)))
	assert.Equal(t, "7-Jul-1996", FormatDate(tm))
	back, err := ParseDateTime(string(AppendDateTime(nil, tm)))
	require.NoError(t, err)
	assert.True(t, tm.Equal(back))
}
