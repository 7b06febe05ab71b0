package issuer

// The roll from the member registry.
//
// An organisation keeps its members in a CRM (Odoo and the like) and
// exports them as a spreadsheet-style CSV: member id, name, e-mail, phone,
// enrolment date and more. [ReadRegistry] turns such an export into the two
// things the election needs and nothing else:
//
//   - the roll the issuer serves ([Registry.Roll]): "voter_id,enrolment_code"
//     with a fresh code for every eligible member, the file [ImportRoll]
//     reads (evote issuer serve --roll);
//   - the contacts the invitation mailer needs ([Registry.Contacts]):
//     "voter_id,email,phone,lang", joined to the roll by voter_id.
//
// Names, enrolment dates and every other column are dropped as the file is
// read: authentication needs none of them, and what is never copied need
// not be erased later.
//
// An import is all or nothing. Every line is checked and every problem
// collected (line number and reason); if there is any, ReadRegistry returns
// a [*RegistryError] listing them all and no roll, so an export is fixed
// once in the CRM and imported again, never half-imported.
//
// Voter IDs are normalised by [NormalizeVoterID], so that the two spellings
// a CRM, a spreadsheet or a person typing produce ("ABC１２３" with
// full-width digits, a zero-width space pasted from a web page, "abc123")
// are one voter, and two lines that normalise alike are refused as a
// duplicate rather than given two codes.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

var (
	// ErrRegistryProblems means lines of a registry export are broken or
	// duplicated; the [*RegistryError] wrapping it lists them, and nothing
	// was imported.
	ErrRegistryProblems = errors.New("issuer: the registry export has problems; fix them in the export (or the CRM) and import again, nothing was imported")
	// ErrAmbiguousSeparator means the header line holds both commas and
	// semicolons, so the separator cannot be told from it.
	ErrAmbiguousSeparator = errors.New("issuer: the registry header holds both ',' and ';'")
	// ErrRegistryColumn means the mapping names a column the export does
	// not have, or one it has twice.
	ErrRegistryColumn = errors.New("issuer: registry column")
)

// RegistryMapping says which columns of a registry export hold what, and
// who is eligible. Column names are matched against the header after
// trimming spaces and case folding (so "E-Mail " is "e-mail").
type RegistryMapping struct {
	// ID is the column of the member id, which becomes the voter ID
	// (required).
	ID string
	// Email, Phone and Lang are the contact columns copied to the contacts
	// file; each may be empty (no such column: the field is left empty).
	Email, Phone, Lang string
	// Enrolled is the column of the enrolment date: 2006-01-02,
	// 02/01/2006 or 02.01.2006 (day first, as Italian exports write it;
	// one-digit days and months too), optionally followed by a time
	// ("2006-01-02 15:04:05", as Odoo writes a datetime), which is ignored.
	// Required when EnrolledBy is set.
	Enrolled string
	// EnrolledBy is the eligibility cut-off: a member enrolled on this
	// day or earlier is eligible, one enrolled later is not (counted, not
	// refused). Zero: every member is eligible.
	EnrolledBy time.Time
	// Separator is ',' or ';'; 0 detects it from the header line.
	Separator rune
}

// RegistryVoter is one eligible member as the import keeps them: the voter
// ID and the contacts an invitation needs, nothing else.
type RegistryVoter struct {
	ID, Email, Phone, Lang string
}

// RegistryCounts are an import's counts. Lines = Eligible + NotEligible +
// Refused + Blank.
type RegistryCounts struct {
	// Lines is the number of lines read after the header.
	Lines int `json:"lines"`
	// Eligible members are on the roll.
	Eligible int `json:"eligible"`
	// NotEligible members were enrolled after the cut-off.
	NotEligible int `json:"not_eligible"`
	// Refused lines are broken or duplicated (each is in the problems).
	Refused int `json:"refused"`
	// Blank lines (every field empty, as spreadsheets leave at the end)
	// are skipped.
	Blank int `json:"blank"`
	// NoContact counts eligible voters with neither e-mail nor phone: the
	// mailer cannot invite them, so they need their code some other way.
	NoContact int `json:"no_contact"`
}

// RegistryProblem is one broken line of a registry export.
type RegistryProblem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

func (p RegistryProblem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// RegistryError lists every problem of a refused registry export. It
// wraps [ErrRegistryProblems].
type RegistryError struct {
	Problems []RegistryProblem
	Counts   RegistryCounts
}

func (e *RegistryError) Error() string {
	const shown = 10
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d problem", ErrRegistryProblems, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for i, p := range e.Problems {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-shown)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *RegistryError) Unwrap() error { return ErrRegistryProblems }

// Registry is a registry export read and checked: the eligible voters in
// the order of the export, and the counts.
type Registry struct {
	Voters []RegistryVoter
	Counts RegistryCounts
}

// NormalizeVoterID returns the one spelling of a voter ID that the roll
// keeps and every tool compares: the Unicode Default_Ignorable code points
// (the format characters, Cf, among them: zero-width spaces and joiners,
// the byte-order mark, soft hyphens; and variation selectors) removed,
// then NFKC, full case folding (Unicode's, not a language's), NFKC again,
// and surrounding white space trimmed: Unicode's NFKC_Casefold, then a
// trim. The result must pass [CheckVoterID]. NormalizeVoterID of its own
// result returns it unchanged.
func NormalizeVoterID(id string) (string, error) {
	if !utf8.ValidString(id) {
		return "", errors.New("issuer: voter ID is not valid UTF-8")
	}
	s := norm.NFKC.String(stripIgnorable(id))
	s = norm.NFKC.String(cases.Fold().String(s))
	s = strings.TrimFunc(stripIgnorable(s), unicode.IsSpace)
	if err := CheckVoterID(s); err != nil {
		return "", err
	}
	return s, nil
}

// ignorable reports whether r is a Default_Ignorable_Code_Point
// (Unicode's DerivedCoreProperties: Other_Default_Ignorable_Code_Point, Cf
// and Variation_Selector, less White_Space, U+FFF9..U+FFFB, U+13430..U+1343F
// and the Prepended_Concatenation_Mark characters), with all of Cf taken:
// no format character belongs in an identifier.
func ignorable(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) &&
		!unicode.Is(unicode.White_Space, r)
}

func stripIgnorable(s string) string {
	if strings.IndexFunc(s, ignorable) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if ignorable(r) {
			return -1
		}
		return r
	}, s)
}

// cleanField is a field with invisible characters removed, NFKC applied
// (full-width digits and letters become ASCII, a no-break space a space)
// and surrounding spaces trimmed.
func cleanField(s string) string {
	return strings.TrimFunc(norm.NFKC.String(stripIgnorable(s)), unicode.IsSpace)
}

// headerKey is how a header name and a mapped column name are compared.
func headerKey(s string) string {
	return cases.Fold().String(cleanField(strings.TrimPrefix(s, "\ufeff")))
}

// ParseEnrolmentDate parses a date as registry exports write it (see
// [RegistryMapping.Enrolled]).
func ParseEnrolmentDate(s string) (time.Time, error) {
	s = cleanField(s)
	day := s
	if i := strings.IndexAny(s, " T"); i > 0 {
		day = s[:i]
		if _, err := time.Parse("15:04:05", s[i+1:]); err != nil {
			if _, err := time.Parse("15:04", s[i+1:]); err != nil {
				return time.Time{}, fmt.Errorf("issuer: date %q: the time after the day is not hh:mm or hh:mm:ss", s)
			}
		}
	}
	for _, layout := range []string{"2006-01-02", "2/1/2006", "2.1.2006"} {
		if t, err := time.Parse(layout, day); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("issuer: date %q is not a date: write 2006-01-02, 02/01/2006 or 02.01.2006 (day before month, four-digit year)", s)
}

// checkEmail returns an e-mail address cleaned (invisible characters
// removed, trimmed, the domain in lower case) or why it is not one: a bare
// address (no display name, no angle brackets) whose domain has a dot.
func checkEmail(s string) (string, error) {
	s = cleanField(s)
	a, err := mail.ParseAddress(s)
	at := strings.LastIndexByte(s, '@')
	if err != nil || a.Name != "" || a.Address != s || at < 1 || len(s) > 254 ||
		!strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") || strings.ContainsAny(s, " \t") {
		return "", fmt.Errorf("e-mail %q is not an address such as name@example.org", s)
	}
	for _, r := range s {
		if r >= utf8.RuneSelf {
			// The senders speak SMTP without SMTPUTF8: such a voter
			// would get no invitation and no one-time code.
			return "", fmt.Errorf("e-mail %q has characters outside ASCII, which evote's mailer cannot send to; give its ASCII form (a domain such as città.it as xn--citt-6na.it), or leave it empty", s)
		}
	}
	return s[:at+1] + strings.ToLower(s[at+1:]), nil
}

// checkPhone returns a phone number as digits with an optional leading
// "+" ("00" becomes "+"), spaces, dots, dashes, slashes and parentheses
// removed, or why it is not one.
func checkPhone(s string) (string, error) {
	orig := cleanField(s)
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '/', '(', ')':
			return -1
		}
		return r
	}, orig)
	if strings.HasPrefix(p, "00") {
		p = "+" + p[2:]
	}
	digits := strings.TrimPrefix(p, "+")
	if len(digits) < 6 || len(digits) > 15 || strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return "", fmt.Errorf("phone %q is not a phone number (6 to 15 digits, optionally after + or 00)", orig)
	}
	return p, nil
}

// checkLang returns a language as a lower-case ISO 639 code ("it_IT",
// "it-IT", "IT" and "Italiano" are "it") or why it is not one.
func checkLang(s string) (string, error) {
	orig := cleanField(s)
	l := strings.ToLower(orig)
	switch l {
	case "italiano", "italian", "italian / italiano":
		return "it", nil
	case "english", "inglese", "english (us)", "english (uk)":
		return "en", nil
	}
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	if len(l) < 2 || len(l) > 3 || strings.IndexFunc(l, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
		return "", fmt.Errorf("language %q is not a language code such as it or en", orig)
	}
	return l, nil
}

// detectSeparator reads the header line (up to the first line feed outside
// quotes) and returns ',' or ';', whichever it holds outside quotes.
func detectSeparator(head []byte) (rune, error) {
	commas, semis, quoted := 0, 0, false
scan:
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n':
			break scan
		case c == ',':
			commas++
		case c == ';':
			semis++
		}
	}
	switch {
	case commas > 0 && semis > 0:
		return 0, fmt.Errorf("%w (%d and %d): give the separator, ',' or ';' (evote issuer import --separator)", ErrAmbiguousSeparator, commas, semis)
	case semis > 0:
		return ';', nil
	}
	return ',', nil
}

// ReadRegistry reads a member registry export (CSV, UTF-8 with or without a
// byte-order mark, ',' or ';' separated, a header line naming the columns)
// and returns the eligible voters. Each line must have as many fields as
// the header, a member id that normalises ([NormalizeVoterID]) to one no
// other line has, a valid e-mail address, phone and language where those
// columns are mapped and the field is not empty, and a valid enrolment date
// where that column is mapped (and a date at all when m.EnrolledBy is set).
// Any problem on any line refuses the whole export with a [*RegistryError]
// listing every one; a header without a mapped column, or one whose
// separator cannot be told, is refused with [ErrRegistryColumn] or
// [ErrAmbiguousSeparator].
func ReadRegistry(r io.Reader, m RegistryMapping) (*Registry, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		br.Discard(3)
	}
	sep := m.Separator
	switch sep {
	case 0:
		head, _ := br.Peek(64 << 10)
		if len(head) == 0 {
			return nil, errors.New("issuer: the registry export is empty: it needs a header line naming its columns")
		}
		var err error
		if sep, err = detectSeparator(head); err != nil {
			return nil, err
		}
	case ',', ';':
	default:
		return nil, fmt.Errorf("issuer: registry separator %q: use ',' or ';'", sep)
	}
	if m.ID == "" {
		return nil, fmt.Errorf("%w: no member id column given", ErrRegistryColumn)
	}
	if !m.EnrolledBy.IsZero() && m.Enrolled == "" {
		return nil, fmt.Errorf("%w: a cut-off date needs the enrolment date column", ErrRegistryColumn)
	}

	cr := csv.NewReader(br)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("issuer: the registry export is empty: it needs a header line naming its columns")
	}
	if err != nil {
		return nil, fmt.Errorf("issuer: registry header: %w", err)
	}
	if !utf8.ValidString(strings.Join(head, "")) {
		return nil, errors.New("issuer: registry header: not UTF-8; export the file as UTF-8 (in LibreOffice: Character set \"Unicode (UTF-8)\")")
	}
	nfields := len(head)
	cols := make(map[string][]int)
	var names []string
	for i, h := range head {
		k := headerKey(h)
		cols[k] = append(cols[k], i)
		names = append(names, strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	}
	col := func(what, name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		switch idx := cols[headerKey(name)]; len(idx) {
		case 0:
			return 0, fmt.Errorf("%w: the export has no %s column %q; its columns are %q (separator %q)", ErrRegistryColumn, what, name, names, sep)
		case 1:
			return idx[0], nil
		default:
			return 0, fmt.Errorf("%w: the export has %d columns named %q (%s); rename one in the export", ErrRegistryColumn, len(idx), name, what)
		}
	}
	var idCol, emailCol, phoneCol, langCol, dateCol int
	for _, c := range []struct {
		dst        *int
		what, name string
	}{{&idCol, "member id", m.ID}, {&emailCol, "e-mail", m.Email}, {&phoneCol, "phone", m.Phone}, {&langCol, "language", m.Lang}, {&dateCol, "enrolment date", m.Enrolled}} {
		if *c.dst, err = col(c.what, c.name); err != nil {
			return nil, err
		}
	}

	reg := &Registry{}
	var problems []RegistryProblem
	seen := make(map[string]int) // normalised ID -> line
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("issuer: reading the registry export: %w", err)
			}
			line := pe.StartLine
			err = pe.Err
			reg.Counts.Lines++
			reg.Counts.Refused++
			problems = append(problems, RegistryProblem{line, fmt.Sprintf("%v; the lines after it were not read, as where one field ends cannot be told", err)})
			break
		}
		line, _ := cr.FieldPos(0)
		reg.Counts.Lines++
		var why []string
		bad := func(format string, a ...any) { why = append(why, fmt.Sprintf(format, a...)) }
		blank := true
		for _, f := range rec {
			if !utf8.ValidString(f) {
				bad("not UTF-8; export the file as UTF-8")
				break
			}
			if cleanField(f) != "" {
				blank = false
			}
		}
		if len(why) == 0 && blank {
			reg.Counts.Blank++
			continue
		}
		if len(why) == 0 && len(rec) != nfields {
			bad("%d fields, the header has %d", len(rec), nfields)
		}
		if len(why) > 0 {
			reg.Counts.Refused++
			problems = append(problems, RegistryProblem{line, strings.Join(why, "; ")})
			continue
		}
		var v RegistryVoter
		if raw := rec[idCol]; cleanField(raw) == "" {
			bad("the member id is empty")
		} else if id, err := NormalizeVoterID(raw); err != nil {
			bad("member id %q: %s", raw, strings.TrimPrefix(err.Error(), "issuer: "))
		} else if prev, dup := seen[id]; dup {
			bad("member %q is also on line %d (the same voter ID %q once normalised)", raw, prev, id)
		} else {
			seen[id] = line
			v.ID = id
		}
		if emailCol >= 0 && cleanField(rec[emailCol]) != "" {
			if v.Email, err = checkEmail(rec[emailCol]); err != nil {
				bad("%v", err)
			}
		}
		if phoneCol >= 0 && cleanField(rec[phoneCol]) != "" {
			if v.Phone, err = checkPhone(rec[phoneCol]); err != nil {
				bad("%v", err)
			}
		}
		if langCol >= 0 && cleanField(rec[langCol]) != "" {
			if v.Lang, err = checkLang(rec[langCol]); err != nil {
				bad("%v", err)
			}
		}
		eligible := true
		if dateCol >= 0 {
			switch d := cleanField(rec[dateCol]); {
			case d == "" && !m.EnrolledBy.IsZero():
				bad("the enrolment date is empty, so eligibility cannot be decided")
			case d == "":
			default:
				t, err := ParseEnrolmentDate(d)
				if err != nil {
					bad("%s", strings.TrimPrefix(err.Error(), "issuer: "))
				} else if !m.EnrolledBy.IsZero() && afterDay(t, m.EnrolledBy) {
					eligible = false
				}
			}
		}
		switch {
		case len(why) > 0:
			reg.Counts.Refused++
			problems = append(problems, RegistryProblem{line, strings.Join(why, "; ")})
		case !eligible:
			reg.Counts.NotEligible++
		default:
			reg.Counts.Eligible++
			if v.Email == "" && v.Phone == "" {
				reg.Counts.NoContact++
			}
			reg.Voters = append(reg.Voters, v)
		}
	}
	if len(problems) > 0 {
		return nil, &RegistryError{Problems: problems, Counts: reg.Counts}
	}
	return reg, nil
}

// afterDay reports whether the civil day of t is after that of cut.
func afterDay(t, cut time.Time) bool {
	ty, tm, td := t.Date()
	cy, cm, cd := cut.Date()
	return ty > cy || ty == cy && (tm > cm || tm == cm && td > cd)
}

// Roll returns the roll of the eligible voters, "voter_id,enrolment_code"
// with a fresh code ([GenerateCode]) for each, as [ImportRoll] reads it.
// Each call makes new codes. It holds plaintext codes: keep it secret
// (mode 0600), and delete it once the invitations are sent.
func (r *Registry) Roll() ([]byte, error) {
	return r.write(rollHeader, func(v RegistryVoter) ([]string, error) {
		code, err := GenerateCode()
		return []string{v.ID, code}, err
	})
}

// ContactsHeader is the header of the contacts file [Registry.Contacts]
// writes.
var ContactsHeader = []string{"voter_id", "email", "phone", "lang"}

// Contacts returns the eligible voters' contacts, "voter_id,email,phone,lang"
// (empty fields where the export had none), for the invitation mailer,
// which joins it to the roll by voter_id. It is identity data: keep it
// secret (mode 0600) and delete it with the roll after the election.
func (r *Registry) Contacts() ([]byte, error) {
	return r.write(ContactsHeader, func(v RegistryVoter) ([]string, error) {
		return []string{v.ID, v.Email, v.Phone, v.Lang}, nil
	})
}

func (r *Registry) write(head []string, row func(RegistryVoter) ([]string, error)) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(head)
	for _, v := range r.Voters {
		rec, err := row(v)
		if err != nil {
			return nil, err
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
