package invite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/evote/evote/internal/durable"
)

// ErrState means the state file is malformed or of another election.
var ErrState = errors.New("invite: bad state file")

// stateFlushEvery is how many sends go between writes of the state file.
const stateFlushEvery = 50

// A Delivery is what the state file keeps of one voter.
type Delivery struct {
	Sends int       `json:"sends"`
	Last  time.Time `json:"last"`
}

type stateFile struct {
	Version    int                  `json:"version"`
	ElectionID string               `json:"election_id"`
	Voters     map[string]*Delivery `json:"voters"`
}

// A State records, per voter, the invitations the server accepted.
type State struct {
	path  string
	f     stateFile
	dirty int
}

// OpenState reads the state file at path, or starts an empty one if there
// is none; path "" keeps the state in memory only. A state file of another
// election is refused.
func OpenState(path, electionID string) (*State, error) {
	s := &State{path: path, f: stateFile{Version: 1, ElectionID: electionID, Voters: map[string]*Delivery{}}}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("invite: %w", err)
	}
	var f stateFile
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil || d.More() {
		return nil, fmt.Errorf("%w: %s: not an invitation state file (%v)", ErrState, path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%w: %s is version %d, want 1", ErrState, path, f.Version)
	}
	if f.ElectionID != electionID {
		return nil, fmt.Errorf("%w: %s is of election %s, not %s: give each election its own --state", ErrState, path, f.ElectionID, electionID)
	}
	if f.Voters == nil {
		f.Voters = map[string]*Delivery{}
	}
	for _, v := range f.Voters {
		if v == nil || v.Sends < 1 {
			return nil, fmt.Errorf("%w: %s holds a voter with no sends", ErrState, path)
		}
	}
	s.f = f
	return s, nil
}

// Get returns what the state knows of voter id.
func (s *State) Get(id string) (Delivery, bool) {
	d, ok := s.f.Voters[id]
	if !ok {
		return Delivery{}, false
	}
	return *d, true
}

// record counts one send to id at t, writing the file every
// stateFlushEvery records.
func (s *State) record(id string, t time.Time) error {
	d := s.f.Voters[id]
	if d == nil {
		d = &Delivery{}
		s.f.Voters[id] = d
	}
	d.Sends++
	d.Last = t.UTC()
	s.dirty++
	if s.dirty >= stateFlushEvery {
		return s.Flush()
	}
	return nil
}

// Flush writes the state file (0600) if anything changed.
func (s *State) Flush() error {
	if s.path == "" || s.dirty == 0 {
		return nil
	}
	b, err := json.Marshal(s.f)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(s.path, append(b, '\n'), true); err != nil {
		return fmt.Errorf("invite: writing the state %s: %w", s.path, err)
	}
	s.dirty = 0
	return nil
}
