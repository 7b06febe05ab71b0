package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/issuer"
)

const importTestdata = "../../issuer/testdata/registry/"

// TestIssuerImport imports the Italian test export (BOM, ';', accented
// names) with column flags and then with a mapping file: it prints the
// counts, writes the roll and the contacts mode 0600, the roll imports
// into the issuer with codes that verify, neither file holds a name or an
// enrolment date, and a second import without --force is refused with
// both files left as they were.
func TestIssuerImport(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	flags := []string{"issuer", "import", "--registry", importTestdata + "members_it.csv",
		"--id-column", "ID", "--email-column", "e-mail", "--phone-column", "telefono", "--date-column", "data iscrizione",
		"--lang-column", "Lingua", "--enrolled-before", "2024-12-31", "--roll", in("roll.csv"), "--contacts", in("contacts.csv")}
	out, errs, code := evote(t, flags...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, s := range []string{"7 lines read: 5 eligible, 1 not eligible (enrolled after 2024-12-31), 0 refused, 1 blank", "1 eligible voter(s) have neither e-mail nor phone"} {
		if !strings.Contains(out, s) {
			t.Errorf("output does not say %q:\n%s", s, out)
		}
	}
	for _, f := range []string{"roll.csv", "contacts.csv"} {
		fi, err := os.Stat(in(f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is mode %v, want 0600", f, fi.Mode().Perm())
		}
		b := mustRead(t, in(f))
		for _, s := range []string{"Niccolò", "Rossi", "D'Amico", "Çelik", "Bianchi", "Zoë", "Ferrari", "Verdi", "fondatrice", "2019", "2020", "2021", "2024", "2018", "/"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", f, s)
			}
		}
	}
	roll := mustRead(t, in("roll.csv"))
	mr := issuer.NewMemRoll()
	ctx := context.Background()
	if n, err := issuer.ImportRoll(ctx, mr, bytes.NewReader(roll)); err != nil || n != 5 {
		t.Fatalf("ImportRoll = %d, %v", n, err)
	}
	recs, _ := csv.NewReader(bytes.NewReader(roll)).ReadAll()
	for _, rec := range recs[1:] {
		if e, err := mr.Get(ctx, rec[0]); err != nil || !e.Code.Verify(rec[1]) {
			t.Errorf("%s: the code in the roll does not verify (%v)", rec[0], err)
		}
	}
	contacts := mustRead(t, in("contacts.csv"))
	if !bytes.HasPrefix(contacts, []byte("voter_id,email,phone,lang\n1001,socio1001@example.it,+393331234567,it\n")) {
		t.Errorf("contacts:\n%s", contacts)
	}

	// Again, without --force: refused, nothing changed.
	_, errs, code = evote(t, flags...)
	if code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("a second import: exit %d, %s", code, errs)
	}
	if !bytes.Equal(mustRead(t, in("roll.csv")), roll) || !bytes.Equal(mustRead(t, in("contacts.csv")), contacts) {
		t.Error("a refused import changed the files")
	}

	// With a mapping file, --force and --json.
	mapping := in("map.json")
	os.WriteFile(mapping, []byte(`{"id": "ID", "email": "E-mail", "phone": "Telefono", "enrolled": "Data iscrizione", "lang": "Lingua", "separator": ";"}`), 0o644)
	out, errs, code = evote(t, "issuer", "import", "--registry", importTestdata+"members_it.csv", "--map", mapping,
		"--enrolled-before", "2024-12-31", "--roll", in("roll.csv"), "--contacts", in("contacts.csv"), "--force", "--json")
	if code != 0 {
		t.Fatalf("with --map: exit %d\n%s%s", code, out, errs)
	}
	var rep importReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := issuer.RegistryCounts{Lines: 7, Eligible: 5, NotEligible: 1, Blank: 1, NoContact: 1}
	if rep.Counts != want || len(rep.Problems) != 0 || rep.Roll != in("roll.csv") {
		t.Errorf("report %+v, want counts %+v", rep, want)
	}
	if bytes.Equal(mustRead(t, in("roll.csv")), roll) {
		t.Error("--force did not write fresh codes")
	}
	if !bytes.Equal(mustRead(t, in("contacts.csv")), contacts) {
		t.Error("the mapping file gave other contacts than the flags")
	}
}

// TestIssuerImportProblems: an export with a duplicate spelt differently
// and broken lines exits 1, lists every problem with its line on stderr
// (and in --json), prints the counts, and writes neither file.
func TestIssuerImportProblems(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	flags := []string{"issuer", "import", "--registry", importTestdata + "members_broken.csv",
		"--id-column", "ID", "--email-column", "e-mail", "--date-column", "data iscrizione",
		"--enrolled-before", "2024-12-31", "--roll", in("roll.csv"), "--contacts", in("contacts.csv")}
	out, errs, code := evote(t, flags...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "8 lines read: 3 eligible, 0 not eligible (enrolled after 2024-12-31), 5 refused, 0 blank") {
		t.Errorf("counts not printed:\n%s", out)
	}
	for _, s := range []string{"line 4: member", "also on line 3", "line 5: 3 fields", "line 6: the member id is empty", "line 7: date", "line 8: e-mail", "5 problem(s)", "nothing was written"} {
		if !strings.Contains(errs, s) {
			t.Errorf("stderr does not say %q:\n%s", s, errs)
		}
	}
	for _, f := range []string{"roll.csv", "contacts.csv"} {
		if _, err := os.Stat(in(f)); !os.IsNotExist(err) {
			t.Errorf("%s was written (%v)", f, err)
		}
	}
	out, _, code = evote(t, append(flags, "--json")...)
	var rep importReport
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Problems) != 5 || rep.Problems[0].Line != 4 || rep.Counts.Refused != 5 {
		t.Errorf("--json: exit %d, %s", code, out)
	}
}

// TestIssuerImportUsage: mistakes in the call exit 2, saying what to give.
func TestIssuerImportUsage(t *testing.T) {
	dir := t.TempDir()
	amb := filepath.Join(dir, "amb.csv")
	os.WriteFile(amb, []byte("id;email,phone\n1;a@example.org,\n"), 0o600)
	badMap := filepath.Join(dir, "bad.json")
	os.WriteFile(badMap, []byte(`{"id": "ID", "nome": "Nome"}`), 0o600)
	reg := importTestdata + "members_it.csv"
	out := []string{"--roll", filepath.Join(dir, "r.csv"), "--contacts", filepath.Join(dir, "c.csv")}
	for _, c := range []struct {
		args []string
		has  string
	}{
		{[]string{}, "--registry"},
		{[]string{"--registry", reg, "--enrolled-before", "31/12/2024", "--date-column", "x"}, "YYYY-MM-DD"},
		{[]string{"--registry", reg, "--enrolled-before", "2024-12-31"}, "--date-column"},
		{[]string{"--registry", reg, "--separator", "\t"}, "separator"},
		{[]string{"--registry", reg, "--map", badMap, "--id-column", "ID"}, "--id-column and --map"},
		{[]string{"--registry", reg, "--map", badMap}, "nome"},
		{[]string{"--registry", reg, "--id-column", "codice"}, `"Data iscrizione"`},
		{[]string{"--registry", amb}, "--separator"},
		{[]string{"--registry", reg, "--roll", "x.csv", "--contacts", "x.csv"}, "two files"},
	} {
		_, errs, code := evote(t, append(append([]string{"issuer", "import"}, out...), c.args...)...)
		if code != 2 || !strings.Contains(errs, c.has) {
			t.Errorf("%q: exit %d, want 2 saying %q:\n%s", c.args, code, c.has, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "r.csv")); !os.IsNotExist(err) {
		t.Error("a refused call wrote the roll")
	}
}
