// Browser implementation of the Bedside end-to-end encryption formats,
// byte-compatible with the Go package e2ee. docs/e2ee.md is the
// specification; testdata/e2ee holds the vectors both implementations check.
export * from './attachment';
export * from './device';
export * from './errors';
export * from './keys';
export * from './message';
export * from './padding';
export * from './payload';
export * from './replay';
export * from './safety';
export { WORD_LIST } from './wordlist';
export { fromHex, toHex, validID } from './wire';
