package mailmsg

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// crlf turns the LF line ends of a readable fixture into CRLF, the form in
// which IMAP stores messages.
func crlf(s string) string {
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// analyzeString runs Analyze and Decode on msg, as the store does.
func analyzeString(t testing.TB, msg string) *Structure {
	t.Helper()
	blob, err := Analyze(strings.NewReader(msg))
	require.NoError(t, err)
	st, err := Decode(blob)
	require.NoError(t, err)
	require.Equal(t, int64(len(msg)), st.Size)
	return st
}

// The plain message of the RFC 9051 7.5.2 FETCH examples.
var fixturePlain = crlf(`Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
From: Terry Gray <gray@cac.washington.edu>
Subject: IMAP4rev2 WG mtg summary and minutes
To: imap@cac.washington.edu
Cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
Message-Id: <B27397-0100000@cac.washington.edu>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello world,
this is the second line.
`)

// A multipart/alternative message with folded header fields.
var fixtureAlternative = crlf(`From: Alice <alice@example.org>
To: Bob <bob@example.com>,
 Carol <carol@example.com>
Subject: A folded
	subject line
Date: Tue, 1 Apr 2025 10:00:00 +0200
Message-ID: <alt@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative;
 boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Plain body
--b1
Content-Type: text/html; charset=utf-8

<p>HTML body</p>
--b1--
`)

// A multipart/mixed message with a quoted-printable ISO-8859-1 text part,
// a base64 attachment and a nested message/rfc822 that is itself
// multipart/alternative. Encoded-words in UTF-8 and ISO-8859-1.
var fixtureMixed = crlf(`From: =?UTF-8?B?SsO2cmc=?= <joerg@example.org>
To: "Smith, John" <john@example.com>, Undisclosed: ;
Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin
Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
Message-ID: <m1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble.
--outer
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Sch=F6ne Gr=FC=DFe vom M=FCggelsee
--outer
Content-Type: application/octet-stream; name="data.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="data.bin"
Content-ID: <att1@example.org>
Content-Description: some data
Content-Language: de, en

AAECAwQFBgcICQ==
--outer
Content-Type: message/rfc822

From: inner@example.net
Subject: inner subject
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

inner plain
--inner
Content-Type: text/html

<p>inner html</p>
--inner--

--outer--
epilogue
`)

// A message that is not MIME at all: no Content-Type, a header line
// without a colon and a bare-LF line end.
var fixtureMalformed = "From: x@example.com\r\nthis line is junk\r\nSubject: still parsed\nContent-Type: ;;;\r\n\r\nbody text\r\n"

// A multipart message whose boundary never appears and one whose
// Content-Type lacks a boundary.
var fixtureNoBoundary = crlf(`Subject: broken
Content-Type: multipart/mixed; boundary="nowhere"

just text
`)

var fixtureNoBoundaryParam = crlf(`Subject: broken
Content-Type: multipart/mixed

just text
`)
