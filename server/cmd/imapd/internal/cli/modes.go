package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/imapfsm/imapfsm/fsm"
)

// modeFlags are --strictness and --quirk, which serve and replay share.
type modeFlags struct {
	cmd        string
	strictness string
	quirks     map[fsm.Quirk]fsm.Mode
}

func (m *modeFlags) register(fs *flag.FlagSet) {
	m.cmd = fs.Name()
	m.quirks = map[fsm.Quirk]fsm.Mode{}
	fs.StringVar(&m.strictness, "strictness", "lenient", "handling of client quirks: lenient (accommodate) or strict (follow the RFCs)")
	fs.Func("quirk", "override one quirk, ID=strict or ID=lenient (repeatable; IDs listed above)", func(v string) error {
		id, mode, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("want ID=strict or ID=lenient, got %q", v)
		}
		q, ok := fsm.ParseQuirk(id)
		if !ok {
			return fmt.Errorf("unknown quirk %q (see imapd serve --help)", id)
		}
		md, ok := fsm.ParseMode(mode)
		if !ok {
			return fmt.Errorf("quirk %s: mode %q is not strict or lenient", id, mode)
		}
		m.quirks[q] = md
		return nil
	})
}

// modes returns the modes the flags select.
func (m *modeFlags) modes() (fsm.Modes, error) {
	global, ok := fsm.ParseMode(m.strictness)
	if !ok {
		return fsm.Modes{}, usageErr("%s: --strictness: %q is not lenient or strict", m.cmd, m.strictness)
	}
	modes := fsm.NewModes(global)
	for q, md := range m.quirks {
		modes = modes.With(q, md)
	}
	return modes, nil
}
