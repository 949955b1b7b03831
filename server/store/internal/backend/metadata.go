package backend

import (
	"sort"

	"github.com/imapfsm/imapfsm/server/store"
)

// FinalMetadata folds a SETMETADATA's changes into the value each entry
// name ends with (the last change of a name wins; a nil value removes the
// entry) and returns the names in sorted order, the order both stores
// write them in.
func FinalMetadata(changes []store.MetadataEntry) (final map[string][]byte, names []string) {
	final = make(map[string][]byte, len(changes))
	for _, c := range changes {
		if _, seen := final[c.Name]; !seen {
			names = append(names, c.Name)
		}
		final[c.Name] = c.Value
	}
	sort.Strings(names)
	return final, names
}
