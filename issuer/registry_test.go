package issuer

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// itMapping maps the Italian test exports (testdata/registry, written as
// LibreOffice saves a CRM export in an Italian locale: a byte-order mark,
// ';', day-first dates) with the column names spelt as a user might type
// them.
func itMapping() RegistryMapping {
	return RegistryMapping{ID: "id", Email: "e-mail", Phone: "TELEFONO", Lang: " lingua", Enrolled: "Data Iscrizione",
		EnrolledBy: time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/registry/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadRegistryItalianExport reads an export with a byte-order mark,
// semicolons, CRLF line ends, accented names (Niccolò, D'Amico, Çelik,
// Zoë), a quoted ';' in a note, every date format, a trailing blank line,
// and a member enrolled after the cut-off.
func TestReadRegistryItalianExport(t *testing.T) {
	reg, err := ReadRegistry(bytes.NewReader(readTestdata(t, "members_it.csv")), itMapping())
	if err != nil {
		t.Fatal(err)
	}
	want := []RegistryVoter{
		{ID: "1001", Email: "socio1001@example.it", Phone: "+393331234567", Lang: "it"},
		{ID: "1002", Email: "Socio1002@example.it", Phone: "+39061234567", Lang: "it"},
		{ID: "1003", Email: "s1003@example.com", Lang: "en"},
		{ID: "ab-1004", Email: "socio.ab1004@example.it", Lang: "it"}, // enrolled on the cut-off day itself
		{ID: "1006"},
	}
	if !reflect.DeepEqual(reg.Voters, want) {
		t.Errorf("voters\n got %+v\nwant %+v", reg.Voters, want)
	}
	wantCounts := RegistryCounts{Lines: 7, Eligible: 5, NotEligible: 1, Blank: 1, NoContact: 1}
	if reg.Counts != wantCounts {
		t.Errorf("counts %+v, want %+v", reg.Counts, wantCounts)
	}
}

// TestReadRegistryNoCutoff: without a cut-off every member is eligible.
func TestReadRegistryNoCutoff(t *testing.T) {
	m := itMapping()
	m.EnrolledBy = time.Time{}
	reg, err := ReadRegistry(bytes.NewReader(readTestdata(t, "members_it.csv")), m)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Counts.Eligible != 6 || reg.Counts.NotEligible != 0 {
		t.Errorf("counts %+v, want 6 eligible", reg.Counts)
	}
}

// TestAttackRegistryDuplicateSpellings: one member is in the export twice,
// the second time as "ab-１００４" with full-width digits, a zero-width
// space after it and in lower case — two codes, two votes, if the roll
// took the spellings for two voters. Both lines are named, and every
// other broken line is reported in the same error (too few fields, an
// empty id, a month 13, an address without @), and no roll is returned.
func TestAttackRegistryDuplicateSpellings(t *testing.T) {
	reg, err := ReadRegistry(bytes.NewReader(readTestdata(t, "members_broken.csv")), itMapping())
	if reg != nil {
		t.Fatalf("a broken export gave a registry of %d voters", len(reg.Voters))
	}
	var re *RegistryError
	if !errors.As(err, &re) || !errors.Is(err, ErrRegistryProblems) {
		t.Fatalf("err = %v, want a *RegistryError", err)
	}
	want := []struct {
		line int
		has  []string
	}{
		{4, []string{"also on line 3", `"ab-1004"`}},
		{5, []string{"3 fields, the header has 7"}},
		{6, []string{"member id is empty"}},
		{7, []string{"2020-13-45", "not a date"}},
		{8, []string{"non-un-indirizzo", "not an address"}},
	}
	if len(re.Problems) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(re.Problems), len(want), err)
	}
	for i, w := range want {
		p := re.Problems[i]
		if p.Line != w.line {
			t.Errorf("problem %d on line %d, want %d: %s", i, p.Line, w.line, p.Reason)
		}
		for _, s := range w.has {
			if !strings.Contains(p.Reason, s) {
				t.Errorf("line %d: %q does not say %q", p.Line, p.Reason, s)
			}
		}
	}
	wantCounts := RegistryCounts{Lines: 8, Eligible: 3, Refused: 5}
	if re.Counts != wantCounts {
		t.Errorf("counts %+v, want %+v", re.Counts, wantCounts)
	}
	for _, s := range []string{"line 4:", "line 8:", "nothing was imported"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q: %v", s, err)
		}
	}
}

// TestRegistryRollImports: the roll written from an export imports into
// the issuer's roll (ImportRoll), and each voter's code in it is the one
// the roll accepts, another voter's code not.
func TestRegistryRollImports(t *testing.T) {
	reg, err := ReadRegistry(bytes.NewReader(readTestdata(t, "members_it.csv")), itMapping())
	if err != nil {
		t.Fatal(err)
	}
	roll, err := reg.Roll()
	if err != nil {
		t.Fatal(err)
	}
	mr := NewMemRoll()
	ctx := context.Background()
	n, err := ImportRoll(ctx, mr, bytes.NewReader(roll))
	if err != nil || n != len(reg.Voters) {
		t.Fatalf("ImportRoll = %d, %v; want %d voters", n, err, len(reg.Voters))
	}
	recs, err := csv.NewReader(bytes.NewReader(roll)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs[1:] {
		e, err := mr.Get(ctx, rec[0])
		if err != nil {
			t.Fatalf("%s: %v", rec[0], err)
		}
		if !e.Code.Verify(rec[1]) {
			t.Errorf("%s: its code does not verify", rec[0])
		}
		other := recs[1+(i+1)%(len(recs)-1)][1]
		if e.Code.Verify(other) {
			t.Errorf("%s: another voter's code verifies", rec[0])
		}
	}
	contacts, err := reg.Contacts()
	if err != nil {
		t.Fatal(err)
	}
	crecs, err := csv.NewReader(bytes.NewReader(contacts)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(crecs[0], ContactsHeader) || len(crecs) != len(recs) {
		t.Fatalf("contacts: header %q and %d lines, want %q and %d", crecs[0], len(crecs), ContactsHeader, len(recs))
	}
	for i := range recs {
		if i > 0 && crecs[i][0] != recs[i][0] {
			t.Errorf("contacts line %d is voter %q, the roll's %q", i+1, crecs[i][0], recs[i][0])
		}
	}
	again, _ := reg.Roll()
	if bytes.Equal(again, roll) {
		t.Error("two rolls from one registry have the same codes")
	}
}

// TestRegistryOutputsHoldNoIdentity: no name, surname, note or enrolment
// date of the export is in the roll or the contacts file, in any of the
// spellings the export has. (The test export's addresses hold no names;
// a real address often does, and is kept because invitations need it.)
func TestRegistryOutputsHoldNoIdentity(t *testing.T) {
	reg, err := ReadRegistry(bytes.NewReader(readTestdata(t, "members_it.csv")), itMapping())
	if err != nil {
		t.Fatal(err)
	}
	roll, _ := reg.Roll()
	contacts, _ := reg.Contacts()
	for _, s := range []string{"Niccolò", "Niccol", "Rossi", "Maria", "D'Amico", "Amico", "Ayşe", "Çelik", "Celik", "Giulia", "Bianchi",
		"Luca", "Verdi", "Zoë", "Ferrari", "fondatrice", "consegna", "15/03/2019", "2019", "2020-01-31", "2020", "2021", "31/12/2024", "2024", "10:30", "2018"} {
		for name, b := range map[string][]byte{"roll": roll, "contacts": contacts} {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(s))) {
				t.Errorf("the %s holds %q:\n%s", name, s, b)
			}
		}
	}
}

func TestNormalizeVoterID(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"AB-1004", "ab-1004"},
		{"ab-\uff11\uff10\uff10\uff14", "ab-1004"}, // full-width digits
		{"AB-\u200b1004\u200b", "ab-1004"},         // zero-width spaces
		{"\ufeffAB-1004", "ab-1004"},               // a byte-order mark
		{"\u00a0 AB-1004\u2003", "ab-1004"},        // no-break and em spaces
		{"AB\u00ad-1004", "ab-1004"},               // a soft hyphen
		{"ＡＢ－１００４", "ab-1004"},                     // all full width
		{"Straße", "strasse"},                      // full case folding
		{"Niccolo\u0300", "niccolò"},               // composed: NFKC
		{"NICCOLÒ", "niccolò"},                     // case folded, composed
		{"ǅ", "dž"},                                // title-case digraph
		{"ﬁ-2", "fi-2"},                            // a ligature
		{"Çelik\u2060", "çelik"},                   // a word joiner
		{"m\u200d1", "m1"},                         // a zero-width joiner
		{"a\ufe0fb", "ab"},                         // a variation selector
		{"inner space", "inner space"},             // kept
		{"\u2460", "1"},                            // a circled digit
		{"K\u212a", "kk"},                          // the Kelvin sign
		{"x\u034f1", "x1"},                         // a combining grapheme joiner
		{"Σ-ΑΣ", "σ-ασ"},                           // fold, not lower: no final sigma
		{"İ1", "i\u03071"},                         // Unicode's fold, not Turkish
		{strings.Repeat("a", MaxVoterIDLen), strings.Repeat("a", MaxVoterIDLen)},
	} {
		got, err := NormalizeVoterID(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeVoterID(%+q) = %+q, %v; want %+q", c.in, got, err, c.want)
			continue
		}
		if again, err := NormalizeVoterID(got); err != nil || again != got {
			t.Errorf("NormalizeVoterID(%+q) = %+q, %v: not a fixed point", got, again, err)
		}
	}
	for _, in := range []string{"", " ", "\u200b", "\ufeff \u00a0", "a\tb", "a\x00", "\xff", strings.Repeat("a", MaxVoterIDLen+1), strings.Repeat("\uff41", MaxVoterIDLen+1)} {
		if got, err := NormalizeVoterID(in); err == nil {
			t.Errorf("NormalizeVoterID(%+q) = %+q, want an error", in, got)
		}
	}
}

func TestParseEnrolmentDate(t *testing.T) {
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{"2024-03-05", "05/03/2024", "5/3/2024", "05.03.2024", "5.3.2024", "2024-03-05 10:30:00", "2024-03-05T10:30:00", "05/03/2024 10:30", " 05/03/2024\u00a0", "２０２４-０３-０５"} {
		if got, err := ParseEnrolmentDate(s); err != nil || !got.Equal(day) {
			t.Errorf("ParseEnrolmentDate(%q) = %v, %v; want %v", s, got, err, day)
		}
	}
	for _, s := range []string{"", "03/05/24", "2024-3-5x", "2024/03/05", "31/02/2024", "13.13.2024", "05-03-2024", "2024-03-05 25:00", "5 marzo 2024", "45356"} {
		if got, err := ParseEnrolmentDate(s); err == nil {
			t.Errorf("ParseEnrolmentDate(%q) = %v, want an error", s, got)
		}
	}
}

// TestReadRegistrySeparator: the separator is told from the header, ','
// or ';' outside quotes; a header with both is refused naming the flag;
// an explicit separator reads it.
func TestReadRegistrySeparator(t *testing.T) {
	m := RegistryMapping{ID: "id", Email: "email"}
	for _, in := range []string{
		"id,email\n1,a@example.org\n",
		"id;email\n1;a@example.org\n",
		"\"id\";\"email\"\r\n\"1\";\"a@example.org\"\r\n",
		"\"nome, cognome\";id;email\nRossi, Mario;1;a@example.org\n",
	} {
		reg, err := ReadRegistry(strings.NewReader(in), m)
		if err != nil || len(reg.Voters) != 1 || reg.Voters[0] != (RegistryVoter{ID: "1", Email: "a@example.org"}) {
			t.Errorf("%q: %+v, %v", in, reg, err)
		}
	}
	amb := "id;email,phone\n1;a@example.org,\n"
	if _, err := ReadRegistry(strings.NewReader(amb), m); !errors.Is(err, ErrAmbiguousSeparator) || !strings.Contains(err.Error(), "--separator") {
		t.Errorf("ambiguous header: %v", err)
	}
	m.Separator = ';'
	if reg, err := ReadRegistry(strings.NewReader(amb), RegistryMapping{ID: "id", Separator: ';'}); err != nil || reg.Voters[0].ID != "1" {
		t.Errorf("ambiguous header with ';' given: %+v, %v", reg, err)
	}
	if _, err := ReadRegistry(strings.NewReader(amb), RegistryMapping{ID: "id", Separator: '\t'}); err == nil {
		t.Error("a tab separator was accepted")
	}
}

// TestReadRegistryRefusals: what is refused before any line is read.
func TestReadRegistryRefusals(t *testing.T) {
	for _, c := range []struct {
		in   string
		m    RegistryMapping
		want error
		has  string
	}{
		{"", RegistryMapping{ID: "id"}, nil, "empty"},
		{"\ufeff", RegistryMapping{ID: "id"}, nil, "empty"},
		{"id,email\n", RegistryMapping{}, ErrRegistryColumn, "no member id column"},
		{"id,email\n", RegistryMapping{ID: "codice"}, ErrRegistryColumn, `["id" "email"]`},
		{"id,email\n", RegistryMapping{ID: "id", Phone: "telefono"}, ErrRegistryColumn, "phone column"},
		{"id,ID \n", RegistryMapping{ID: "id"}, ErrRegistryColumn, "2 columns"},
		{"id,date\n", RegistryMapping{ID: "id", EnrolledBy: time.Now()}, ErrRegistryColumn, "enrolment date column"},
		{"id,n\xe0me\n", RegistryMapping{ID: "id"}, nil, "UTF-8"},
	} {
		_, err := ReadRegistry(strings.NewReader(c.in), c.m)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.has) {
			t.Errorf("%q %+v: %v, want %v saying %q", c.in, c.m, err, c.want, c.has)
		}
	}
}

// TestReadRegistryLineProblems: each kind of broken line, alone, is
// refused with its line and reason.
func TestReadRegistryLineProblems(t *testing.T) {
	m := RegistryMapping{ID: "id", Email: "email", Phone: "phone", Lang: "lang", Enrolled: "date", EnrolledBy: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	head := "id,email,phone,lang,date\n"
	for _, c := range []struct{ line, has string }{
		{"1,a@example.org,,,2020-01-01,x", "6 fields"},
		{"1,a@example.org,,", "4 fields"},
		{"a\tb,a@example.org,,,2020-01-01", "control character"},
		{"\u200b,a@example.org,,,2020-01-01", "member id is empty"},
		{strings.Repeat("x", 129) + ",a@example.org,,,2020-01-01", "at most 128"},
		{"1,Mario <a@example.org>,,,2020-01-01", "not an address"},
		{"1,a@localhost,,,2020-01-01", "not an address"},
		{"1,a b@example.org,,,2020-01-01", "not an address"},
		{"1,a@example.org,12ab,,2020-01-01", "not a phone number"},
		{"1,a@example.org,123,,2020-01-01", "not a phone number"},
		{"1,a@example.org,,klingon,2020-01-01", "not a language code"},
		{"1,a@example.org,,,", "enrolment date is empty"},
		{"1,a@example.org,,,01/13/2020", "not a date"},
		{"1,\xe0@example.org,,,2020-01-01", "not UTF-8"},
		{"1,\"a@example.org,,,2020-01-01", "quote"},
		{"1,a\"@example.org,,,2020-01-01", "quote"},
	} {
		_, err := ReadRegistry(strings.NewReader(head+"0,z@example.org,,,2020-01-01\n"+c.line+"\n"), m)
		var re *RegistryError
		if !errors.As(err, &re) || len(re.Problems) != 1 || re.Problems[0].Line != 3 || !strings.Contains(re.Problems[0].Reason, c.has) {
			t.Errorf("%q: %v; want one problem on line 3 saying %q", c.line, err, c.has)
		}
	}
	// A line's problems are reported together.
	_, err := ReadRegistry(strings.NewReader(head+",bad,1,zz9,never\n"), m)
	var re *RegistryError
	if !errors.As(err, &re) || len(re.Problems) != 1 || strings.Count(re.Problems[0].Reason, ";") < 3 {
		t.Errorf("a line with five problems: %v", err)
	}
}

// FuzzReadRegistry: ReadRegistry never panics; what it accepts has counts
// that add up, voter IDs that are unique, pass CheckVoterID and are their
// own normalisation, and a roll and contacts file that read back as CSV
// with one line per voter.
func FuzzReadRegistry(f *testing.F) {
	for _, name := range []string{"members_it.csv", "members_broken.csv"} {
		b, err := os.ReadFile("testdata/registry/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add([]byte("id,email\n1,a@example.org\nA,b@example.org\n"), false)
	f.Add([]byte("id;email\n\"1\";\"x\"\"y@example.org\"\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, cutoff bool) {
		m := RegistryMapping{ID: "id", Email: "e-mail", Phone: "telefono", Lang: "lingua", Enrolled: "data iscrizione"}
		if !bytes.Contains(in, []byte("Data iscrizione")) {
			m = RegistryMapping{ID: "id", Email: "email"}
		} else if cutoff {
			m.EnrolledBy = time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
		}
		reg, err := ReadRegistry(bytes.NewReader(in), m)
		var re *RegistryError
		if errors.As(err, &re) {
			c := re.Counts
			if len(re.Problems) == 0 || c.Refused < 1 || c.Lines != c.Eligible+c.NotEligible+c.Refused+c.Blank {
				t.Fatalf("problems %v, counts %+v", re.Problems, c)
			}
			return
		}
		if err != nil {
			return
		}
		c := reg.Counts
		if c.Refused != 0 || c.Eligible != len(reg.Voters) || c.Lines != c.Eligible+c.NotEligible+c.Blank {
			t.Fatalf("counts %+v for %d voters", c, len(reg.Voters))
		}
		seen := make(map[string]bool)
		for _, v := range reg.Voters {
			if err := CheckVoterID(v.ID); err != nil {
				t.Fatalf("voter %q: %v", v.ID, err)
			}
			if n, err := NormalizeVoterID(v.ID); err != nil || n != v.ID {
				t.Fatalf("voter %q normalises to %q, %v", v.ID, n, err)
			}
			if seen[v.ID] {
				t.Fatalf("voter %q twice", v.ID)
			}
			seen[v.ID] = true
		}
		for _, out := range []func() ([]byte, error){reg.Roll, reg.Contacts} {
			b, err := out()
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil || len(recs) != 1+len(reg.Voters) {
				t.Fatalf("output of %d lines for %d voters, %v", len(recs), len(reg.Voters), err)
			}
			for i, v := range reg.Voters {
				if recs[i+1][0] != v.ID {
					t.Fatalf("output line %d is %q, want %q", i+2, recs[i+1][0], v.ID)
				}
			}
		}
	})
}

// FuzzNormalizeVoterID: a normalised ID is valid and its own normalisation.
func FuzzNormalizeVoterID(f *testing.F) {
	for _, s := range []string{"AB-1004", "ab-\uff11\uff10\uff10\uff14\u200b", "Straße", "İ", "\u0345\u0399", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeVoterID(s)
		if err != nil {
			return
		}
		if err := CheckVoterID(n); err != nil {
			t.Fatalf("%+q -> %+q: %v", s, n, err)
		}
		if again, err := NormalizeVoterID(n); err != nil || again != n {
			t.Fatalf("%+q -> %+q -> %+q, %v", s, n, again, err)
		}
	})
}

// TestEmailASCII: an address the mailers cannot send to (characters
// outside ASCII, SMTPUTF8 not spoken) is refused at import, saying what
// to give instead, rather than leaving its voter without an invitation
// and without a one-time code; its ASCII form passes.
func TestEmailASCII(t *testing.T) {
	if _, err := checkEmail("niccolò@città.it"); err == nil || !strings.Contains(err.Error(), "outside ASCII") {
		t.Fatalf("a non-ASCII address: %v", err)
	}
	if got, err := checkEmail("niccolo@xn--citt-6na.it"); err != nil || got != "niccolo@xn--citt-6na.it" {
		t.Fatalf("its ASCII form: %q, %v", got, err)
	}
}
