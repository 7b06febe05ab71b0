package board

import (
	"errors"
	"testing"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/service"
)

// TestAnswersAgreeWithAPI: every row of the server's table of answers
// carries a code that boardapi's client maps to a sentinel, each code has
// one status, and the codes internal/service writes are boardapi's.
func TestAnswersAgreeWithAPI(t *testing.T) {
	sentinels := []error{boardapi.ErrBadRequest, boardapi.ErrInvalidBallot, boardapi.ErrInvalidEntry, boardapi.ErrUnauthorized,
		boardapi.ErrNotOpen, boardapi.ErrClosed, boardapi.ErrNotClosed, boardapi.ErrAlreadyOpen, boardapi.ErrCeremonyIncomplete, boardapi.ErrTrusteesMissing,
		boardapi.ErrNotFound, boardapi.ErrMethodNotAllowed, boardapi.ErrAlreadyVoted, boardapi.ErrBallotOnBoard, boardapi.ErrTooLarge,
		boardapi.ErrUnsupportedType, boardapi.ErrRateLimited, boardapi.ErrInternal, boardapi.ErrOverloaded, boardapi.ErrStorage}
	status := map[string]int{boardapi.CodeRateLimited: 429, boardapi.CodeOverloaded: 503, boardapi.CodeInternal: 500}
	for _, a := range answers {
		known := false
		for _, s := range sentinels {
			known = known || errors.Is(&boardapi.Error{Code: a.code}, s)
		}
		if !known {
			t.Errorf("the answer to %v has code %q, which boardapi does not know", a.err, a.code)
		}
		if st, ok := status[a.code]; ok && st != a.status {
			t.Errorf("code %q comes with status %d and %d", a.code, st, a.status)
		}
		status[a.code] = a.status
	}
	if service.CodeRateLimited != boardapi.CodeRateLimited || service.CodeOverloaded != boardapi.CodeOverloaded {
		t.Error("internal/service writes codes boardapi does not know")
	}
	if service.PathHealth != boardapi.PathHealth || service.PathMetrics != boardapi.PathMetrics {
		t.Error("internal/service serves other paths than boardapi names")
	}
}
