// Stands in for Node's "crypto" module in the browser build. @hpke/common
// imports it only where globalThis.crypto is missing (Node 18 and older),
// and in a browser its webcrypto is the Web Crypto object itself.
export const webcrypto = globalThis.crypto;
