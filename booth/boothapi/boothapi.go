// Package boothapi is the contract between the booth's page and its Web
// Worker, where the voter client runs as WebAssembly (booth/wasm): the
// booth's configuration, the operations the worker answers, their
// arguments and results, and the codes of its failures, which the page's
// catalogues turn into what the voter reads.
//
// Everything crosses as JSON text. The page never interprets a ticket: it
// stores the text it is given and hands it back.
package boothapi

import (
	"context"
	"errors"
	"net/url"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

// Config is the booth's configuration, written into its page by evote
// booth build and so covered by the page's hash: which election, and whom
// to trust for it. The board's key and the manifest's hash are pinned
// here, never taken from the board.
type Config struct {
	Version      int    `json:"version"`          // 1
	ElectionID   string `json:"election_id"`      // hex
	Title        string `json:"title"`            // the manifest's, shown before the board answers
	Opens        string `json:"opens,omitempty"`  // the manifest's, shown before voting opens
	Closes       string `json:"closes,omitempty"` // the manifest's
	ManifestHash string `json:"manifest_hash"`    // hex
	BoardKey     string `json:"board_key"`        // the board's note verifier key
	// Board and Issuer are the services' base URLs; "" means the booth's
	// own origin (evote board serve --booth serves the booth beside the
	// board's API).
	Board  string `json:"board"`
	Issuer string `json:"issuer"`
	// Files maps each file the page loads after itself to its Subresource
	// Integrity digest ("sha384-…"); the page refuses a file that does
	// not match.
	Files map[string]string `json:"files"`
}

// The worker's operations.
const (
	OpInit      = "init"       // arg: Config (its Board and Issuer resolved); no result
	OpElection  = "election"   // no arg; ElectionResult
	OpNewTicket = "new_ticket" // TicketArg{VoterID}; TicketResult{Ticket}
	// OpToken asks for the ticket's token: TicketArg{Ticket, Code} first,
	// and, once it failed with "issuer.second_factor_required" (Failure's
	// Factor and SentTo say which and where it went), again with
	// SecondFactor, the one-time code. The ticket's seed gives the same
	// blinded message every time. TicketResult{Ticket}.
	OpToken        = "token"
	OpSeal         = "seal"          // TicketArg{Ticket, Choices}; TicketResult{Ticket, Fingerprint}
	OpAudit        = "audit"         // TicketArg{Ticket}; TicketResult{Ticket, Audit, Fingerprint}
	OpPrepareCast  = "prepare_cast"  // TicketArg{Ticket}; TicketResult{Ticket}: without the opening, to save before OpCast
	OpCast         = "cast"          // TicketArg{Ticket}; TicketResult{Ticket, Receipt, TrackingCode, Index}
	OpCheckReceipt = "check_receipt" // ReceiptArg; TicketResult{TrackingCode, Index, Size}
	OpCheckAudit   = "check_audit"   // TicketArg{Audit}; TicketResult{Fingerprint, Choices}
	OpBench        = "bench"         // TicketArg{Ticket, Choices, N}; TicketResult{Millis}
)

// ElectionResult describes the election, once the worker has checked it
// against the pinned manifest hash and board key. Before the board opens
// (or after it closes) only Phase is set.
type ElectionResult struct {
	Phase      string            `json:"phase"`
	ElectionID string            `json:"election_id,omitempty"`
	Title      string            `json:"title,omitempty"`
	Questions  []ballot.Question `json:"questions,omitempty"`
	Opens      string            `json:"opens,omitempty"`
	Closes     string            `json:"closes,omitempty"`
	Revoting   string            `json:"revoting,omitempty"`
}

// TicketArg is the argument of the ticket operations.
type TicketArg struct {
	Ticket  string `json:"ticket,omitempty"` // voter.Ticket, as the worker last returned it
	VoterID string `json:"voter_id,omitempty"`
	Code    string `json:"code,omitempty"`
	// SecondFactor is the one-time code as typed (OpToken normalises it:
	// voter.NormalizeSecondFactor).
	SecondFactor string  `json:"second_factor,omitempty"`
	Choices      [][]int `json:"choices,omitempty"`
	Audit        string  `json:"audit,omitempty"` // voter.Audit JSON
	N            int     `json:"n,omitempty"`
}

// ReceiptArg is the argument of OpCheckReceipt.
type ReceiptArg struct {
	Receipt string `json:"receipt"` // voter.Receipt JSON, the receipt file
}

// TicketResult is what the ticket operations return; each sets the fields
// its operation names.
type TicketResult struct {
	Ticket       string    `json:"ticket,omitempty"`
	TrackingCode string    `json:"tracking_code,omitempty"`
	Fingerprint  string    `json:"fingerprint,omitempty"` // ballot.Fingerprint of the sealed ballot's body
	Audit        string    `json:"audit,omitempty"`
	Receipt      string    `json:"receipt,omitempty"`
	Index        uint64    `json:"index,omitempty"`
	Size         uint64    `json:"size,omitempty"`
	Choices      [][]int   `json:"choices,omitempty"`
	Millis       []float64 `json:"millis,omitempty"`
}

// Failure is a refused operation: Code for the page's catalogue, Message
// (English, technical) for the console.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Factor and SentTo come with the issuer's second factor answers
	// (issuerapi.Error's): the factor asked for and, for a code it sent,
	// the masked address or number it went to.
	Factor string `json:"factor,omitempty"`
	SentTo string `json:"sent_to,omitempty"`
	// RetryAfter is the service's Retry-After in seconds (429, 503), or
	// 0: the page tells the voter how long to wait.
	RetryAfter int `json:"retry_after,omitempty"`
}

// Failure codes not from a service. A service's refusal is "board." or
// "issuer." followed by its API code (boardapi.CodeAlreadyVoted gives
// "board.already_voted").
const (
	CodeNetwork       = "network"        // the service could not be reached
	CodeSplitView     = "split_view"     // the board showed two histories: evidence, keep it
	CodeAuditMismatch = "audit_mismatch" // the audited ballot does not encrypt what was shown
	CodeCheckFailed   = "check_failed"   // an answer or a file failed a check
	CodeCodeForm      = "code_form"      // what was typed cannot be an enrolment code (issuerapi.NormalizeCode)
	CodeFactorForm    = "factor_form"    // what was typed cannot be a one-time code (voter.NormalizeSecondFactor)
	CodeFileFormat    = "file_format"    // a file given to check is not a receipt or audit file
	CodeNotCosigned   = "not_cosigned"   // the ballot is cast, but the witnesses have not cosigned it yet
)

// ErrNetwork is a request that got no answer: the network failed, or the
// service did not answer this origin (CORS). The worker's transport wraps
// it.
var ErrNetwork = errors.New("booth: the service could not be reached")

// ErrFileFormat is a receipt or audit file that does not parse: the
// wrong file, not evidence.
var ErrFileFormat = errors.New("booth: not a receipt or audit file")

// FailureOf classifies err for the page.
func FailureOf(err error) Failure {
	f := Failure{Code: CodeCheckFailed, Message: err.Error()}
	var be *boardapi.Error
	var ie *issuerapi.Error
	var ue *url.Error
	switch {
	case errors.Is(err, voter.ErrNotCosigned): // before the board's own word, which it wraps
		f.Code = CodeNotCosigned
	case errors.As(err, &be):
		f.Code, f.RetryAfter = "board."+be.Code, int(be.RetryAfter.Seconds())
	case errors.As(err, &ie):
		f.Code = "issuer." + ie.Code
		f.Factor, f.SentTo, f.RetryAfter = ie.Factor, ie.SentTo, int(ie.RetryAfter.Seconds())
	case errors.Is(err, boardapi.ErrClosed):
		f.Code = "board." + boardapi.CodeClosed
	case errors.Is(err, boardapi.ErrNotOpen):
		f.Code = "board." + boardapi.CodeNotOpen
	case errors.Is(err, ErrFileFormat):
		f.Code = CodeFileFormat
	case errors.Is(err, issuerapi.ErrMalformedCode):
		f.Code = CodeCodeForm
	case errors.Is(err, voter.ErrMalformedSecondFactor):
		f.Code = CodeFactorForm
	case errors.Is(err, voter.ErrSplitView):
		f.Code = CodeSplitView
	case errors.Is(err, ballot.ErrOpeningMismatch):
		f.Code = CodeAuditMismatch
	case errors.Is(err, ErrNetwork), errors.As(err, &ue), errors.Is(err, context.DeadlineExceeded):
		f.Code = CodeNetwork
	}
	return f
}
