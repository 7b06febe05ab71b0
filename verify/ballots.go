package verify

import (
	"crypto/sha256"
	"errors"
	"sync"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/tally"
)

// pool verifies ballots in chunks on several goroutines while the reading
// goroutine goes on, and keeps the token bookkeeping on one more.
//
// Under the refuse policy each worker aggregates the valid ballots it
// verified (order does not matter: the aggregate is a product) and the
// collector only remembers each token's entry, to name both entries of a
// token used twice. Under last-ballot-counts the collector keeps, per
// token, the entry and ciphertexts of its latest valid ballot, replacing
// them when a later one arrives (chunks finish out of order, so "later" is
// by entry index), and the aggregate is formed from those at the end; it
// also keeps a hash of the token's eligibility token, so that a ballot for
// the same token key with another token fails.
type pool struct {
	v     *verifier
	el    *ballot.Election
	last  bool
	chunk []item

	jobs    chan []item
	results chan []counted
	workers sync.WaitGroup
	coll    sync.WaitGroup
	aggs    []*tally.Aggregator
	valid   []uint64

	first  map[[32]byte]uint64  // refuse: token → its ballot's entry
	cur    map[[32]byte]counted // last-ballot-counts: token → its latest ballot
	copies map[[32]byte]uint64  // last-ballot-counts: tracking code → entry
}

type item struct {
	entry uint64
	body  []byte
}

// counted is a valid ballot as the collector sees it.
type counted struct {
	entry uint64
	token [32]byte
	cts   []byte   // last-ballot-counts only: the ciphertexts, encoded
	code  [32]byte // last-ballot-counts only: the tracking code
	tok   [32]byte // last-ballot-counts only: SHA-256 of the eligibility token
}

func newPool(v *verifier, el *ballot.Election, last bool) *pool {
	n := v.opts.Workers
	p := &pool{v: v, el: el, last: last,
		jobs: make(chan []item, n), results: make(chan []counted, n),
		aggs: make([]*tally.Aggregator, n), valid: make([]uint64, n)}
	if last {
		p.cur = map[[32]byte]counted{}
		p.copies = map[[32]byte]uint64{}
	} else {
		p.first = map[[32]byte]uint64{}
	}
	for w := range n {
		p.aggs[w] = tally.NewAggregator(el)
		p.workers.Add(1)
		go p.work(w)
	}
	p.coll.Add(1)
	go p.collect()
	return p
}

func (p *pool) add(entry uint64, body []byte) {
	if p.chunk == nil {
		p.chunk = make([]item, 0, p.v.opts.ChunkSize)
	}
	p.chunk = append(p.chunk, item{entry, body})
	if len(p.chunk) == p.v.opts.ChunkSize {
		p.jobs <- p.chunk
		p.chunk = nil
	}
}

// finish waits for every ballot and returns the aggregate of the counted
// ones, the number of distinct tokens and the number of valid ballots.
func (p *pool) finish() (*tally.Aggregate, uint64, uint64) {
	if len(p.chunk) > 0 {
		p.jobs <- p.chunk
		p.chunk = nil
	}
	close(p.jobs)
	p.workers.Wait()
	close(p.results)
	p.coll.Wait()
	var valid uint64
	for _, n := range p.valid {
		valid += n
	}
	if p.last {
		ag := tally.NewAggregator(p.el)
		for _, c := range p.cur {
			ag.Add(p.skeleton(c.cts))
		}
		return ag.Aggregate(), uint64(len(p.cur)), valid
	}
	agg := p.aggs[0].Aggregate()
	for _, ag := range p.aggs[1:] {
		a := ag.Aggregate()
		agg.Ballots += a.Ballots
		for qi := range agg.Questions {
			for ci := range agg.Questions[qi] {
				agg.Questions[qi][ci] = elgamal.Add(agg.Questions[qi][ci], a.Questions[qi][ci])
			}
		}
	}
	return agg, uint64(len(p.first)), valid
}

// skeleton rebuilds the part of a ballot the aggregator reads from the
// ciphertexts kept for it; they parsed once already.
func (p *pool) skeleton(cts []byte) *ballot.Ballot {
	b := &ballot.Ballot{}
	for _, q := range p.el.Manifest.Questions {
		var eq ballot.EncryptedQuestion
		for range q.Encrypted() {
			ct, err := elgamal.ParseCiphertext(cts[:elgamal.CiphertextSize])
			if err != nil {
				panic("verify: a kept ciphertext no longer parses: " + err.Error())
			}
			cts = cts[elgamal.CiphertextSize:]
			eq.Choices = append(eq.Choices, ct)
		}
		b.Questions = append(b.Questions, eq)
	}
	return b
}

func (p *pool) work(w int) {
	defer p.workers.Done()
	for chunk := range p.jobs {
		bs := make([]*ballot.Ballot, 0, len(chunk))
		entries := make([]uint64, 0, len(chunk))
		for _, it := range chunk {
			b, err := ballot.Parse(p.el, it.body)
			if err != nil {
				p.v.fail(CheckBallot, it.entry, "does not parse for this election: %s", detail(err))
				continue
			}
			bs = append(bs, b)
			entries = append(entries, it.entry)
		}
		out := make([]counted, 0, len(bs))
		for k, err := range ballot.VerifyBatch(p.el, bs) {
			if err != nil {
				msg := detail(err)
				if errors.Is(err, ballot.ErrInvalidToken) {
					msg = "its eligibility token does not verify under the issuer's key: " + msg
				}
				p.v.fail(CheckBallot, entries[k], "%s", msg)
				continue
			}
			b := bs[k]
			c := counted{entry: entries[k], token: [32]byte(b.TokenKey.Bytes())}
			if p.last {
				c.code = ballot.TrackingCode(b.Bytes())
				c.tok = sha256.Sum256(b.Token.Bytes())
				for _, q := range b.Questions {
					for _, ct := range q.Choices {
						c.cts = append(c.cts, ct.Bytes()...)
					}
				}
			} else {
				p.aggs[w].Add(b)
			}
			p.valid[w]++
			out = append(out, c)
		}
		p.results <- out
	}
}

func (p *pool) collect() {
	defer p.coll.Done()
	for out := range p.results {
		for _, c := range out {
			if p.last {
				// A byte-for-byte copy of an earlier ballot is a replay by
				// someone other than the voter (only the token key's holder
				// can sign a new one): it must not override a revote.
				if prev, ok := p.copies[c.code]; ok {
					a, b := min(prev, c.entry), max(prev, c.entry)
					p.copies[c.code] = a
					p.v.fail(CheckTokens, b, "a copy of the ballot of entry %d; a replayed ballot must not be on the board", a)
					continue
				}
				p.copies[c.code] = c.entry
				prev, ok := p.cur[c.token]
				if ok && prev.tok != c.tok {
					// Tokens are randomized, so an issuer that signs one
					// token key twice makes two valid tokens for it; every
					// ballot of a key must carry the same one (SPEC.md §8).
					// Each ballot is compared with one kept earlier, so a
					// difference anywhere is found whatever the order.
					a, b := min(prev.entry, c.entry), max(prev.entry, c.entry)
					p.v.fail(CheckTokens, b, "a ballot for the token key of entry %d with another eligibility token; a token key has one token (the issuer signed this key twice), so such a ballot must not be on the board", a)
				}
				if !ok || prev.entry < c.entry {
					p.cur[c.token] = c
				}
				continue
			}
			prev, ok := p.first[c.token]
			if !ok {
				p.first[c.token] = c.entry
				continue
			}
			a, b := min(prev, c.entry), max(prev, c.entry)
			p.first[c.token] = a
			p.v.fail(CheckTokens, b, "a second ballot for the token of entry %d; the election refuses a second ballot, so it must not be on the board", a)
		}
	}
}
