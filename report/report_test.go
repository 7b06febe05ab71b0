package report_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/report"
	"github.com/evote/evote/verify"
)

func write(t *testing.T, rep *verify.Report, o report.Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := report.Write(&buf, rep, o); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// section returns the part of the page in the language code's section.
func section(t *testing.T, page, code string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section class="lang" id="` + code + `" lang="` + code + `">(.*?)</section>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s section in the report", code)
	}
	return m[1]
}

// resultRows returns each result row's choice and count, as shown.
func resultRows(s string) [][2]string {
	var rows [][2]string
	for _, m := range regexp.MustCompile(`<th scope="row">(.*?)</th><td class="num count">(\d+)</td>`).FindAllStringSubmatch(s, -1) {
		rows = append(rows, [2]string{html.UnescapeString(m[1]), m[2]})
	}
	return rows
}

func TestReportShowsResultInBothLanguages(t *testing.T) {
	record, vkey := tallied(t)
	rep := verified(t, record, vkey)
	if !rep.OK {
		t.Fatalf("the test record does not verify: %v", rep.Checks)
	}
	page := write(t, rep, report.Options{RecordName: "record.evr", BoardKey: vkey, Cosigners: []string{"witness.example.org+1234abcd"}})
	var want [][2]string
	for qi, q := range questions {
		for ci, c := range q.Choices {
			want = append(want, [2]string{c, fmt.Sprint(wantCounts[qi][ci])})
		}
	}
	for _, code := range []string{"it", "en"} {
		s := section(t, page, code)
		text := html.UnescapeString(s)
		if got := resultRows(s); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: result rows %q, want %q", code, got, want)
		}
		for _, w := range []string{
			hex.EncodeToString(rep.ManifestHash[:]), hex.EncodeToString(rep.Checkpoint.Hash[:]),
			"board.example.org/assemblea-2025", "witness.example.org+1234abcd",
			"evote verify record.evr --board-key " + vkey + " --manifest " + hex.EncodeToString(rep.ManifestHash[:]),
		} {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the report does not show %q", code, w)
			}
		}
		// One row per check the verifier performed.
		if n := strings.Count(s, `<tr class="pass">`); n != len(rep.Checks) {
			t.Errorf("%s: %d checks shown, the verifier performed %d", code, n, len(rep.Checks))
		}
	}
	it, en := section(t, page, "it"), section(t, page, "en")
	for _, w := range []string{"Verificato", "Schede conteggiate", "Garante 1", "Garante 3", "Affluenza (schede conteggiate sugli aventi diritto)</dt><dd>75.0%", fmt.Sprintf("nel registro (voce %d)", rep.Issuance.Entry)} {
		if !strings.Contains(it, w) {
			t.Errorf("the Italian section lacks %q", w)
		}
	}
	for _, w := range []string{"Verified", "Ballots counted", "Trustee 1", "Trustee 3", "Turnout (ballots counted of eligible voters)</dt><dd>75.0%",
		"Voting credentials issued</dt><dd>9</dd>", "Eligible voters</dt><dd>12</dd>", fmt.Sprintf("in the record (entry %d)", rep.Issuance.Entry)} {
		if !strings.Contains(en, w) {
			t.Errorf("the English section lacks %q", w)
		}
	}
	if strings.Contains(en, "not recorded") || strings.Contains(en, "not verified") {
		t.Error("the record holds the issuer's counts, yet the report says they are not recorded, or unverified")
	}
	if strings.Contains(en, "Trustee 2") {
		t.Error("trustee 2 did not decrypt, but the report names it")
	}
	// 2-of-4: the percentages are of the 9 ballots (Bianchi 6 of 9).
	if !strings.Contains(en, "66.7%") {
		t.Error("the k-of-n question's percentage is not of ballots (6 of 9 = 66.7%)")
	}
}

func TestReportFetchesNothingAndRunsNoScript(t *testing.T) {
	record, vkey := tallied(t)
	page := write(t, verified(t, record, vkey), report.Options{BoardKey: vkey})
	low := strings.ToLower(page)
	for _, bad := range []string{"<script", "http://", "https://", "<link", "<img", "<iframe", "url(", "@import"} {
		if strings.Contains(low, bad) {
			i := strings.Index(low, bad)
			t.Errorf("the report contains %q: …%s…", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	// The hostile title and choice appear escaped, as text.
	for _, s := range []string{"&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;Bianchi"} {
		if !strings.Contains(page, s) {
			t.Errorf("the report does not show %q, the hostile text escaped", s)
		}
	}
	// The meta policy allows the page's one style by its hash, and nothing
	// else; the style element holds exactly what the hash covers.
	if !strings.Contains(page, `content="default-src &#39;none&#39;; style-src &#39;sha256-`) {
		t.Error("the report has no Content-Security-Policy of its own")
	}
	if !strings.Contains(page, "@media print") {
		t.Error("the report has no print stylesheet")
	}
}

func TestReportStyleHashCoversTheStyle(t *testing.T) {
	record, vkey := tallied(t)
	page := write(t, verified(t, record, vkey), report.Options{})
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("%d style elements, want 1", len(m))
	}
	if !strings.Contains(report.ContentSecurityPolicy, report.StyleHash) || report.StyleHash != styleHash(m[0][1]) {
		t.Errorf("StyleHash %s does not cover the page's style (%s)", report.StyleHash, styleHash(m[0][1]))
	}
}

// A record without the issuer's statement (its manifest names no
// statement key) shows the figures as not recorded, or as Options.Turnout
// gives them, unverified and with their source; a record with one shows
// its own, whatever the options say.
func TestReportTurnoutFromOptions(t *testing.T) {
	record, vkey := tallied(t)
	without := func() *verify.Report {
		rep := verified(t, record, vkey)
		rep.Issuance = nil
		return rep
	}
	en := section(t, write(t, without(), report.Options{}), "en")
	if !strings.Contains(en, "Voting credentials issued</dt><dd><em>not recorded in this election&#39;s record") || strings.Contains(en, "Turnout (ballots") {
		t.Error("no figures, yet the report shows some")
	}
	it := section(t, write(t, without(), report.Options{}), "it")
	if !strings.Contains(it, "non registrato nel registro di questa votazione") {
		t.Error("the Italian section does not say the figures are not recorded")
	}
	issued, eligible := uint64(12), uint64(40)
	given := report.Options{Turnout: report.Turnout{TokensIssued: &issued, Eligible: &eligible, Source: "the issuer's roll"}}
	page := write(t, without(), given)
	en = section(t, page, "en")
	for _, w := range []string{"<dd>12</dd>", "<dd>40</dd>", "<dd>22.5%</dd>", "Source of these figures (not verified): the issuer&#39;s roll"} {
		if !strings.Contains(en, w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	if strings.Contains(en, "not recorded") {
		t.Error("figures given, yet the report says they are not recorded")
	}
	en = section(t, write(t, verified(t, record, vkey), given), "en")
	if !strings.Contains(en, "Eligible voters</dt><dd>12</dd>") || strings.Contains(en, "<dd>40</dd>") || strings.Contains(en, "not verified") {
		t.Error("figures given from outside replace the record's own")
	}
}

// TestAttackTamperedRecordShowsNoResult alters one count in the posted
// result and re-signs nothing: the record fails, and its report must say
// so and show no count, no title, no checkpoint.
func TestAttackTamperedRecordShowsNoResult(t *testing.T) {
	record, vkey := tallied(t)
	bad := bytes.Clone(record)
	// Flip a byte in the middle of the file: some entry no longer hashes to
	// the signed root.
	bad[len(bad)/2] ^= 1
	rep := verified(t, bad, vkey)
	if rep.OK {
		t.Fatal("the tampered record verifies")
	}
	page := write(t, rep, report.Options{BoardKey: vkey})
	for _, code := range []string{"it", "en"} {
		s := section(t, page, code)
		if rows := resultRows(s); len(rows) != 0 {
			t.Errorf("%s: a failed record's report shows results %q", code, rows)
		}
		if !strings.Contains(s, `class="banner fail"`) {
			t.Errorf("%s: a failed record's report does not say so", code)
		}
		if !strings.Contains(s, `class="failrow"`) {
			t.Errorf("%s: the failing check is not listed", code)
		}
	}
	for _, w := range []string{"NON VERIFICATO", "NOT VERIFIED"} {
		if !strings.Contains(page, w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	// No title, no choice, no checkpoint: only the checks' own words
	// (which quote the record's title, escaped) speak of the record.
	for _, leak := range []string{"<h1>Assemblea", "Rossi", "Bianchi", "<h2>Il punto di controllo", "<h2>Results"} {
		if strings.Contains(page, leak) {
			t.Errorf("a failed record's report shows %q", leak)
		}
	}
}

// TestAttackWrongBoardKeyShowsNoResult verifies a genuine record under
// another board's key: the checkpoint is not the election's, so nothing of
// the record is shown as its result.
func TestAttackWrongBoardKeyShowsNoResult(t *testing.T) {
	record, _ := tallied(t)
	other := electiontest.New(t, electiontest.Options{})
	rep := verified(t, record, other.VKey)
	if rep.OK {
		t.Fatal("the record verifies under another board's key")
	}
	page := write(t, rep, report.Options{})
	if rows := resultRows(page); len(rows) != 0 {
		t.Errorf("results shown: %q", rows)
	}
}

func TestReportIncompleteRecordHasNoResult(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	key, _ := verify.BoardKey(e.VKey)
	rep, err := verify.Record(bytes.NewReader(e.Export(t)), key, verify.Options{AllowIncomplete: true})
	if err != nil {
		t.Fatal(err)
	}
	page := write(t, rep, report.Options{})
	if rows := resultRows(page); len(rows) != 0 {
		t.Errorf("an untallied record's report shows results %q", rows)
	}
	if !strings.Contains(page, "no result yet") || !strings.Contains(page, "non ha ancora un risultato") {
		t.Error("an untallied record's report does not say there is no result yet")
	}
}
