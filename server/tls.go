package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/bedside-health/bedside/store"
)

// Names of the development certificate files in the data directory.
const (
	devCertFile = "dev-tls-cert.pem"
	devKeyFile  = "dev-tls-key.pem"
)

func (s *Server) loadTLS() (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case s.cfg.TLSCert != "":
		cert, err = tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("invalid --tls-cert %q or --tls-key %q: %w; give a PEM "+
				"certificate and its matching private key", s.cfg.TLSCert, s.cfg.TLSKey, err)
		}
	case s.cfg.DevTLS:
		cert, err = loadOrCreateDevCert(s.cfg.DataDir)
		if err != nil {
			return nil, err
		}
		s.log.Warn("serving a self-signed development certificate; browsers will warn, " +
			"use --tls-cert and --tls-key in production")
	default:
		if s.cfg.InsecureHTTP {
			s.log.Warn("serving plain HTTP because of --insecure-http; "+
				"a TLS-terminating proxy must sit in front of this server", "addr", s.cfg.Addr)
		}
		return nil, nil
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// loadOrCreateDevCert returns the development certificate from dir,
// creating a self-signed one for localhost, 127.0.0.1 and ::1 on first use.
func loadOrCreateDevCert(dir string) (tls.Certificate, error) {
	certPath := filepath.Join(dir, devCertFile)
	keyPath := filepath.Join(dir, devKeyFile)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		return cert, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("load development certificate: %w; "+
			"delete %s and %s to generate new ones", err, certPath, keyPath)
	}
	certPEM, keyPEM, err := generateDevCert(time.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{keyPath, keyPEM}, {certPath, certPEM}} {
		_, err := store.WriteFileExclusive(f.path, func(w io.Writer) (int64, error) {
			n, err := w.Write(f.data)
			return int64(n), err
		})
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("write development certificate: %w", err)
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func generateDevCert(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate development key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Bedside development certificate"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create development certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode development key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// removeIfExists deletes path, ignoring a missing file.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
