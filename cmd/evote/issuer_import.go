package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/evote/evote/internal/durable"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/issuer"
	"github.com/spf13/cobra"
)

// registryMapFile is the --map file: which column holds what, by the
// names in the export's header.
type registryMapFile struct {
	ID        string `json:"id"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Enrolled  string `json:"enrolled,omitempty"`
	Lang      string `json:"lang,omitempty"`
	Separator string `json:"separator,omitempty"`
}

// importReport is what evote issuer import --json prints.
type importReport struct {
	Registry string                   `json:"registry"`
	Counts   issuer.RegistryCounts    `json:"counts"`
	Problems []issuer.RegistryProblem `json:"problems"`
	Roll     string                   `json:"roll,omitempty"`
	Contacts string                   `json:"contacts,omitempty"`
}

func parseSeparator(s string) (rune, error) {
	switch s {
	case "":
		return 0, nil
	case ",":
		return ',', nil
	case ";":
		return ';', nil
	}
	return 0, usagef("separator %q: use ',' or ';' (or leave it out to tell it from the header)", s)
}

func issuerImportCmd(g *globals) *cobra.Command {
	var registry, mapFile, rollOut, contactsOut, before, sep string
	var m issuer.RegistryMapping
	var force, asJSON bool
	c := &cobra.Command{
		Use:   "import",
		Short: "Make the roll and the contacts file from the member registry's CSV export",
		Long: `import reads the members exported from the organisation's registry (a CRM
such as Odoo: CSV, UTF-8 with or without a byte-order mark, ',' or ';' as an
Italian spreadsheet writes it, told from the header line) and writes two
files, both mode 0600 and both secret:

  --roll      voter_id,enrolment_code  a fresh code for each eligible member,
              for evote issuer serve --roll
  --contacts  voter_id,email,phone,lang  for the invitations
              (evote issuer invite joins the two by voter_id)

Names, enrolment dates and every other column are left behind: nothing the
issuer does not need to authenticate a voter or to invite them is copied.

Columns are named by the export's header (spaces around it and case do not
matter), with the --*-column flags or a --map file:

  {"id": "Codice socio", "email": "E-mail", "phone": "Cellulare",
   "enrolled": "Data iscrizione", "lang": "Lingua", "separator": ";"}

Only id is required. Member ids become voter IDs normalised (Unicode NFKC,
case folded, invisible characters such as zero-width spaces removed,
trimmed: SPEC.md §11), so "AB-1004" and "ab-１００４" are one voter. With
--enrolled-before DATE, members enrolled on DATE or earlier are eligible,
later ones are counted and left out; enrolment dates are read as 2006-01-02,
02/01/2006 or 02.01.2006 (day first).

Every line is checked, and if any is broken (wrong number of fields, an
empty or invalid member id, the same member twice once normalised, a bad
e-mail, phone, language or date) every problem is listed with its line and
nothing is written (exit 1). It prints the counts: lines read, eligible, not
eligible by date, refused, blank.`,
		Example: `  evote issuer import --registry soci.csv --id-column "Codice socio" \
      --email-column E-mail --phone-column Cellulare --date-column "Data iscrizione" \
      --enrolled-before 2025-01-31 --roll roll.csv --contacts contacts.csv
  evote issuer import --registry soci.csv --map soci.map.json --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if registry == "" {
				return usagef("give the registry export: --registry FILE")
			}
			if rollOut == contactsOut {
				return usagef("--roll and --contacts must be two files")
			}
			f := cmd.Flags()
			if mapFile != "" {
				for _, name := range []string{"id-column", "email-column", "phone-column", "date-column", "lang-column", "separator"} {
					if f.Changed(name) {
						return usagef("--%s and --map both name columns: give one of them", name)
					}
				}
				b, err := os.ReadFile(mapFile)
				if err != nil {
					return err
				}
				var mf registryMapFile
				if err := strictjson.Decode(bytes.TrimPrefix(b, []byte("\ufeff")), &mf); err != nil {
					return usagef("%s: %v (a mapping file is JSON such as {\"id\": \"Codice socio\", \"email\": \"E-mail\"})", mapFile, err)
				}
				m = issuer.RegistryMapping{ID: mf.ID, Email: mf.Email, Phone: mf.Phone, Enrolled: mf.Enrolled, Lang: mf.Lang}
				sep = mf.Separator
			}
			var err error
			if m.Separator, err = parseSeparator(sep); err != nil {
				return err
			}
			if before != "" {
				t, err := time.Parse(time.DateOnly, before)
				if err != nil {
					return usagef("--enrolled-before %q: write the day as YYYY-MM-DD", before)
				}
				if m.Enrolled == "" {
					return usagef("--enrolled-before needs the enrolment date column: --date-column NAME (or \"enrolled\" in --map)")
				}
				m.EnrolledBy = t
			}
			if !force {
				for _, p := range []string{rollOut, contactsOut} {
					if _, err := os.Lstat(p); err == nil {
						return fmt.Errorf("%s exists; remove it, choose another name or give --force", p)
					}
				}
			}
			in, err := os.Open(registry)
			if err != nil {
				return err
			}
			defer in.Close()
			reg, err := issuer.ReadRegistry(in, m)
			rep := importReport{Registry: registry, Problems: []issuer.RegistryProblem{}}
			var re *issuer.RegistryError
			switch {
			case errors.As(err, &re):
				rep.Counts, rep.Problems = re.Counts, re.Problems
				if asJSON {
					if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
						return err
					}
				} else {
					printImportCounts(g, registry, rep.Counts, m)
					for _, p := range re.Problems {
						g.logf("%s: %s\n", registry, p)
					}
				}
				return fmt.Errorf("%s: %d problem(s), listed above; fix them in the export (or the registry) and import again: nothing was written", registry, len(re.Problems))
			case errors.Is(err, issuer.ErrAmbiguousSeparator), errors.Is(err, issuer.ErrRegistryColumn):
				return usageError{fmt.Errorf("%s: %w", registry, err)}
			case err != nil:
				return fmt.Errorf("%s: %w", registry, err)
			}
			roll, err := reg.Roll()
			if err != nil {
				return err
			}
			contacts, err := reg.Contacts()
			if err != nil {
				return err
			}
			if err := durable.WriteFile(rollOut, roll, force); err != nil {
				return err
			}
			clear(roll)
			if err := durable.WriteFile(contactsOut, contacts, force); err != nil {
				return fmt.Errorf("%w (the roll %s was written: remove it)", err, rollOut)
			}
			rep.Counts, rep.Roll, rep.Contacts = reg.Counts, rollOut, contactsOut
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(rep)
			}
			printImportCounts(g, registry, reg.Counts, m)
			g.printf("wrote %s (%d voters, fresh enrolment codes) and %s (their contacts), mode 0600: keep both secret\n",
				rollOut, reg.Counts.Eligible, contactsOut)
			if n := reg.Counts.NoContact; n > 0 {
				g.printf("%d eligible voter(s) have neither e-mail nor phone: give them their code another way\n", n)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&registry, "registry", "", "the registry's CSV export `FILE`")
	f.StringVar(&mapFile, "map", "", "a JSON mapping `FILE` naming the columns, instead of the --*-column flags")
	f.StringVar(&m.ID, "id-column", "id", "the `column` of the member id (the voter ID)")
	f.StringVar(&m.Email, "email-column", "email", "the `column` of the e-mail address (\"\": none)")
	f.StringVar(&m.Phone, "phone-column", "", "the `column` of the phone number")
	f.StringVar(&m.Enrolled, "date-column", "", "the `column` of the enrolment date")
	f.StringVar(&m.Lang, "lang-column", "", "the `column` of the member's language (it, en, it_IT, Italiano...)")
	f.StringVar(&sep, "separator", "", "the field separator, ',' or ';' (default: told from the header line)")
	f.StringVar(&before, "enrolled-before", "", "eligible: enrolled on this `YYYY-MM-DD` or earlier (default: every member)")
	f.StringVar(&rollOut, "roll", "roll.csv", "where to write the roll (voter_id,enrolment_code)")
	f.StringVar(&contactsOut, "contacts", "contacts.csv", "where to write the contacts (voter_id,email,phone,lang)")
	f.BoolVar(&force, "force", false, "overwrite --roll and --contacts if they exist")
	f.BoolVar(&asJSON, "json", false, "print the counts (and any problems) as one JSON object")
	return c
}

func printImportCounts(g *globals, registry string, c issuer.RegistryCounts, m issuer.RegistryMapping) {
	cut := ""
	if !m.EnrolledBy.IsZero() {
		cut = " (enrolled after " + m.EnrolledBy.Format(time.DateOnly) + ")"
	}
	g.printf("%s: %d lines read: %d eligible, %d not eligible%s, %d refused, %d blank\n",
		registry, c.Lines, c.Eligible, c.NotEligible, cut, c.Refused, c.Blank)
}
