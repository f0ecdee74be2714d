package traffic

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"portwatch/internal/publicsuffix"
	"portwatch/pkg/packet"
)

// DNS query types counted in DNSStats.TXTNullShare: the record types
// tunnels carry data in.
const (
	dnsTypeNULL = 10
	dnsTypeTXT  = 16
	rcodeNX     = 3
)

// dnsAgg sums a round's unicast DNS.
type dnsAgg struct {
	queries, responses, nx, txtNull int64
	labels, labelSum                int64
	maxLabel                        int
	nxDepth                         int
	nxName                          string
	entropySum, maxEntropy          float64
	names                           map[string]int32 // query name -> index into domains
	domains                         []DomainStat
	domainIndex                     map[string]int32
}

func (d *dnsAgg) reset() {
	names, index := d.names, d.domainIndex // dropped when roomy, as the Aggregator's flows
	if len(names) > roomyRound {
		names = make(map[string]int32)
	} else {
		clear(names)
	}
	if len(index) > roomyRound {
		index = nil // made when a domain comes
	} else {
		clear(index)
	}
	*d = dnsAgg{names: names, domains: d.domains[:0], domainIndex: index}
}

// add counts p if it is a unicast DNS message; a query whose name is past
// MaxNames counts in the round's figures and in *overflow, not per domain.
func (d *dnsAgg) add(p *packet.Packet, overflow *int64) {
	if !strings.HasSuffix(p.Protocols, ":dns") {
		return
	}
	if p.DNSResponse {
		d.responses++
		if p.DNSRcode == rcodeNX {
			d.nx++
			if n := depth(p.QryName); n > d.nxDepth {
				d.nxDepth, d.nxName = n, p.QryName
			}
		}
		return
	}
	if p.QryName == "" {
		return
	}
	d.queries++
	if p.DNSType == dnsTypeTXT || p.DNSType == dnsTypeNULL {
		d.txtNull++
	}
	longest := d.addLabels(p.QryName)
	e := entropy(p.QryName)
	d.entropySum += e
	d.maxEntropy = max(d.maxEntropy, e)

	i, ok := d.names[p.QryName]
	if !ok {
		if len(d.names) >= MaxNames {
			*overflow++
			return
		}
		i = d.domain(Registered(p.QryName))
		d.names[p.QryName] = i
		d.domains[i].Names++
		d.domains[i].MaxLabel = max(d.domains[i].MaxLabel, longest)
	}
	d.domains[i].Queries++
}

// domain returns the index of a registered domain's DomainStat.
func (d *dnsAgg) domain(name string) int32 {
	if d.domainIndex == nil {
		d.domainIndex = make(map[string]int32)
	}
	i, ok := d.domainIndex[name]
	if !ok {
		i = int32(len(d.domains))
		d.domainIndex[name] = i
		d.domains = append(d.domains, DomainStat{Domain: name})
	}
	return i
}

// addLabels counts a name's labels and returns the longest, in bytes on
// the wire: the decoder writes a byte that is not printable as \DDD, and
// the backslash itself so, so each backslash stands for 4 characters of 1 byte.
func (d *dnsAgg) addLabels(name string) int {
	longest := 0
	for label := range strings.SplitSeq(strings.TrimSuffix(name, "."), ".") {
		n := len(label) - 3*strings.Count(label, "\\")
		d.labels++
		d.labelSum += int64(n)
		longest = max(longest, n)
	}
	d.maxLabel = max(d.maxLabel, longest)
	return longest
}

func (d *dnsAgg) summarize() (DNSStats, []DomainStat) {
	st := DNSStats{Queries: d.queries, Responses: d.responses, Names: int64(len(d.names)), MaxLabel: d.maxLabel,
		MaxEntropy: d.maxEntropy, NXDepth: d.nxDepth, NXName: d.nxName}
	if d.queries > 0 {
		st.Entropy = d.entropySum / float64(d.queries)
		st.TXTNullShare = float64(d.txtNull) / float64(d.queries)
	}
	if d.labels > 0 {
		st.MeanLabel = float64(d.labelSum) / float64(d.labels)
	}
	if d.responses > 0 {
		st.NXDomainShare = float64(d.nx) / float64(d.responses)
	}
	domains := slices.Clone(d.domains)
	slices.SortFunc(domains, func(x, y DomainStat) int {
		return cmp.Or(cmp.Compare(y.Names, x.Names), strings.Compare(x.Domain, y.Domain))
	})
	return st, domains
}

// Registered is a name's registered domain (eTLD+1, public suffix list),
// or the name itself when it has none (a bare suffix, "<Root>").
func Registered(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if r, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil {
		return r
	}
	return name
}

// depth is how many labels a name has below its registered domain: 0 for
// the domain itself, a name without one and a reverse lookup (.arpa).
func depth(name string) int {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "arpa" || strings.HasSuffix(name, ".arpa") {
		return 0
	}
	return strings.Count(name, ".") - strings.Count(Registered(name), ".")
}

// entropy is the Shannon entropy of a name's characters, dots left out,
// in bits per character: about 3 for words, 4.5 and more for encoded data.
func entropy(name string) float64 {
	var counts [256]int
	n := 0
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			counts[name[i]]++
			n++
		}
	}
	if n == 0 {
		return 0
	}
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h
}
