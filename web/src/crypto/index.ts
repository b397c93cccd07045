/**
 * Coffer's browser crypto and protocol library (docs/crypto.md), byte for
 * byte compatible with the Go reference (internal/crypto, internal/srp).
 * Every failure to open sealed data is a DecryptError.
 */
export * from './errors.ts';
export * from './bytes.ts';
export * from './labels.ts';
export * from './envelope.ts';
export * from './ed25519.ts';
export * from './kdf.ts';
export * from './srp.ts';
export * from './hpke.ts';
export * from './tree.ts';
export * from './names.ts';
export * from './record.ts';
export * from './content.ts';
export * from './revision.ts';
export * from './file.ts';
export * from './inbox.ts';
export * from './link.ts';
export * from './linkdrop.ts';
export * from './linklogin.ts';
