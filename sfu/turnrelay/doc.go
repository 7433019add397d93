// Package turnrelay runs an embedded TURN server (RFC 8656, Pion TURN v5)
// whose relays reach only the SFU's own media addresses.
//
// A client that cannot send UDP to the SFU directly (a strict firewall, a
// network that allows only TCP) allocates a relay here and the SFU's ICE agent
// talks to that relay. The server is deliberately useless as a general relay:
//
//   - CreatePermission, ChannelBind and Connect requests are granted only for
//     an exact media address of the SFU (IP and port). Pion's permission hook
//     receives the peer IP alone, so a wrapper around the listening sockets
//     records the XOR-PEER-ADDRESS attributes (IP and port) of each request
//     before Pion handles it, and the hook checks those.
//   - Each relay socket also drops every datagram to or from any other address,
//     so even a permission granted by mistake relays nothing elsewhere.
//   - TCP relay allocations (RFC 6062) are rejected. TURN over TCP as the
//     client transport is supported; the relay itself is UDP.
//
// Credentials follow the TURN REST API scheme: the username is
// "expiry:userID" (expiry in Unix seconds) and the password is
// base64(HMAC-SHA1(secret, username)). Anyone holding the secret can issue
// them, so several processes can share one secret.
//
// When the SFU advertises a public address (1:1 NAT), a client asks for a
// permission to that public address; the relay delivers those datagrams to
// the matching local media address, because a host behind 1:1 NAT often
// cannot reach its own public address.
package turnrelay
