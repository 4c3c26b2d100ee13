package failure

import (
	"errors"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// classifyQUIC maps the errors of quic-go and its HTTP/3 layer: a version
// negotiation that failed, a stateless reset, CONNECTION_REFUSED, a TLS
// alert carried in a CRYPTO_ERROR, other transport errors and HTTP/3
// application errors. Timeouts (handshake or idle) are net.Errors and
// classified as such by the caller.
func classifyQUIC(err error) (string, bool) {
	if _, ok := errors.AsType[*quic.VersionNegotiationError](err); ok {
		return QUICIncompatibleVersion, true
	}
	if _, ok := errors.AsType[*quic.StatelessResetError](err); ok {
		return QUICStatelessReset, true
	}
	if te, ok := errors.AsType[*quic.TransportError](err); ok {
		switch {
		case te.ErrorCode == quic.ConnectionRefused:
			return ConnectionRefused, true
		case te.ErrorCode >= 0x100 && te.ErrorCode < 0x200: // CRYPTO_ERROR: 0x100 + the TLS alert
			return SSLFailedHandshake, true
		}
		return QUICTransportError, true
	}
	if _, ok := errors.AsType[*http3.Error](err); ok {
		return QUICApplicationError, true
	}
	if _, ok := errors.AsType[*quic.ApplicationError](err); ok {
		return QUICApplicationError, true
	}
	if _, ok := errors.AsType[*quic.StreamError](err); ok {
		return QUICApplicationError, true
	}
	return "", false
}
