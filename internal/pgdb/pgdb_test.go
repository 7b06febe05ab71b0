package pgdb_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/evote/evote/internal/pgdb"
	"github.com/evote/evote/internal/pgtest"
)

// TestConnectHints: a failed connection says what to do, by what the
// server answered: no such database, no such role, nothing listening.
func TestConnectHints(t *testing.T) {
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(*url.URL)
		want string
	}{
		{func(u *url.URL) { u.Path = "/evote_no_such_database" }, "create it (createdb)"},
		{func(u *url.URL) { u.User = url.User("evote_no_such_role") }, "create the role"},
		{func(u *url.URL) { u.Host = "127.0.0.1:1" }, "is the server running"},
	} {
		v := *u
		tc.edit(&v)
		_, err := pgdb.Open(context.Background(), v.String(), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", v.Redacted(), err, tc.want)
		}
	}
}
