// Package invite delivers each voter their invitation: their personal link
// to the booth and their enrolment code, by e-mail over SMTP or as a
// mail-merge file for the organisation's own mailer.
//
// # Inputs
//
// The roll CSV "voter_id,enrolment_code" (issuer's format, as "evote issuer
// roll" writes it) gives each voter's code; the contacts CSV
// "voter_id,email,phone,lang" (as "evote issuer import" writes it) gives
// where to send it and in which language (it or en; empty is it). Every
// contact must be on the roll; a voter on the roll with no e-mail address
// is counted, not sent to. The link is the booth's ([booth.Link]): the
// election id, the voter id and the code in the URL's #fragment, which
// browsers never send to a server, so the booth's host never learns codes.
//
// # Why the code travels by e-mail, and what that costs
//
// The code is the voter's only credential (until a second factor exists):
// whoever reads the message can vote in the voter's place. So the message
// goes to the submission server only over TLS (implicit TLS, or STARTTLS
// that is required, never opportunistic: a server or a man in the middle
// that does not offer STARTTLS stops the run), with the server's certificate
// checked (a private CA with [SMTPConfig.RootCAs]); plaintext is allowed only
// to a loopback address, for a local relay. What happens after the
// submission server is the mail system's business: the templates tell the
// voter not to forward it.
//
// Nothing this package logs names a voter, a code or a link: progress and
// reports count voters. [Report.Failures] names the voters whose sending
// failed, for a file the operator asks for; its error texts have any code
// or link they happen to echo replaced.
//
// # Resending
//
// A state file records, per voter, how many times an invitation was
// accepted by the server and when last. A voter already sent to is skipped,
// unless [Options.Resend]: then they are sent again only if their last send
// is older than the cool-down and they have had fewer than the maximum
// sends, so a mistaken rerun, or an operator pressing the button twice,
// does not flood a voter or make invitations a harassment channel. The
// state is written with internal/durable (0600) every [stateFlushEvery]
// sends and at the end, so a crash can forget at most that many sends. One
// run at a time per state file. The state names voters: delete it with the
// roll when the election is over.
//
// # One-time codes
//
// The issuer's second factor sends a one-time code after the enrolment
// code, through an [issuer.Sender]: [CodeMailer] e-mails it under the
// rules above (a connection per code, at most ten at once, so it is safe
// for the issuer's concurrent requests), and [SMSWebhook] POSTs it as
// JSON to the SMS provider's webhook with a bearer token, over https (http
// only to loopback), following no redirect. Their texts are
// code-LANG.txt (e-mail) and sms-LANG.txt (one SMS, at most
// [MaxSMSLength] characters), built in or from the authority's directory
// ([LoadCodeTemplates]). Neither puts the code, the address or the number
// in an error: the issuer logs a failed send's error.
package invite
