package issuer

import (
	"bytes"
	"testing"
	"time"
)

// TestAddrTagIPv6: addresses of one IPv6 /64 are one address to the
// back-off; another /64, an IPv4 address and a mapped one are not.
func TestAddrTagIPv6(t *testing.T) {
	is := &Issuer{rollKey: make([]byte, 32)}
	a, b := is.addrTag("2001:db8:1:2::1"), is.addrTag("2001:db8:1:2:ffff:ffff:ffff:ffff")
	if !bytes.Equal(a, b) {
		t.Fatal("two addresses of one /64 back off apart")
	}
	for _, other := range []string{"2001:db8:1:3::1", "192.0.2.1", "::ffff:192.0.2.1"} {
		if bytes.Equal(a, is.addrTag(other)) {
			t.Fatalf("%s backs off with 2001:db8:1:2::/64", other)
		}
	}
}

// TestUnfailKeepsOthersWait: a right code's attempt given back lifts only
// the wait its own count set: one that the address's other wrong codes set
// stays (two issuers racing let 8 codes be tested where 6 may).
func TestUnfailKeepsOthersWait(t *testing.T) {
	now := time.Unix(1000, 0)
	tag := []byte("addr")
	var rec RollEntry
	for range FreeFailures + 2 {
		rec.fail(tag, now) // the others' wrong codes, and this attempt's count
	}
	rec.unfail(tag)
	if !rec.waiting(tag, now) {
		t.Fatal("giving back one attempt lifted the wait the others' wrong codes set")
	}
	var one RollEntry
	for range FreeFailures + 1 {
		one.fail(tag, now)
	}
	one.unfail(tag)
	if one.waiting(tag, now) {
		t.Fatal("the wait this attempt's own count set stayed after its code was right")
	}
}
