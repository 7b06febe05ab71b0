package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/pquerna/otp/totp"
)

// codeBook is an issuer.Sender that keeps each voter's last code in
// memory, by address: the bench measures the issuer, not a mail server.
type codeBook struct {
	mu    sync.Mutex
	codes map[string]string
}

func (b *codeBook) Send(_ context.Context, m issuer.OneTimeCode) error {
	b.mu.Lock()
	b.codes[m.To] = m.Code
	b.mu.Unlock()
	return nil
}

func (b *codeBook) code(to string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.codes[to]
}

// secondFactor measures tokens issued over loopback HTTP, 64 voters at a
// time, with an e-mailed one-time code (two requests each) and with TOTP
// (one request each): the median of o.Runs elections of o.Ballots/4
// voters (at least 200) each.
func secondFactor(ctx context.Context, o Options, isk *token.PrivateKey, dir string, rep *Report) error {
	n := max(o.Ballots/4, 200)
	var email, app []float64
	for range o.Runs {
		for _, factor := range []string{issuerapi.FactorEmail, issuerapi.FactorTOTP} {
			rate, err := secondFactorRun(ctx, isk, factor, n, dir)
			if err != nil {
				return fmt.Errorf("bench: tokens with %s: %w", factor, err)
			}
			if factor == issuerapi.FactorEmail {
				email = append(email, rate)
			} else {
				app = append(app, rate)
			}
		}
	}
	slices.Sort(email)
	slices.Sort(app)
	rep.IssueTokensEmailPerS, rep.IssueTokensTOTPPerS = email[len(email)/2], app[len(app)/2]
	return nil
}

func secondFactorRun(ctx context.Context, isk *token.PrivateKey, factor string, n int, dir string) (float64, error) {
	book := &codeBook{codes: map[string]string{}}
	bd, err := os.MkdirTemp(dir, "2fa-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(bd)
	so := sim.SiteOptions{Options: sim.Options{Issuer: isk, Dir: bd}, Voters: n}
	if factor == issuerapi.FactorEmail {
		so.SecondFactor, so.Sender = factor, book
	}
	site, err := sim.StartSite(ctx, so)
	if err != nil {
		return 0, err
	}
	defer site.Stop()
	secrets := map[string]string{}
	if factor == issuerapi.FactorTOTP {
		for _, v := range site.Voters {
			uri, err := site.Issuer.EnrolTOTP(ctx, v[0], "evote bench", v[0])
			if err != nil {
				return 0, err
			}
			u, _ := url.Parse(uri)
			secrets[v[0]] = u.Query().Get("secret")
		}
	}
	m := site.Board.Manifest()
	blinded := make([][]byte, n)
	for i := range blinded {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if blinded[i], _, err = token.Blind(rand.Reader, m.Issuer(), m.ID(), pub); err != nil {
			return 0, err
		}
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer hc.CloseIdleConnections()
	client := issuerapi.NewClient(site.IssuerURL, hc)
	start := time.Now()
	err = concurrently(n, 64, func(i int) error {
		v := site.Voters[i]
		cred := issuerapi.Credentials{VoterID: v[0], Code: v[1]}
		if factor == issuerapi.FactorTOTP {
			code, err := totp.GenerateCode(secrets[v[0]], time.Now())
			if err != nil {
				return err
			}
			cred.SecondFactor = code
		} else {
			if _, err := client.RequestToken(ctx, cred, blinded[i]); !errors.Is(err, issuerapi.ErrSecondFactorRequired) {
				return fmt.Errorf("the enrolment code alone: %v, want second_factor_required", err)
			}
			cred.SecondFactor = book.code(sim.TestContact(v[0]).Email)
		}
		_, err := client.RequestToken(ctx, cred, blinded[i])
		return err
	})
	if err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// concurrently runs fn(0..n-1) on workers goroutines: requests over HTTP
// wait on the network, so more of them than cores are in flight.
func concurrently(n, workers int, fn func(i int) error) error {
	var mu sync.Mutex
	next, first := 0, error(nil)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}
