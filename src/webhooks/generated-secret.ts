import { randomBytes } from 'node:crypto';
import type { CredentialSpec } from '../spec/types.ts';

/**
 * A fresh secret for a credential declared with `generated`: `whsec` = "whsec_" + base64 of 24 random bytes
 * (the Standard Webhooks form Sequence accepts), `hex32` = 32 random bytes as hex.
 */
export function generateSecret(kind: NonNullable<CredentialSpec['generated']>): string {
  switch (kind) {
    case 'whsec':
      return `whsec_${randomBytes(24).toString('base64')}`;
    case 'hex32':
      return randomBytes(32).toString('hex');
  }
}
