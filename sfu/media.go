package sfu

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/sfu/internal/pionlog"
)

// newMux binds the single media port on every admitted interface address.
func newMux(cfg *Config, lf pionlog.Factory) (*ice.MultiUDPMuxDefault, error) {
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithLogger(lf.NewLogger("udpmux")),
		ice.UDPMuxFromPortWithNetworks(iceNetworkTypes(cfg.NetworkTypes)...),
	}
	if filter := interfaceFilter(cfg.Interfaces); filter != nil {
		opts = append(opts, ice.UDPMuxFromPortWithInterfaceFilter(filter))
	}
	if cfg.AllowLoopback {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback())
	}
	mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, opts...)
	if err != nil {
		return nil, fmt.Errorf("sfu: bind media port %d: %w", cfg.UDPPort, err)
	}
	if len(mux.GetListenAddresses()) == 0 {
		_ = mux.Close()
		return nil, ErrNoMediaAddress
	}
	return mux, nil
}

func iceNetworkTypes(types []webrtc.NetworkType) []ice.NetworkType {
	out := make([]ice.NetworkType, 0, len(types))
	for _, t := range types {
		switch t {
		case webrtc.NetworkTypeUDP4:
			out = append(out, ice.NetworkTypeUDP4)
		case webrtc.NetworkTypeUDP6:
			out = append(out, ice.NetworkTypeUDP6)
		}
	}
	return out
}

func interfaceFilter(names []string) func(string) bool {
	if len(names) == 0 {
		return nil
	}
	allowed := slices.Clone(names)
	return func(name string) bool { return slices.Contains(allowed, name) }
}

// newAPI builds the Pion API shared by every PeerConnection: the codecs
// browsers send, the default interceptors (NACK generator and responder with
// RTX, RTCP sender and receiver reports, TWCC feedback, stream statistics)
// and the network settings.
func newAPI(cfg *Config, mux ice.UDPMux, lf pionlog.Factory) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	// Opus, G.722, PCMU, PCMA; VP8, VP9, H.264 (several profiles), AV1 and
	// H.265, each video codec with RTX.
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("sfu: register codecs: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, reg,
		webrtc.WithInterceptorLoggerFactory(lf)); err != nil {
		return nil, fmt.Errorf("sfu: register interceptors: %w", err)
	}

	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes(cfg.NetworkTypes)
	if filter := interfaceFilter(cfg.Interfaces); filter != nil {
		se.SetInterfaceFilter(filter)
	}
	se.SetIncludeLoopbackCandidate(cfg.AllowLoopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout, cfg.ICEKeepaliveInterval)
	if cfg.PublicIP != "" {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        []string{cfg.PublicIP},
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return nil, fmt.Errorf("sfu: set public IP %s: %w", cfg.PublicIP, err)
		}
	}
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se),
	), nil
}

// mediaAddrs returns the local media socket addresses.
func mediaAddrs(mux ice.UDPMux) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range mux.GetListenAddresses() {
		if ua, ok := a.(*net.UDPAddr); ok {
			ap := ua.AddrPort()
			out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	return out
}
