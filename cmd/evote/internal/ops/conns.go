package ops

import (
	"net"
	"sync"
)

// DefaultMaxConnsPerAddress bounds the connections one client address may
// hold open to a service. Without a bound one address held 1,013 idle
// keep-alive connections, refreshed forever, until the board ran out of
// file descriptors and no one else could connect, not even /healthz. The
// load generator's 256 connections, and a NAT's crowd, fit well inside it;
// behind a reverse proxy, where every client has the proxy's address, raise
// it or turn it off (negative).
const DefaultMaxConnsPerAddress = 1024

// connLimiter is a listener that closes, as soon as it accepts it, a
// connection beyond perAddr from its address or beyond total in all (0:
// no bound). The total is kept below the file descriptor limit, so that the
// service can still open its store and answer the connections it holds.
type connLimiter struct {
	net.Listener
	perAddr, total int

	mu  sync.Mutex
	n   map[string]int
	all int
}

func limitConns(ln net.Listener, perAddr, total int) net.Listener {
	if perAddr <= 0 && total <= 0 {
		return ln
	}
	return &connLimiter{Listener: ln, perAddr: perAddr, total: total, n: map[string]int{}}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, err := net.SplitHostPort(c.RemoteAddr().String())
		if err != nil {
			host = c.RemoteAddr().String()
		}
		l.mu.Lock()
		full := l.total > 0 && l.all >= l.total || l.perAddr > 0 && l.n[host] >= l.perAddr
		if !full {
			l.n[host]++
			l.all++
		}
		l.mu.Unlock()
		if full {
			c.Close()
			continue
		}
		return &countedConn{Conn: c, l: l, host: host}, nil
	}
}

type countedConn struct {
	net.Conn
	l    *connLimiter
	host string
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.n[c.host]--; c.l.n[c.host] <= 0 {
			delete(c.l.n, c.host)
		}
		c.l.all--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
