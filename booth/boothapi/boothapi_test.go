package boothapi

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

// TestFailureOfSecondFactor: the issuer's second factor answers reach the
// page with their code, the factor, where the code went and the wait, and
// a one-time code that cannot be one is the booth's own factor_form.
func TestFailureOfSecondFactor(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Failure
	}{
		{&issuerapi.Error{StatusCode: 401, Code: issuerapi.CodeSecondFactorRequired, Factor: issuerapi.FactorEmail, SentTo: "m•••@e•••.it"},
			Failure{Code: "issuer.second_factor_required", Factor: "email", SentTo: "m•••@e•••.it"}},
		{fmt.Errorf("voter: %w", &issuerapi.Error{StatusCode: 401, Code: issuerapi.CodeBadSecondFactor, Factor: issuerapi.FactorSMS, SentTo: "•••• 4567"}),
			Failure{Code: "issuer.bad_second_factor", Factor: "sms", SentTo: "•••• 4567"}},
		{&issuerapi.Error{StatusCode: 401, Code: issuerapi.CodeSecondFactorRequired, Factor: issuerapi.FactorTOTP},
			Failure{Code: "issuer.second_factor_required", Factor: "totp"}},
		{&issuerapi.Error{StatusCode: 429, Code: issuerapi.CodeTooManyCodes, RetryAfter: 40 * time.Minute},
			Failure{Code: "issuer.too_many_codes", RetryAfter: 2400}},
		{&issuerapi.Error{StatusCode: 503, Code: issuerapi.CodeSendFailed, RetryAfter: 30 * time.Second},
			Failure{Code: "issuer.send_failed", RetryAfter: 30}},
		{&issuerapi.Error{StatusCode: 403, Code: issuerapi.CodeNoSecondFactor}, Failure{Code: "issuer.no_second_factor"}},
		{&boardapi.Error{StatusCode: 429, Code: boardapi.CodeRateLimited, RetryAfter: 2 * time.Second}, Failure{Code: "board.rate_limited", RetryAfter: 2}},
		{fmt.Errorf("booth: %w", voter.ErrMalformedSecondFactor), Failure{Code: CodeFactorForm}},
		{errors.New("something else"), Failure{Code: CodeCheckFailed}},
	} {
		got := FailureOf(c.err)
		c.want.Message = c.err.Error()
		if got != c.want {
			t.Errorf("FailureOf(%v) = %+v, want %+v", c.err, got, c.want)
		}
	}
}
