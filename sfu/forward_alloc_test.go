//go:build !race

package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

// TestForwardDoesNotAllocate guards the forwarding path against heap
// allocations per packet. The race detector adds its own, hence the build tag.
func TestForwardDoesNotAllocate(t *testing.T) {
	f, _ := benchForwarder(t, 3)
	b := videoPacket(t)
	var pkt rtp.Packet
	f.forward(b, &pkt)
	if got := testing.AllocsPerRun(1000, func() { f.forward(b, &pkt) }); got != 0 {
		t.Errorf("got %.1f allocations per forwarded packet, want 0", got)
	}
}
