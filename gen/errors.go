package gen

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a spec, located in its file.
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

// Error formats the problem as file:line:col: message, the form editors and
// terminals turn into links.
func (e Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// ErrorList is every problem found in one run, in file order.
type ErrorList struct {
	File string
	Errs []Error
}

func (l *ErrorList) add(p Pos, msg string) {
	if p.IsZero() {
		p = Pos{Line: 1, Col: 1}
	}
	e := Error{File: l.File, Pos: p, Msg: msg}
	for _, old := range l.Errs {
		if old == e {
			return // a rule applied to several states reports once
		}
	}
	l.Errs = append(l.Errs, e)
}

func (l *ErrorList) addf(p Pos, format string, args ...any) {
	l.add(p, fmt.Sprintf(format, args...))
}

// Len reports how many problems were found.
func (l *ErrorList) Len() int { return len(l.Errs) }

// Error lists every problem, one per line.
func (l *ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (l *ErrorList) sort() {
	sort.SliceStable(l.Errs, func(i, j int) bool {
		a, b := l.Errs[i].Pos, l.Errs[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

func (l *ErrorList) err() error {
	if len(l.Errs) == 0 {
		return nil
	}
	l.sort()
	return l
}
