package ops

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
)

// start runs Serve with c until the test ends and returns its address.
func start(t *testing.T, c ServerConfig) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	c.Listen = "127.0.0.1:0"
	c.Ready = func(u string) { ready <- u }
	go func() { done <- Serve(ctx, c) }()
	var u string
	select {
	case u = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	stopped := false
	stop = func() error {
		cancel()
		if stopped {
			return nil
		}
		stopped = true
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return fmt.Errorf("Serve did not return")
		}
	}
	t.Cleanup(func() { stop() })
	return strings.TrimPrefix(u, "http://"), stop
}

// A slowloris client sends its headers a byte a second to hold a
// connection (and a goroutine) forever; the server drops it once
// ReadHeaderTimeout has passed since the connection began.
func TestAttackSlowloris(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	addr, _ := start(t, ServerConfig{Handler: http.NotFoundHandler(), ReadHeaderTimeout: timeout, Name: "test"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	begin := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		io.Copy(io.Discard, c) // returns when the server closes the connection
		closed <- time.Since(begin)
	}()
	req := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
	tick := time.NewTicker(time.Second / 4)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took < timeout-100*time.Millisecond || took > timeout+time.Second {
				t.Fatalf("closed after %v, want about %v", took, timeout)
			}
			return
		case <-tick.C:
			// A byte every quarter second keeps any per-read deadline
			// fresh; only a deadline on the whole header can stop it.
			c.Write([]byte{req[i%len(req)]})
		}
		if time.Since(begin) > timeout+3*time.Second {
			t.Fatal("the server still holds a slowloris connection past its header timeout")
		}
	}
}

// On shutdown, a cast in flight still gets its receipt, after its commit:
// Serve stops accepting, waits for the cast, and the log then closes
// cleanly and holds the ballot when reopened.
func TestShutdownFinishesInFlightCast(t *testing.T) {
	isk, err := token.GenerateKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e, err := sim.New(sim.Options{Dir: dir, Issuer: isk})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Voter()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.Ballot(v, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := start(t, ServerConfig{Handler: board.NewHandler(e.Board, board.HandlerConfig{}), Name: "board"})

	// The cast: headers and half the body now, the rest after shutdown
	// has begun.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", boardapi.PathBallots, addr, len(raw))
	c.Write(raw[:len(raw)/2])
	waitInFlight(t, addr, 2) // the cast and the scrape itself

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutdown has begun once new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a cast in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.Write(raw[len(raw)/2:])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var rc board.Receipt
	json.NewDecoder(resp.Body).Decode(&rc)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the cast in flight got %d", resp.StatusCode)
	}
	cp, err := store.ParseCheckpoint([]byte(rc.Checkpoint), e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := boardapi.DecodeHashes(rc.Inclusion)
	if err != nil {
		t.Fatal(err)
	}
	leaf := store.Leaf(store.Ballot, raw)
	if err := store.VerifyInclusion(cp, rc.Index, leaf, proof); err != nil {
		t.Fatalf("the receipt does not prove the ballot: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if err := e.Log.Close(); err != nil {
		t.Fatalf("closing the log after shutdown: %v", err)
	}
	again, err := bolt.Open(dir, e.Signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	got, err := again.Leaf(rc.Index)
	if err != nil || !bytes.Equal(got, leaf) {
		t.Fatalf("reopened log: entry %d is %x (%v), want the ballot", rc.Index, got[:min(len(got), 16)], err)
	}
}

// waitInFlight polls /metrics until n requests are in flight.
func waitInFlight(t *testing.T, addr string, n float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + service.PathMetrics)
		if err != nil {
			t.Fatal(err)
		}
		m, err := service.ParseText(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if m["evote_board_http_requests_in_flight"] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in flight %v, want %v", m["evote_board_http_requests_in_flight"], n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	l, err := NewLogger(&b, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Error("shown")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Fatalf("json at warn wrote %q", s)
	}
	if _, err := NewLogger(&b, "xml", "info"); err == nil {
		t.Fatal("--log-format xml accepted")
	}
	if _, err := NewLogger(&b, "text", "loud"); err == nil {
		t.Fatal("--log-level loud accepted")
	}
}

// TestAttackConnectionsFromOneAddress: one address that opens connections
// and holds them (idle keep-alives, refreshed forever) ran a board out of
// file descriptors, and then no one could connect. Beyond the per-address
// bound a connection is closed at once; one given up frees its place.
func TestAttackConnectionsFromOneAddress(t *testing.T) {
	addr, stop := start(t, ServerConfig{Handler: http.NotFoundHandler(), MaxConnsPerAddress: 3})
	defer stop()
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		defer c.Close()
	}
	// Each held connection is served.
	for _, c := range held {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatalf("a held connection: %v", err)
		}
	}
	refused := func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		_, err = http.ReadResponse(bufio.NewReader(c), nil)
		return err != nil
	}
	if !refused() {
		t.Fatal("a fourth connection from one address was served")
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for refused() {
		if time.Now().After(deadline) {
			t.Fatal("a freed place was not given to a new connection")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
