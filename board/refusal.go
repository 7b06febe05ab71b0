package board

// A refusal is the error of a request the board refuses: kind is the
// sentinel its API answers for (a status and a code, see http.go), reason
// what the board tells the client about it, in its own words and from
// public facts only, and err, if any, the inner error: for the board's log
// and its Go callers, never for the client, since it names layers and
// values no client has business with.
type refusal struct {
	kind   error
	reason string
	err    error
}

// refuse returns a refusal of kind for reason, with the inner error err
// (nil for none).
func refuse(kind error, reason string, err error) error {
	return &refusal{kind: kind, reason: reason, err: err}
}

func (r *refusal) Error() string {
	s := r.kind.Error() + ": " + r.reason
	if r.err != nil {
		s += ": " + r.err.Error()
	}
	return s
}

func (r *refusal) Unwrap() error { return r.kind }
