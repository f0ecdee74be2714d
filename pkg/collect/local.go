package collect

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"portwatch/pkg/runerr"
	"portwatch/pkg/traffic"
)

// ParseLocal reads --local values: CIDR prefixes or single addresses (each
// may list several, comma-separated) naming this host's side of capture files.
func ParseLocal(values []string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if p, err := netip.ParsePrefix(f); err == nil {
				prefixes = append(prefixes, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, runerr.BadInputf("--local %q: pass a CIDR prefix such as 192.168.1.0/24 or an address", f)
			}
			a = a.Unmap()
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return prefixes, nil
}

// interfaceAddrs is the host's side of live traffic: every address of its
// interfaces, each as a single address (the subnet holds other hosts).
// Without them the round's local side is inferred as for a file.
func interfaceAddrs(log *slog.Logger) traffic.Local {
	addrs, err := net.InterfaceAddrs()
	var local traffic.Local
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				ip = ip.Unmap()
				local.Prefixes = append(local.Prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			}
		}
	}
	if len(local.Prefixes) == 0 {
		log.Warn("no interface addresses: inferring the local side of the round's traffic", "err", err)
		return traffic.Local{From: traffic.FromInferred}
	}
	local.From = traffic.FromInterfaces
	return local
}
