package loadtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// holdPath is what a held connection asks for: the cheapest request the
// board answers.
const holdPath = "/healthz"

// holdPing is how often each held connection makes a request, to stay
// well inside the server's idle timeout (2 minutes for evote's services).
const holdPing = 30 * time.Second

// held is one idle keep-alive connection to the board.
type held struct {
	mu sync.Mutex
	c  net.Conn
	r  *bufio.Reader
}

// holder keeps n idle keep-alive connections open: the crowd of voters
// whose browsers sit on the board's page while others cast.
type holder struct {
	host   string
	conns  []*held
	failed atomic.Int64
	first  atomic.Value
	stop   chan struct{}
	done   chan struct{}
}

// startHold opens n connections to the board at base (its URL), each with
// one request answered, from workers goroutines; a connection that cannot
// be opened is counted as an error, not fatal. Towards a loopback board it
// spreads the connections over source addresses 127.0.0.1-64, so that the
// ephemeral ports of one source address (about 28,000) do not bound them.
func startHold(ctx context.Context, base string, tc *tls.Config, n int) (*holder, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	if u.Scheme == "https" {
		if tc == nil {
			tc = &tls.Config{}
		}
		tc = tc.Clone()
		tc.ServerName = u.Hostname()
	} else {
		tc = nil
	}
	ip := net.ParseIP(u.Hostname())
	loop := ip != nil && ip.IsLoopback() && ip.To4() != nil
	h := &holder{host: u.Host, conns: make([]*held, n), stop: make(chan struct{}), done: make(chan struct{})}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				d := &net.Dialer{Timeout: 10 * time.Second}
				if loop {
					d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%64))}
				}
				c, err := d.DialContext(ctx, "tcp", host)
				if err == nil && tc != nil {
					tcn := tls.Client(c, tc)
					if err = tcn.HandshakeContext(ctx); err != nil {
						c.Close()
					}
					c = tcn
				}
				if err != nil {
					h.fail(fmt.Errorf("opening held connection %d: %w", i, err))
					continue
				}
				hc := &held{c: c, r: bufio.NewReaderSize(c, 1024)}
				if err := hc.ping(h.host); err != nil {
					c.Close()
					h.fail(fmt.Errorf("held connection %d: %w", i, err))
					continue
				}
				h.conns[i] = hc
			}
		}()
	}
	wg.Wait()
	go h.refresh()
	return h, ctx.Err()
}

func (h *holder) fail(err error) {
	h.failed.Add(1)
	h.first.CompareAndSwap(nil, err.Error())
}

// ping makes one request on the connection and reads the answer.
func (hc *held) ping(host string) error {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.c == nil {
		return errors.New("connection dropped")
	}
	hc.c.SetDeadline(time.Now().Add(30 * time.Second))
	defer hc.c.SetDeadline(time.Time{})
	if _, err := io.WriteString(hc.c, "GET "+holdPath+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(hc.r, nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", holdPath, resp.Status)
	}
	if resp.Close {
		return errors.New("the server closed the connection")
	}
	return nil
}

// refresh pings every connection once each holdPing, spread evenly, until
// stopped; a connection that fails is dropped and counted.
func (h *holder) refresh() {
	defer close(h.done)
	if len(h.conns) == 0 {
		<-h.stop
		return
	}
	gap := holdPing / time.Duration(len(h.conns))
	t := time.NewTicker(max(gap, time.Millisecond))
	defer t.Stop()
	for i := 0; ; i = (i + 1) % len(h.conns) {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		if hc := h.conns[i]; hc != nil {
			if err := hc.ping(h.host); err != nil {
				h.drop(i, err)
			}
		}
	}
}

func (h *holder) drop(i int, err error) {
	hc := h.conns[i]
	hc.mu.Lock()
	if hc.c != nil {
		hc.c.Close()
		hc.c = nil
		h.fail(fmt.Errorf("held connection %d dropped: %w", i, err))
	}
	hc.mu.Unlock()
}

// finish checks every held connection with one more request, closes them
// all and returns how many were still held and answering.
func (h *holder) finish() int {
	close(h.stop)
	<-h.done
	var ok atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, hc := range h.conns {
		if hc == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := hc.ping(h.host); err != nil {
				h.drop(i, err)
				return
			}
			ok.Add(1)
			hc.mu.Lock()
			hc.c.Close()
			hc.c = nil
			hc.mu.Unlock()
		}()
	}
	wg.Wait()
	return int(ok.Load())
}
