package imapwire

import (
	"strconv"
	"time"
)

// monthNames are the date-month values of RFC 9051 section 9.
var monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// DateTimeLayout is the time package layout of an IMAP date-time without its
// quotes (RFC 9051 section 9), e.g. 17-Jul-1996 02:44:25 -0700. The encoder
// writes the two-digit form of date-day-fixed.
const DateTimeLayout = "02-Jan-2006 15:04:05 -0700"

// parseMonth matches a date-month case-insensitively (ABNF strings are
// case-insensitive, RFC 5234 section 2.3).
func parseMonth(s string) (time.Month, bool) {
	if len(s) != 3 {
		return 0, false
	}
	for i, m := range monthNames {
		if (s[0]|0x20) == (m[0]|0x20) && (s[1]|0x20) == m[1] && (s[2]|0x20) == m[2] {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// digits parses s as a decimal number of exactly len(s) digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// validDay reports whether day exists in month of year.
func validDay(year int, month time.Month, day int) bool {
	return day >= 1 && day <= 31 && time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Day() == day
}

// ParseDate parses a date-text such as 1-Feb-1994 (RFC 9051 section 9:
// date-day "-" date-month "-" date-year, with a one- or two-digit day). It
// returns midnight UTC of that day.
func ParseDate(s string) (time.Time, error) {
	bad := syntaxErr("Invalid date, expected d-Mon-yyyy")
	n := len(s)
	// d-Mon-yyyy or dd-Mon-yyyy
	if n != 10 && n != 11 {
		return time.Time{}, bad
	}
	dayLen := n - 9
	if s[dayLen] != '-' || s[dayLen+4] != '-' {
		return time.Time{}, bad
	}
	day, ok1 := digits(s[:dayLen])
	month, ok2 := parseMonth(s[dayLen+1 : dayLen+4])
	year, ok3 := digits(s[dayLen+5:])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, bad
	}
	if !validDay(year, month, day) {
		return time.Time{}, syntaxErr("Invalid date: day out of range")
	}
	return time.Date(year, month, day, 0, 0, 0, 0, time.UTC), nil
}

// ParseDateTime parses the inside of a quoted date-time such as
// 17-Jul-1996 02:44:25 -0700 (RFC 9051 section 9). date-day-fixed is
// " 7" or "07"; a single digit "7" is also accepted, as many servers do.
// The result carries the given zone offset.
func ParseDateTime(s string) (time.Time, error) {
	bad := syntaxErr("Invalid date-time, expected dd-Mon-yyyy hh:mm:ss +zzzz")
	if len(s) == 26 && s[0] == ' ' {
		s = s[1:]
	}
	if len(s) != 25 && len(s) != 26 {
		return time.Time{}, bad
	}
	date, rest := s[:len(s)-15], s[len(s)-15:] // " hh:mm:ss +zzzz"
	t, err := ParseDate(date)
	if err != nil {
		return time.Time{}, bad
	}
	if rest[0] != ' ' || rest[3] != ':' || rest[6] != ':' || rest[9] != ' ' {
		return time.Time{}, bad
	}
	hh, ok1 := digits(rest[1:3])
	mm, ok2 := digits(rest[4:6])
	ss, ok3 := digits(rest[7:9])
	sign := rest[10]
	zh, ok4 := digits(rest[11:13])
	zm, ok5 := digits(rest[13:15])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || (sign != '+' && sign != '-') {
		return time.Time{}, bad
	}
	if hh > 23 || mm > 59 || ss > 59 || zm > 59 {
		return time.Time{}, syntaxErr("Invalid date-time: field out of range")
	}
	offset := (zh*60 + zm) * 60
	if sign == '-' {
		offset = -offset
	}
	zone := time.UTC
	if offset != 0 {
		zone = time.FixedZone("", offset)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), hh, mm, ss, 0, zone), nil
}

// AppendDateTime appends the date-time of t (without quotes) in
// DateTimeLayout.
func AppendDateTime(b []byte, t time.Time) []byte {
	return t.AppendFormat(b, DateTimeLayout)
}

// FormatDate formats t as a date-text (d-Mon-yyyy), as used in SEARCH.
func FormatDate(t time.Time) string {
	return strconv.Itoa(t.Day()) + "-" + monthNames[t.Month()-1] + "-" + strconv.Itoa(t.Year())
}
