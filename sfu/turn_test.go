package sfu

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

type turnClient struct {
	client *turn.Client
	relay  net.PacketConn
}

// dialTURN allocates a relay on the SFU's TURN server over UDP.
func dialTURN(t *testing.T, s *SFU, creds TURNCredentials) *turnClient {
	t.Helper()
	host := strings.TrimPrefix(strings.SplitN(creds.URLs[0], "?", 2)[0], "turn:")
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: host,
		TURNServerAddr: host,
		Conn:           conn,
		Username:       creds.Username,
		Password:       creds.Credential,
		Realm:          "bedside",
	})
	if err != nil {
		t.Fatalf("turn client: %v", err)
	}
	if err := client.Listen(); err != nil {
		t.Fatalf("turn listen: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	relay, err := client.AllocateWithContext(ctx)
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	t.Cleanup(func() {
		_ = relay.Close()
		client.Close()
		_ = conn.Close()
	})
	return &turnClient{client: client, relay: relay}
}
