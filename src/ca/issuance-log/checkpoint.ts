// Signed checkpoints of the issuance log: "the log held `size` entries and the last one's hash was
// `head`", signed with the log key. A verifier that keeps one can later prove a removed, changed or
// truncated entry, since the chain up to `size` must still end in `head`.
import { type KeyObject, sign, verify } from 'node:crypto';
import { invalidInput } from '../../errors.js';
import { keyIdOf } from './log-key.js';

export interface Checkpoint {
  /** How many entries the log held (entries seq 0 … size-1). */
  size: number;
  /** The hash of entry size-1; GENESIS_HASH when size is 0. */
  head: string;
  time: string;
  /** SHA-256 (hex) of the log key's SubjectPublicKeyInfo DER. */
  keyId: string;
  /** Ed25519 signature (base64) over checkpointMessage(). */
  signature: string;
}

/** The exact bytes signed (UTF-8): four lines after a fixed first line, each ending in "\n". */
export function checkpointMessage(c: Omit<Checkpoint, 'signature'>): string {
  return `meshca-issuance-log-checkpoint/v1\n${c.size}\n${c.head}\n${c.time}\n${c.keyId}\n`;
}

export function signCheckpoint(
  key: { privateKey: KeyObject; keyId: string },
  size: number,
  head: string,
  time = new Date(),
): Checkpoint {
  const unsigned = { size, head, time: time.toISOString(), keyId: key.keyId };
  const signature = sign(null, Buffer.from(checkpointMessage(unsigned), 'utf8'), key.privateKey);
  return { ...unsigned, signature: signature.toString('base64') };
}

/** Whether `c` is signed by `publicKey` (and names that key). */
export function checkpointSignatureValid(c: Checkpoint, publicKey: KeyObject): boolean {
  if (c.keyId !== keyIdOf(publicKey)) return false;
  try {
    return verify(
      null,
      Buffer.from(checkpointMessage(c), 'utf8'),
      publicKey,
      Buffer.from(c.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

/** Reads one checkpoint from its JSON text (a file the verifier kept, or one line of checkpoints.jsonl). */
export function parseCheckpoint(text: string, where: string): Checkpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidInput('LOG_BAD_CHECKPOINT', `${where} is not a checkpoint: ${(err as Error).message}`);
  }
  const c = value as Partial<Checkpoint>;
  const ok =
    typeof c === 'object' &&
    c !== null &&
    Number.isSafeInteger(c.size) &&
    (c.size as number) >= 0 &&
    typeof c.head === 'string' &&
    /^[0-9a-f]{64}$/.test(c.head) &&
    typeof c.time === 'string' &&
    typeof c.keyId === 'string' &&
    typeof c.signature === 'string';
  if (!ok)
    throw invalidInput(
      'LOG_BAD_CHECKPOINT',
      `${where} is not a checkpoint: it needs size, head (64 hex digits), time, keyId and signature, as "meshca log checkpoint" prints them`,
    );
  return { size: c.size!, head: c.head!, time: c.time!, keyId: c.keyId!, signature: c.signature! };
}
