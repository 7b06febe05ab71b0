package report

import (
	"embed"
	"html/template"
)

// lang is one language of the report: its code, its name in itself, and
// its phrases.
type lang struct {
	Code, Name string
	s          map[string]string
}

// T returns the phrase key in the language (the key itself if missing, so
// that a missing phrase shows, and the tests find it).
func (l lang) T(key string) string {
	if s, ok := l.s[key]; ok {
		return s
	}
	return key
}

// CheckName names a verify check in the language.
func (l lang) CheckName(name string) string {
	if s, ok := l.s["check."+name]; ok {
		return s
	}
	return name
}

// Both languages come from one table, so a phrase missing in one is easy
// to see. The checks' details stay as the verifier words them (English):
// the report says so.
var phrases = map[string][2]string{ // key: {en, it}
	"doc_title":          {"Election report", "Rapporto sulla votazione"},
	"verified":           {"Verified: every check on the record holds.", "Verificato: ogni controllo sul registro è superato."},
	"verified_sub":       {"The results below were recomputed from the election's record by the verifier, trusting no one: not the ballot box, not the trustees, not the authority.", "I risultati qui sotto sono stati ricalcolati dal registro della votazione dal verificatore, senza fidarsi di nessuno: né dell'urna, né dei garanti, né dell'autorità."},
	"failed":             {"NOT VERIFIED: this record fails verification.", "NON VERIFICATO: questo registro non supera la verifica."},
	"failed_sub":         {"This report shows no result, because the record it was made from does not verify. Do not rely on any figure from this record. The failing checks are listed below.", "Questo rapporto non mostra alcun risultato, perché il registro da cui è stato fatto non supera la verifica. Non fate affidamento su alcun dato di questo registro. I controlli non superati sono elencati qui sotto."},
	"failures":           {"Failed checks: %d", "Controlli non superati: %d"},
	"omitted":            {"and %d more failed checks not listed", "e altri %d controlli non superati, non elencati"},
	"incomplete":         {"The record has no result yet (voting still open, or not yet tallied): what it holds verifies, but there is nothing to report.", "Il registro non ha ancora un risultato (votazione ancora aperta, o scrutinio non ancora fatto): ciò che contiene è verificato, ma non c'è nulla da riportare."},
	"election":           {"Election", "Votazione"},
	"manifest_hash":      {"Manifest hash", "Impronta del manifesto"},
	"manifest_pinned":    {"the same as the election's published manifest, compared by the verifier", "uguale al manifesto pubblicato della votazione, confrontato dal verificatore"},
	"manifest_compare":   {"compare it with the hash the election published: a record with another hash is of another election", "confrontatela con l'impronta pubblicata della votazione: un registro con un'altra impronta è di un'altra votazione"},
	"opens":              {"Voting opens", "Apertura del voto"},
	"closes":             {"Voting closes", "Chiusura del voto"},
	"results":            {"Results", "Risultati"},
	"choose":             {"Choose from %d to %d", "Scegliere da %d a %d"},
	"choose_n":           {"Choose %d", "Scegliere %d"},
	"multi_note":         {"A ballot may mark more than one choice here: each percentage is of ballots counted, so they may add up to more than 100%.", "Qui una scheda può indicare più di una scelta: ogni percentuale è sulle schede conteggiate, quindi la somma può superare il 100%."},
	"pct_note":           {"Percentages are of ballots counted.", "Le percentuali sono sulle schede conteggiate."},
	"choice":             {"Choice", "Scelta"},
	"votes":              {"Votes", "Voti"},
	"pct_ballots":        {"% of ballots", "% delle schede"},
	"chart":              {"Chart", "Grafico"},
	"turnout":            {"Turnout", "Affluenza"},
	"ballots_counted":    {"Ballots counted", "Schede conteggiate"},
	"ballot_entries":     {"Ballots on the record", "Schede nel registro"},
	"ballot_entries_sub": {"a ballot replaced by a later one of the same voter, where the election allows it, is on the record but not counted", "una scheda sostituita da una successiva dello stesso elettore, dove la votazione lo permette, è nel registro ma non è conteggiata"},
	"tokens_issued":      {"Voting credentials issued", "Credenziali di voto rilasciate"},
	"eligible":           {"Eligible voters", "Aventi diritto"},
	"not_recorded":       {"not recorded in this election's record", "non registrato nel registro di questa votazione"},
	"source":             {"Source of these figures (not verified): ", "Fonte di questi dati (non verificati): "},
	"turnout_pct":        {"Turnout (ballots counted of eligible voters)", "Affluenza (schede conteggiate sugli aventi diritto)"},
	"source_record":      {"From the statement the authority that issues voting credentials signed, in the record (entry %d): the verifier checked its signature, and that ballots counted ≤ credentials issued ≤ eligible voters.", "Dalla dichiarazione firmata dall'autorità che rilascia le credenziali di voto, nel registro (voce %d): il verificatore ne ha controllato la firma, e che schede conteggiate ≤ credenziali rilasciate ≤ aventi diritto."},
	"trustees":           {"Trustees who decrypted", "Garanti che hanno decifrato"},
	"trustees_sub":       {"%d of the %d trustees must take part to decrypt the tally; these did, and the verifier checked each one's proof.", "Servono %d dei %d garanti per decifrare lo scrutinio; questi lo hanno fatto, e il verificatore ha controllato la prova di ciascuno."},
	"trustees_none":      {"No ballot was counted, so there was nothing to decrypt.", "Nessuna scheda è stata conteggiata, quindi non c'era nulla da decifrare."},
	"trustee":            {"Trustee %d", "Garante %d"},
	"key":                {"key", "chiave"},
	"checkpoint":         {"The record's final checkpoint", "Il punto di controllo finale del registro"},
	"checkpoint_sub":     {"The ballot box signed this summary of the whole record. Anyone holding an earlier receipt can check it is part of this record.", "L'urna ha firmato questo riassunto dell'intero registro. Chi ha una ricevuta può controllare che ne faccia parte."},
	"origin":             {"Origin", "Origine"},
	"size":               {"Entries", "Voci"},
	"root":               {"Root hash", "Hash della radice"},
	"signed_note":        {"Signed checkpoint", "Punto di controllo firmato"},
	"cosigners":          {"Cosigned by", "Controfirmato da"},
	"no_cosigners":       {"no witness cosignatures were given with this record", "nessuna controfirma di testimoni è stata fornita con questo registro"},
	"checks":             {"Every check the verifier performed", "Tutti i controlli eseguiti dal verificatore"},
	"checks_sub":         {"%d checks. The details are in English, as the verifier states them.", "%d controlli. I dettagli sono in inglese, come li riporta il verificatore."},
	"check":              {"Check", "Controllo"},
	"entries":            {"Entries", "Voci"},
	"outcome":            {"Outcome", "Esito"},
	"detail":             {"Detail", "Dettaglio"},
	"ok":                 {"holds", "superato"},
	"fail":               {"FAILS", "NON SUPERATO"},
	"whole":              {"whole record", "intero registro"},
	"howto":              {"Verify it yourself", "Verificatelo voi stessi"},
	"howto_sub":          {"Download the record and the board's key the election published, install evote, and run:", "Scaricate il registro e la chiave dell'urna pubblicata dalla votazione, installate evote ed eseguite:"},
	"howto_after":        {"It re-checks everything above, needs no secret and trusts no one, and prints the same result. Or drop the record on the election's in-browser verifier page: the file does not leave your browser.", "Ricontrolla tutto quanto sopra, non richiede alcun segreto e non si fida di nessuno, e stampa lo stesso risultato. Oppure trascinate il registro nella pagina di verifica nel browser della votazione: il file non lascia il vostro browser."},
	"summary":            {"%d entries, %d ballots on the record, %d counted.", "%d elementi nel registro, di cui %d schede, %d conteggiate."},
	"made_by":            {"Made by evote from the election's record alone.", "Prodotto da evote dal solo registro della votazione."},

	"check.format":     {"file format", "formato del file"},
	"check.checkpoint": {"signed checkpoint", "punto di controllo firmato"},
	"check.manifest":   {"manifest", "manifesto"},
	"check.ceremony":   {"key ceremony", "cerimonia delle chiavi"},
	"check.open":       {"opening", "apertura"},
	"check.ballot":     {"ballots", "schede"},
	"check.tokens":     {"credentials", "credenziali"},
	"check.close":      {"closing", "chiusura"},
	"check.aggregate":  {"tally", "scrutinio"},
	"check.partial":    {"partial decryption", "decifratura parziale"},
	"check.result":     {"result", "risultato"},
	"check.complete":   {"completeness", "completezza"},
	"check.issuance":   {"credentials issued", "credenziali rilasciate"},
	"check.witnesses":  {"witnesses' cosignatures", "cofirme dei testimoni"},
}

var en, it = func() (lang, lang) {
	e := lang{Code: "en", Name: "English", s: map[string]string{}}
	i := lang{Code: "it", Name: "Italiano", s: map[string]string{}}
	for k, v := range phrases {
		e.s[k], i.s[k] = v[0], v[1]
	}
	return e, i
}()

//go:embed report.html
var templates embed.FS

var page = template.Must(template.New("report.html").ParseFS(templates, "report.html"))
