package cli

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certHolder serves the current certificate to TLS handshakes and can swap
// it atomically; handshakes in progress keep the certificate they got.
type certHolder struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func newCertHolder(certFile, keyFile string) (*certHolder, error) {
	h := &certHolder{certFile: certFile, keyFile: keyFile}
	if err := h.reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// reload reads the certificate and key files again. On failure the previous
// certificate stays in use.
func (h *certHolder) reload() error {
	c, err := tls.LoadX509KeyPair(h.certFile, h.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s and key %s: %w", h.certFile, h.keyFile, err)
	}
	h.cert.Store(&c)
	return nil
}

func (h *certHolder) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h.cert.Load(), nil
}

func (h *certHolder) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: h.getCertificate,
	}
}
