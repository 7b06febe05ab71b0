package dkg

import "github.com/evote/evote/crypto/ceremony"

// The ceremony's public half, its messages and Qualify, is package
// crypto/ceremony, which verifiers and the voter import without this
// package's secrets and HPKE. The names below are its, so that a trustee's
// code reads as one package; see crypto/ceremony for their documentation.

// MaxTrustees is the largest n: indices are one byte and 0 is where the
// secret lives.
const MaxTrustees = ceremony.MaxTrustees

// Encoding sizes.
const (
	EncryptionKeySize  = ceremony.EncryptionKeySize  // X25519 public key
	EncryptedShareSize = ceremony.EncryptedShareSize // HPKE enc || sealed scalar || tag
	AnnouncementSize   = ceremony.AnnouncementSize
	ComplaintSize      = ceremony.ComplaintSize
	AnswerSize         = ceremony.AnswerSize
)

// Reasons a trustee gives for a complaint.
const (
	ReasonUndecryptable = ceremony.ReasonUndecryptable
	ReasonMismatch      = ceremony.ReasonMismatch
)

// The ceremony's public messages.
type (
	Announcement   = ceremony.Announcement
	EncryptedShare = ceremony.EncryptedShare
	Deal           = ceremony.Deal
	Complaint      = ceremony.Complaint
	Answer         = ceremony.Answer
	Check          = ceremony.Check
)

// ParseAnnouncement is ceremony.ParseAnnouncement.
func ParseAnnouncement(b []byte) (*Announcement, error) { return ceremony.ParseAnnouncement(b) }

// ParseDeal is ceremony.ParseDeal.
func ParseDeal(b []byte) (*Deal, error) { return ceremony.ParseDeal(b) }

// ParseComplaint is ceremony.ParseComplaint.
func ParseComplaint(b []byte) (*Complaint, error) { return ceremony.ParseComplaint(b) }

// ParseAnswer is ceremony.ParseAnswer.
func ParseAnswer(b []byte) (*Answer, error) { return ceremony.ParseAnswer(b) }

// ParseCheck is ceremony.ParseCheck.
func ParseCheck(b []byte) (*Check, error) { return ceremony.ParseCheck(b) }

// The ceremony's public outcome.
type (
	Result           = ceremony.Result
	Fault            = ceremony.Fault
	Disqualification = ceremony.Disqualification
	CeremonyError    = ceremony.CeremonyError
)

// The faults, in the order Qualify looks for them (ceremony.Fault).
const (
	FaultNoDeal     = ceremony.FaultNoDeal
	FaultTwoDeals   = ceremony.FaultTwoDeals
	FaultWrongT     = ceremony.FaultWrongT
	FaultWrongN     = ceremony.FaultWrongN
	FaultBadProof   = ceremony.FaultBadProof
	FaultUnanswered = ceremony.FaultUnanswered
	FaultBadAnswer  = ceremony.FaultBadAnswer
)

// Qualify is ceremony.Qualify: it decides the ceremony from its public
// messages, the same for every trustee and verifier.
func Qualify(context []byte, n, t int, anns []*Announcement, deals []*Deal, complaints []*Complaint, answers []*Answer) (*Result, error) {
	return ceremony.Qualify(context, n, t, anns, deals, complaints, answers)
}
