package service

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CORS lets the web pages of a few configured origins call a service with
// fetch(): the browser voting booth, when its static files are served from
// another origin than the issuer and the board. Without it a browser
// refuses the booth the services' answers; with a wildcard any web page a
// voter visits could use the voter's browser (and address, against the
// per-address limits) to call them and read the answers. So only origins
// named one by one are allowed, and only for what the booth needs:
//
//   - GET and POST, with no request header but Content-Type. In
//     particular a page can never make the browser send Authorization, so
//     the board's admin endpoints (bearer token) stay out of any page's
//     reach, however the token could have reached it.
//   - No credentials (no Access-Control-Allow-Credentials): the booth
//     sends no cookies and the services set none.
//   - Retry-After exposed, which the booth reads on 429 and 503.
//
// A preflight (OPTIONS with Access-Control-Request-Method) is answered
// here and never reaches the service's handler: 204 with the rules above
// for an allowed origin asking for no more than they allow, 403 with no
// CORS header otherwise. Other requests are served as without CORS; an
// allowed origin's also get Access-Control-Allow-Origin (that origin) and
// Access-Control-Expose-Headers. Every answer carries Vary: Origin, since
// it depends on it. The Origin header is never logged: it names the site
// the voter came from.
//
// A nil *CORS allows no origin and changes nothing: no header is added
// and OPTIONS reaches the handler as any other method.
type CORS struct {
	allowed map[string]bool
}

// The answers to an allowed preflight.
const (
	corsMethods = "GET, POST"
	corsHeaders = "Content-Type"
	corsExpose  = "Retry-After"
	// corsMaxAge (seconds) lets the browser cache a preflight's answer
	// for 10 minutes: a booth session makes a handful of calls, and a
	// change of configuration reaches browsers within that time.
	corsMaxAge = "600"
)

// originForm is what ParseOrigin's errors ask for.
const originForm = "want an origin as a browser sends it: scheme://host[:port], scheme http or https, all lower case, no path (not even /), query, fragment or user, and no port if it is the scheme's default (e.g. https://vote.example.org or http://localhost:8000)"

// ParseOrigin checks that s is a web origin exactly as a browser sends it
// in the Origin header, scheme://host[:port], and returns it. An origin
// is compared with what browsers send byte for byte, so a configured one
// in any other spelling (upper case, a trailing slash, :443 on https)
// would never match: it is refused rather than rewritten, with the
// spelling a browser would send when there is one. "*" and "null" are
// refused: the first would allow every web page, the second any
// sandboxed frame or local file, which any page can make.
func ParseOrigin(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("CORS origin %q: %s; %s", s, why, originForm)
	}
	switch s {
	case "":
		return bad("empty")
	case "*":
		return bad("* would let every web page call the service")
	case "null":
		return bad("null is the origin of any sandboxed frame or local file, which any web page can make")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return bad("a space, control or non-ASCII character (write an international host name in its xn-- form)")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("the scheme is not http or https")
	}
	if u.Opaque != "" || u.Host == "" {
		return bad("no host after scheme://")
	}
	if u.User != nil {
		return bad("a user name or password")
	}
	switch {
	case u.Path != "" || u.RawPath != "":
		return bad("a path (a trailing / too)")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("a query")
	case strings.Contains(s, "#"):
		return bad("a fragment")
	}
	want, err := canonicalOrigin(u)
	if err != nil {
		return bad(err.Error())
	}
	if want != s {
		return bad("a browser sends " + want)
	}
	return s, nil
}

// canonicalOrigin is u's scheme and host as a browser serialises them.
func canonicalOrigin(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("no host")
	}
	if strings.Contains(host, ":") { // an IPv6 literal
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", errors.New("not an IPv6 address in brackets")
		}
		host = "[" + a.String() + "]"
	} else {
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
				return "", fmt.Errorf("the host has %q", c)
			}
		}
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", errors.New("the port is not a number from 1 to 65535")
		}
		if !(scheme == "http" && n == 80 || scheme == "https" && n == 443) {
			host += ":" + strconv.Itoa(n)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", errors.New("an empty port")
	}
	return scheme + "://" + host, nil
}

// NewCORS returns the CORS that allows origins, each of which must be as
// [ParseOrigin] accepts it; none returns nil, which changes nothing. If
// one is refused, NewCORS returns the error and, for a caller that cannot
// return it (a handler constructor), a non-nil CORS that allows no origin
// at all: a mistyped configuration fails closed, for every origin, rather
// than open, and the booth's failing calls send its operator to the error.
func NewCORS(origins []string) (*CORS, error) {
	if len(origins) == 0 {
		return nil, nil
	}
	c := &CORS{allowed: make(map[string]bool, len(origins))}
	for _, o := range origins {
		if _, err := ParseOrigin(o); err != nil {
			return &CORS{}, err
		}
		c.allowed[o] = true
	}
	return c, nil
}

// Wrap answers preflights and adds the CORS headers to next's answers, as
// the type's documentation says. A nil c returns next.
func (c *CORS) Wrap(next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		allowed := c.allows(r)
		if _, preflight := r.Header["Access-Control-Request-Method"]; preflight && r.Method == http.MethodOptions {
			if !allowed || !preflightAsksOnlyAllowed(r) {
				NoteRefusal(w, "cors_refused")
				h.Set("Content-Type", "text/plain; charset=utf-8")
				h.Set("Cache-Control", "no-store")
				h.Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte("cross-origin request refused: only the configured origins may call this service, with GET or POST and no header but Content-Type\n"))
				return
			}
			h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			h.Set("Access-Control-Expose-Headers", corsExpose)
		}
		next.ServeHTTP(w, r)
	})
}

// allows reports whether r has one Origin header, one c allows.
func (c *CORS) allows(r *http.Request) bool {
	o := r.Header.Values("Origin")
	return len(o) == 1 && c.allowed[o[0]]
}

// preflightAsksOnlyAllowed reports whether a preflight asks for GET or
// POST and for no request header but Content-Type.
func preflightAsksOnlyAllowed(r *http.Request) bool {
	m := r.Header.Values("Access-Control-Request-Method")
	if len(m) != 1 || m[0] != http.MethodGet && m[0] != http.MethodPost {
		return false
	}
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, corsHeaders) {
				return false
			}
		}
	}
	return true
}
