package preflight

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// DefaultVPNPort is balenaCloud's VPN port, used when config.json has none.
const DefaultVPNPort = 443

func checkAPI(ctx context.Context, o Options) Check {
	c := Check{Name: "api", Status: StatusFail,
		Fix: "check the network and config.json apiEndpoint, or pass --no-api-check"}
	switch {
	case o.NoAPICheck:
		c.Status, c.Detail, c.Fix = StatusSkip, "skipped: --no-api-check", ""
		return c
	case o.APIEndpoint == "":
		c.Detail = "config.json has no apiEndpoint"
		return c
	case o.APIPing == nil:
		c.Detail = "no API client to ping " + o.APIEndpoint + " with"
		c.Fix = "this is a bug in takeover: please report it, or pass --no-api-check"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := o.APIPing(ctx); err != nil {
		c.Detail = fmt.Sprintf("pinging %s: %v", o.APIEndpoint, err)
		return c
	}
	c.Status, c.Detail, c.Fix = StatusOK, o.APIEndpoint+" answers /ping", ""
	return c
}

// checkVPN opens a TCP connection to the VPN endpoint, as the original tool
// did: it proves the port is reachable, not that OpenVPN will authenticate.
func checkVPN(ctx context.Context, o Options) Check {
	c := Check{Name: "vpn", Status: StatusFail,
		Fix: "allow outgoing TCP to the VPN endpoint in the firewall, or pass --no-vpn-check"}
	if o.NoVPNCheck {
		c.Status, c.Detail, c.Fix = StatusSkip, "skipped: --no-vpn-check", ""
		return c
	}
	if o.VPNEndpoint == "" {
		c.Detail = "config.json has no vpnEndpoint"
		return c
	}
	port := o.VPNPort
	if port == 0 {
		port = DefaultVPNPort
	}
	addr, err := dialFirst(ctx, o.VPNEndpoint, port, o)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	c.Status, c.Fix = StatusOK, ""
	c.Detail = fmt.Sprintf("%s:%d reachable at %s", o.VPNEndpoint, port, addr)
	return c
}

// dialFirst resolves host and connects to its first address within the
// timeout, then closes the connection.
func dialFirst(ctx context.Context, host string, port int, o Options) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("resolving %s: no address", host)
	}
	addr := net.JoinHostPort(addrs[0], strconv.Itoa(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("connecting to %s (%s): %w", host, addr, err)
	}
	if err := conn.Close(); err != nil {
		return "", fmt.Errorf("closing connection to %s: %w", addr, err)
	}
	return addr, nil
}
