package main

import (
	"net/netip"

	"github.com/rctdb/rctdb/failover"
	"github.com/rctdb/rctdb/failover/linuxhost"
)

// forFailover is the Linux host as failover's Host.
func forFailover(h *linuxhost.Host) failover.Host { return adapter{h} }

type adapter struct{ *linuxhost.Host }

func (a adapter) LinksUp(ifaces []string) (map[string]bool, error) {
	links, err := a.Links(ifaces)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(links))
	for name, l := range links {
		if l.Exists {
			out[name] = l.Up
		}
	}
	return out, nil
}

func (a adapter) Addresses(ifaces []string) (map[string][]netip.Prefix, error) {
	all, err := a.Host.Addresses(ifaces)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]netip.Prefix, len(all))
	for name, as := range all {
		for _, x := range as {
			out[name] = append(out[name], x.Prefix)
		}
	}
	return out, nil
}
