// Serial numbers for leaf certificates: random, positive, at most 128 bits, drawn from a pool
// refilled 256 at a time (one call into the CSPRNG instead of one per certificate).
import { randomFillSync } from 'node:crypto';
import { integer } from './der-writer.js';

const SERIAL_BYTES = 16;
const serialPool = Buffer.alloc(SERIAL_BYTES * 256);
let serialPoolAt = serialPool.length;

/** 16 random bytes with the top bit cleared (positive, at most 128 bits) and not all zero (RFC 5280 4.1.2.2). */
export function newSerial(): { der: Buffer; hex: string } {
  for (;;) {
    if (serialPoolAt === serialPool.length) {
      randomFillSync(serialPool);
      serialPoolAt = 0;
    }
    const bytes = Buffer.from(serialPool.subarray(serialPoolAt, serialPoolAt + SERIAL_BYTES));
    serialPoolAt += SERIAL_BYTES;
    bytes[0]! &= 0x7f;
    if (bytes.some((b) => b !== 0)) {
      const der = integer(bytes);
      // The magnitude, as `openssl x509 -serial` and CertificateInfo.serialHex print it: without the
      // 00 byte DER puts before a first byte of 0x80 or more (a 1-in-512 case that made the issued
      // serial differ from the parsed one).
      const content = der.subarray(2);
      const magnitude = content.length > 1 && content[0] === 0 ? content.subarray(1) : content;
      return { der, hex: magnitude.toString('hex').toUpperCase() };
    }
  }
}
