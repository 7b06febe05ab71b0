package issuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/issuer/issuerapi"
)

// downRoll is a roll whose storage can be made unreachable, as a
// networked engine's is while its database restarts: every method then
// fails with ErrRollUnavailable and changes nothing.
type downRoll struct {
	Roll
	down atomic.Bool
}

func (d *downRoll) fail() error {
	return fmt.Errorf("%w (dial tcp 127.0.0.1:5432: connect: connection refused)", ErrRollUnavailable)
}

func (d *downRoll) Get(ctx context.Context, id string) (RollEntry, error) {
	if d.down.Load() {
		return RollEntry{}, d.fail()
	}
	return d.Roll.Get(ctx, id)
}

func (d *downRoll) Update(ctx context.Context, id string, change func(*RollEntry) error) (RollEntry, error) {
	if d.down.Load() {
		return RollEntry{}, d.fail()
	}
	return d.Roll.Update(ctx, id, change)
}

// TestRollUnavailable: a token request while the roll cannot be reached
// is answered 503 with Retry-After and words saying to send it again (it
// was a 500 "internal error"), changes nothing, and logs a warning without
// the voter's ID or code; the same request once the roll is back gets its
// token. The client sees an overloaded issuer, which it retries.
func TestRollUnavailable(t *testing.T) {
	roll := &downRoll{Roll: NewMemRoll()}
	f := newFixture(t, 2, roll, HandlerConfig{})
	id := f.ids[0]
	blinded, _ := blind(t, newTokenKey(t))
	body := tokenBody(t, id, f.codes[id], blinded)

	roll.down.Store(true)
	resp, e := postFrom(t, f.srv.URL, "198.51.100.9", body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != fmt.Sprint(RollRetryAfter) ||
		e.Code != issuerapi.CodeOverloaded || !strings.Contains(e.Error, "send the same request again") {
		t.Fatalf("token request while the roll is unreachable: %d, Retry-After %q, %+v; want 503, Retry-After %d, saying to retry",
			resp.StatusCode, resp.Header.Get("Retry-After"), e, RollRetryAfter)
	}
	if strings.Contains(e.Error, "127.0.0.1") || strings.Contains(e.Error, "dial") {
		t.Errorf("the storage error's own text reached the client: %q", e.Error)
	}
	_, err := f.client.RequestToken(context.Background(), issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded)
	var ae *issuerapi.Error
	if !errors.Is(err, issuerapi.ErrOverloaded) || !errors.As(err, &ae) || ae.RetryAfter != time.Duration(RollRetryAfter)*time.Second {
		t.Fatalf("the client's view of an unreachable roll: %v; want ErrOverloaded with Retry-After %d s", err, RollRetryAfter)
	}

	roll.down.Store(false)
	if rec, _ := roll.Get(context.Background(), id); rec.Issued() || rec.Failures != 0 || len(rec.Backoffs) != 0 {
		t.Fatalf("requests refused for an unreachable roll changed the entry: %+v", rec)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "voter roll could not be reached") || !strings.Contains(logs, "connection refused") {
		t.Errorf("no warning with the storage error in the log:\n%s", logs)
	}
	if strings.Contains(logs, id) {
		t.Errorf("the voter ID reached the log:\n%s", logs)
	}
	sig, err := f.client.RequestToken(context.Background(), issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded)
	if err != nil {
		t.Fatalf("the same request once the roll is back: %v", err)
	}
	if rec, _ := roll.Get(context.Background(), id); !rec.Issued() || !bytes.Equal(rec.BlindSig, sig) {
		t.Fatalf("the token given is not the one recorded: %+v", rec)
	}
}

// TestAdminRollUnavailable: the help desk's admin API answers a roll it
// cannot reach 503 with Retry-After, saying to try again (it was a 500),
// and the same request once the roll is back is answered.
func TestAdminRollUnavailable(t *testing.T) {
	roll := &downRoll{Roll: NewMemRoll()}
	f := newFixture(t, 2, roll, HandlerConfig{AdminToken: adminTok})
	admin := issuerapi.NewAdminClient(f.srv.URL, f.srv.Client(), adminTok)
	roll.down.Store(true)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+issuerapi.PathAdminVoter, strings.NewReader(fmt.Sprintf(`{"voter_id":%q}`, f.ids[0])))
	req.Header.Set("Authorization", "Bearer "+adminTok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != fmt.Sprint(RollRetryAfter) {
		t.Fatalf("help desk show with the roll down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	roll.down.Store(false)
	if st, err := admin.Voter(context.Background(), f.ids[0]); err != nil || !st.OnRoll {
		t.Fatalf("help desk show once the roll is back: %+v, %v", st, err)
	}
}
