package main

import (
	"crypto/x509"
	"errors"
	"net"
	"net/url"

	"github.com/jackc/pgx/v5/pgconn"
)

// networkHint says what to do about an error that is the network's or
// TLS's, not a service's answer: such a failure is no evidence against
// the board or the issuer.
func networkHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	// A PostgreSQL store's connection (--store postgres:DSN): its TLS is
	// the DSN's, not --ca-cert's, and its other failures say themselves
	// what to check.
	var db *pgconn.ConnectError
	if errors.As(err, &db) {
		switch {
		case errors.As(err, &unknown):
			return "the database's TLS certificate is signed by an authority this machine does not trust: name its CA in the DSN, ?sslmode=verify-full&sslrootcert=/etc/evote/db-ca.pem (--ca-cert is for HTTPS to the services, not the database)."
		case errors.As(err, &hostname), errors.As(err, &invalid):
			return "the database's TLS certificate does not fit the DSN's host or is not valid now: check the host in the DSN, and the certificate with the database's operator."
		}
		return ""
	}
	switch {
	case errors.As(err, &unknown):
		return "the service's TLS certificate is signed by an authority this machine does not trust: for a private or self-signed deployment, give its CA certificate with --ca-cert FILE. This is a connection problem, not evidence against the service."
	case errors.As(err, &hostname), errors.As(err, &invalid):
		return "the service's TLS certificate does not fit this address or is not valid now: check the URL, and the certificate with the service's operator. This is a connection problem, not evidence against the service."
	}
	// Only a request's or a connection's failure: a missing local file's
	// errno also has the net.Error methods, and is no network problem.
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &ue) || errors.As(err, &oe) {
		return "the service could not be reached: check the URL and the network, then run the same command again. This is a connection problem, not evidence against the service."
	}
	return ""
}
