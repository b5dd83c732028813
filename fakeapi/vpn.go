package fakeapi

import (
	"errors"
	"net"
	"time"
)

// StartVPN listens on addr (loopback only) as a stand-in for the VPN
// endpoint: it accepts TCP connections, counts them and closes them, which
// is all takeover's VPN check needs. It returns the address listened on.
func (s *Server) StartVPN(addr string) (string, error) {
	ln, err := listenLoopback(addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.vpn = ln
	s.mu.Unlock()
	go s.acceptVPN(ln)
	return ln.Addr().String(), nil
}

func (s *Server) acceptVPN(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.log.WithError(err).Warn("accepting vpn connection")
			time.Sleep(50 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		s.mu.Lock()
		s.vpnConns++
		s.mu.Unlock()
		c.Close()
	}
}

// VPNConnections counts the connections the VPN listener accepted.
func (s *Server) VPNConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vpnConns
}
