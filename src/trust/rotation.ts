import type { NkeyPair } from './nkey.js';

/** What the new key signs: the node, its current key and its new one. */
export function rotationBytes(node: string, oldKey: string, newKey: string): Buffer {
  return Buffer.from(`steward-rotate-v1\n${node}\n${oldKey}\n${newKey}`);
}

/** The data of a REQKeyRotate message: the new key, and its signature of the rotation. */
export interface RotationClaim {
  readonly newKey: string;
  readonly sig: string;
}

export function parseRotation(data: readonly string[]): RotationClaim | undefined {
  try {
    const v = JSON.parse(data.join('')) as Partial<RotationClaim>;
    if (typeof v.newKey === 'string' && /^U[A-Z2-7]{55}$/.test(v.newKey) && typeof v.sig === 'string')
      return { newKey: v.newKey, sig: v.sig };
  } catch {
    // not a rotation
  }
  return undefined;
}

export type { NkeyPair };
