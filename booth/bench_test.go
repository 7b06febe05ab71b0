package booth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/browsertest"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

// benchChoices is a ballot of the booth test's manifest: Yes, and two of
// five.
var benchChoices = [][]int{{0}, {1, 3}}

// BenchmarkSeal encrypts and proves one ballot (voter.Client.Seal: the
// ciphertexts, their 0/1 and range proofs, the signature) natively and in
// headless Chromium, in the booth's worker as a voter's browser runs it, on
// the same election in the same run. The chromium case reports the median
// of its seals as median-ms, and ns/op includes the page's messages to the
// worker.
//
//	go test -run '^$' -bench Seal -benchtime 50x ./booth/
func BenchmarkSeal(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := startBoothSite(b, ctx)
	e := s.Board.Election()
	// Each case's setup runs once: a benchmark's func runs again for each b.N
	// tried, and a voter gets one token.
	vc := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: boardapi.NewClient(s.BoardURL, nil), BoardKey: s.Verifier, ManifestHash: e.Manifest.Hash()}
	tk, err := voter.NewTicket(nil, e, s.Voters[5][0])
	if err != nil {
		b.Fatal(err)
	}
	if err := vc.GetToken(ctx, e, tk, s.Voters[5][1], ""); err != nil {
		b.Fatal(err)
	}
	var tab context.Context
	choices, _ := json.Marshal(benchChoices)
	b.Run("native", func(b *testing.B) {
		var ms []float64
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if err := vc.Seal(e, tk, benchChoices); err != nil {
				b.Fatal(err)
			}
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
		b.ReportMetric(median(ms), "median-ms")
	})
	outer := b
	b.Run("chromium", func(b *testing.B) {
		browsertest.Chromium(b)
		if tab == nil {
			tab = chromiumWorker(outer, ctx, s)
		}
		b.ResetTimer()
		ms, err := chromedp.Run(tab, chromedp.Evaluate[[]float64](fmt.Sprintf(`benchCall("bench", {ticket: benchTicket, choices: %s, n: %d}).then(r => r.millis)`, choices, b.N), chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(median(ms), "median-ms")
	})
}

// chromiumWorker opens the booth in Chromium and starts a worker of the
// booth's own beside the page's, driven by the booth's protocol
// (boothapi): the same files, digests checked, as the page runs; it gets
// a voter's token, and leaves benchCall and benchTicket on the page.
func chromiumWorker(b *testing.B, ctx context.Context, s *boothSite) context.Context {
	tab, cancel := chromedp.NewContext(browsertest.New(b, ctx, "en-GB"))
	b.Cleanup(cancel)
	{
		if err := chromedp.Do(tab, chromedp.Navigate(s.BoardURL+"/"), chromedp.WaitVisible(chromedp.ID("s-login"))); err != nil {
			b.Fatal(err)
		}
		expr := fmt.Sprintf(`(async () => {
			const t0 = performance.now();
			const cfg = JSON.parse(document.getElementById("evote-config").textContent);
			const src = await (await fetch("worker.js", {integrity: cfg.files["worker.js"]})).text();
			const w = new Worker(URL.createObjectURL(new Blob([src], {type: "text/javascript"})));
			let next = 0; const pending = {};
			const ready = new Promise((res, rej) => { w.onmessage = (ev) => { const m = ev.data;
				if (m.type === "ready") res(); else if (m.type === "fatal") rej(m.message);
				else if (m.type === "result") { const p = pending[m.id]; m.error ? p.rej(JSON.stringify(m.error)) : p.res(m.result); } }; });
			w.postMessage({type: "start", wasm: new URL("booth.wasm", location.href).href, integrity: cfg.files["booth.wasm"]});
			await ready;
			const t1 = performance.now();
			const call = (op, arg) => new Promise((res, rej) => { const id = ++next; pending[id] = {res, rej}; w.postMessage({type: "call", id, op, arg}); });
			await call("init", Object.assign({}, cfg, {board: location.origin, issuer: cfg.issuer}));
			await call("election");
			const t2 = performance.now();
			let r = await call("new_ticket", {voter_id: %q});
			r = await call("token", {ticket: r.ticket, code: %q});
			const t3 = performance.now();
			window.benchTicket = r.ticket;
			window.benchCall = call;
			return [t1 - t0, t2 - t1, t3 - t2];
		})()`, s.Voters[4][0], s.Voters[4][1])
		ms, err := chromedp.Run(tab, chromedp.Evaluate[[]float64](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("chromium, loopback: worker fetched, checked and compiled in %.0f ms; election read and its ceremony checked in %.0f ms; token in %.0f ms", ms[0], ms[1], ms[2])
	}
	return tab
}

func median(ms []float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	return s[len(s)/2]
}
