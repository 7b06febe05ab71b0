package verify

import (
	"github.com/evote/evote/issuance"
)

// Issuance is the issuer's statement of its counts as the record holds it
// (SPEC.md §8), once checked: signed with the manifest's issuance key, for
// this election, with Counted ≤ Issued ≤ Eligible.
type Issuance struct {
	Entry    uint64 // the statement's entry
	Eligible uint64 // voters on the issuer's roll
	Issued   uint64 // eligibility tokens the issuer signed
	Time     string // when the issuer read its counts (UTC)
	// Turnout is the ballots counted as a share of the eligible voters,
	// 0 to 1.
	Turnout float64
}

// issuance checks the issuer's statement at entry i (SPEC.md §10 step 10).
// The ballots are all counted by now: the close entry came before it.
func (v *verifier) issuance(i uint64, body []byte) {
	if v.issuanceAt >= 0 {
		v.fail(CheckIssuance, i, "a second issuance statement; the first is entry %d, and a record holds one", v.issuanceAt)
		return
	}
	v.issuanceAt = int64(i)
	key := v.m.Issuance()
	if key == nil {
		v.fail(CheckIssuance, i, "an issuance statement, but the manifest names no issuance key (issuance_key) it could be checked with")
		return
	}
	if !v.afterClose(CheckIssuance, i) {
		return
	}
	st, err := issuance.Parse(body)
	if err != nil {
		v.fail(CheckIssuance, i, "%s", detail(err))
		return
	}
	if err := st.Verify(key, v.m.ID()); err != nil {
		v.fail(CheckIssuance, i, "%s", detail(err))
		return
	}
	if !v.closeTime.IsZero() && st.Time.Before(v.closeTime) {
		v.fail(CheckIssuance, i, "the issuer's counts were read at %s, before voting closed at %s: tokens issued after that are not in them", st.Time.UTC().Format(issuance.TimeLayout), v.closeTime.UTC().Format(issuance.TimeLayout))
		return
	}
	counted := v.rep.Counted
	if st.Issued < counted {
		v.fail(CheckIssuance, i, "the issuer states %d tokens issued, but %d ballots are counted, each with a token the issuer signed: the statement is false, or the issuer signed tokens it does not count", st.Issued, counted)
		return
	}
	t := st.Time.UTC().Format(issuance.TimeLayout)
	v.rep.Issuance = &Issuance{Entry: i, Eligible: st.Eligible, Issued: st.Issued, Time: t, Turnout: issuance.Turnout(counted, st.Eligible)}
	v.ok(CheckIssuance, i, "the issuer's statement, signed with the manifest's issuance key: %d eligible voters, %d tokens issued (counted %s); %d counted ballots ≤ %d tokens ≤ %d voters, turnout %.1f%%",
		st.Eligible, st.Issued, t, counted, st.Issued, st.Eligible, 100*v.rep.Issuance.Turnout)
}

// issuanceSummary says, for a manifest that names no issuance key, that
// the record holds no count of voters or tokens: not a failure, a fact
// the reader should know.
func (v *verifier) issuanceSummary() {
	if v.m.Issuance() != nil || v.issuanceAt >= 0 {
		return
	}
	v.add(Check{Name: CheckIssuance, First: -1, Last: -1, OK: true, Detail: "not recorded: the manifest names no issuance key, so the record holds no count of eligible voters or tokens issued"})
}
