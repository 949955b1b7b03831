package server

import (
	"strings"

	"github.com/imapfsm/imapfsm/server/imapwire"
	"github.com/imapfsm/imapfsm/server/store"
)

// notifyFilter is the filter-mailboxes of an event group (RFC 5465).
type notifyFilter uint8

// Mailbox filters.
const (
	filterSelected notifyFilter = iota + 1
	filterSelectedDelayed
	filterInboxes
	filterPersonal
	filterSubscribed
	filterSubtree
	filterMailboxes
)

// notifyEvents is a set of RFC 5465 events.
type notifyEvents uint8

// Events.
const (
	eventMessageNew notifyEvents = 1 << iota
	eventMessageExpunge
	eventFlagChange
	eventMailboxName
	eventSubscriptionChange
	eventMailboxMetadataChange
	eventServerMetadataChange
)

// messageEvents are the events of the messages in a mailbox.
const messageEvents = eventMessageNew | eventMessageExpunge | eventFlagChange

// supportedEvents returns the BADEVENT response code listing the events
// this server supports (RFC 5465): AnnotationChange needs ANNOTATE,
// which is not offered, and the metadata events METADATA (RFC 5464),
// offered when the store keeps metadata.
func (c *conn) supportedEvents() string {
	if c.hasMetadata() {
		return "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange)"
	}
	return "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"
}

// notifyGroup is one event group of NOTIFY SET.
type notifyGroup struct {
	filter notifyFilter
	names  []string // SUBTREE and MAILBOXES
	events notifyEvents
	// fetch holds the fetch attributes of MessageNew for the selected
	// mailbox, nil when none were given.
	fetch []fetchItem
}

// notifySet is what a NOTIFY SET asked for: session data, replaced by the
// next NOTIFY and dropped by NOTIFY NONE or an overflow.
type notifySet struct {
	groups []notifyGroup
}

// selectedGroup returns the group for the selected mailbox, if any.
func (s *notifySet) selectedGroup() *notifyGroup {
	for i := range s.groups {
		if f := s.groups[i].filter; f == filterSelected || f == filterSelectedDelayed {
			return &s.groups[i]
		}
	}
	return nil
}

// parseEventGroup reads one event group:
//
//	event-group = "(" filter-mailboxes SP events ")"
//	events      = ("(" event *(SP event) ")") / "NONE"
//
// unsupported is set when an event is valid but not supported here.
func (c *conn) parseEventGroup(a *imapwire.ArgReader) (g notifyGroup, unsupported bool, err error) {
	if err := a.Expect('('); err != nil {
		return g, false, err
	}
	kw, err := a.Keyword()
	if err != nil {
		return g, false, err
	}
	switch kw {
	case "SELECTED":
		g.filter = filterSelected
	case "SELECTED-DELAYED":
		g.filter = filterSelectedDelayed
	case "INBOXES":
		g.filter = filterInboxes
	case "PERSONAL":
		g.filter = filterPersonal
	case "SUBSCRIBED":
		g.filter = filterSubscribed
	case "SUBTREE", "MAILBOXES":
		g.filter = filterSubtree
		if kw == "MAILBOXES" {
			g.filter = filterMailboxes
		}
		if err := a.SP(); err != nil {
			return g, false, err
		}
		if ch, _ := a.Peek(); ch == '(' {
			err = a.List(func() error {
				name, err := c.mailboxArg(a)
				g.names = append(g.names, name)
				return err
			})
		} else {
			var name string
			name, err = c.mailboxArg(a)
			g.names = append(g.names, name)
		}
		if err != nil {
			return g, false, err
		}
		if len(g.names) == 0 {
			return g, false, errSyntax(kw + " needs at least one mailbox")
		}
	default:
		return g, false, errSyntax("Unknown mailbox filter " + kw)
	}
	if err := a.SP(); err != nil {
		return g, false, err
	}
	if ch, _ := a.Peek(); ch != '(' {
		kw, err := a.Keyword()
		if err != nil {
			return g, false, err
		}
		if kw != "NONE" {
			return g, false, errSyntax("Expected an event list or NONE")
		}
		return g, false, a.Expect(')')
	}
	err = a.List(func() error {
		name, err := a.Atom()
		if err != nil {
			return err
		}
		switch strings.ToLower(name) {
		case "messagenew":
			g.events |= eventMessageNew
			if a.PeekSP('(') {
				if err := a.SP(); err != nil {
					return err
				}
				err := a.List(func() error {
					its, err := parseFetchAtt(a, false)
					g.fetch = append(g.fetch, its...)
					return err
				})
				if err != nil {
					return err
				}
				if len(g.fetch) == 0 {
					return errSyntax("Empty MessageNew fetch attribute list")
				}
			}
		case "messageexpunge":
			g.events |= eventMessageExpunge
		case "flagchange":
			g.events |= eventFlagChange
		case "mailboxname":
			g.events |= eventMailboxName
		case "subscriptionchange":
			g.events |= eventSubscriptionChange
		case "mailboxmetadatachange", "servermetadatachange":
			if !c.hasMetadata() {
				unsupported = true
			} else if strings.EqualFold(name, "MailboxMetadataChange") {
				g.events |= eventMailboxMetadataChange
			} else {
				g.events |= eventServerMetadataChange
			}
		default:
			// AnnotationChange and extensions (event-ext).
			unsupported = true
		}
		return nil
	})
	if err != nil {
		return g, false, err
	}
	return g, unsupported, a.Expect(')')
}

// checkEventGroups enforces the rules of RFC 5465 on a whole set.
func checkEventGroups(set *notifySet) error {
	selected := 0
	for _, g := range set.groups {
		isSelected := g.filter == filterSelected || g.filter == filterSelectedDelayed
		if isSelected {
			if selected++; selected > 1 {
				return errSyntax("At most one of SELECTED and SELECTED-DELAYED")
			}
			if g.events&^messageEvents != 0 {
				return errSyntax("SELECTED and SELECTED-DELAYED take message events only")
			}
		} else if g.fetch != nil {
			return errSyntax("MessageNew fetch attributes apply to the selected mailbox only")
		}
		if (g.events&eventMessageNew == 0) != (g.events&eventMessageExpunge == 0) {
			return errSyntax("MessageNew and MessageExpunge go together")
		}
		if g.events&eventFlagChange != 0 && g.events&eventMessageNew == 0 {
			return errSyntax("FlagChange needs MessageNew and MessageExpunge")
		}
	}
	return nil
}

// matches reports whether the group's filter selects the mailbox name
// (never the selected mailbox, which only SELECTED and SELECTED-DELAYED
// select). subscribed reports whether a name is subscribed.
func (g *notifyGroup) matches(name string, subscribed func(string) bool) bool {
	switch g.filter {
	case filterPersonal:
		return true // the account has the personal namespace only
	case filterInboxes:
		return name == store.Inbox // delivery (LMTP) files into INBOX
	case filterSubscribed:
		return subscribed(name)
	case filterSubtree:
		for _, n := range g.names {
			if name == n || strings.HasPrefix(name, n+string(store.Separator)) {
				return true
			}
		}
	case filterMailboxes:
		for _, n := range g.names {
			if name == n {
				return true
			}
		}
	}
	return false
}
