// Property tests of the DER reader against hostile bytes: random input, mutations of valid encodings,
// and round trips of what the encoder writes. It may only return nodes that tile their parents
// exactly in canonical DER, or refuse with PKI_DER_MALFORMED; anything else is a bug.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildWorkloadCsr } from '../../src/pki/build-workload-csr.js';
import {
  children,
  contentOf,
  type DerNode,
  encodingOf,
  readBitString,
  readBoolean,
  readDer,
  readOid,
  readSmallInteger,
  readString,
  readTlv,
  TAG,
} from '../../src/pki/der-reader.js';
import { oid, smallInteger, tlv, utf8String } from '../../src/pki/der-writer.js';
import { decodePem } from '../../src/pki/pem.js';
import { layOut, lengthRule, mutateTree, mutations, nodesOf, type Tlv, treeOf } from './der-mutations.js';
import { check, guarded, outcomeOf, runsFor } from './fuzz-settings.js';

const DER_ERROR = /^PKI_DER_MALFORMED$/;
const refusedOrRead = <T>(fn: () => T) => outcomeOf(fn, ['invalid-input'], DER_ERROR);

const PRIMITIVE_READERS: Record<number, (buf: Buffer, node: DerNode) => unknown> = {
  [TAG.OID]: readOid,
  [TAG.BOOLEAN]: readBoolean,
  [TAG.INTEGER]: readSmallInteger,
  [TAG.BIT_STRING]: readBitString,
};

/**
 * Reads everything in `buf` without recursion (nesting depth is the attacker's), checks every node
 * is canonical and tiles its parent, and tries the matching primitive reader on each leaf.
 */
function walk(buf: Buffer, opts: { primitives: boolean } = { primitives: true }): number {
  const root = readDer(buf);
  const stack: DerNode[] = [root];
  let count = 0;
  while (stack.length > 0) {
    const node = stack.pop()!;
    count++;
    assert.ok(node.start < node.valueStart && node.valueStart <= node.end && node.end <= buf.length);
    assert.equal(node.length, node.end - node.valueStart);
    // Accepted means canonical: the minimal encoding of the same tag and contents is these bytes.
    assert.ok(
      encodingOf(buf, node).equals(tlv(node.tag, contentOf(buf, node))),
      'non-canonical DER accepted',
    );
    if (node.constructed) {
      const kids = children(buf, node);
      let at = node.valueStart;
      for (const kid of kids) {
        assert.equal(kid.start, at, 'children leave a gap');
        at = kid.end;
      }
      assert.equal(at, node.end, 'children do not fill their parent');
      // Not push(...kids): a megabyte SEQUENCE holds more children than a call takes arguments.
      for (const kid of kids) stack.push(kid);
    } else if (opts.primitives) {
      const reader = PRIMITIVE_READERS[node.tag];
      if (reader) refusedOrRead(() => reader(buf, node));
      refusedOrRead(() => readString(buf, node));
    }
  }
  return count;
}

/** A DER tree made with the project's encoder: low tag numbers, any contents. */
const anyTree: fc.Arbitrary<Tlv> = fc.letrec<{ node: Tlv }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .record({
        tag: fc.integer({ min: 0, max: 255 }).filter((t) => (t & 0x1f) !== 0x1f && (t & 0x20) === 0),
        content: fc
          .oneof(
            { arbitrary: fc.uint8Array({ maxLength: 24 }), weight: 4 },
            fc.uint8Array({ minLength: 120, maxLength: 300 }),
          )
          .map((b) => Buffer.from(b)),
      })
      .map((r): Tlv => ({ ...r })),
    fc
      .record({
        tag: fc.integer({ min: 0, max: 255 }).filter((t) => (t & 0x1f) !== 0x1f && (t & 0x20) !== 0),
        children: fc.array(tie('node'), { maxLength: 4 }),
      })
      .map((r): Tlv => ({ ...r })),
  ),
})).node;

function encodeWithProjectEncoder(node: Tlv): Buffer {
  return node.children
    ? tlv(node.tag, ...node.children.map(encodeWithProjectEncoder))
    : tlv(node.tag, node.content!);
}

function readBack(buf: Buffer, node: DerNode): Tlv {
  return node.constructed
    ? { tag: node.tag, children: children(buf, node).map((c) => readBack(buf, c)) }
    : { tag: node.tag, content: Buffer.from(contentOf(buf, node)) };
}

const ecKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const csrDer = (key: typeof ecKey) =>
  decodePem(buildWorkloadCsr({ key, uri: 'spiffe://cluster.local/ns/default/sa/fuzz' }))[0]!.der;
/** Valid inputs to mutate: real CSRs (nested SEQUENCEs, SETs, [0], OIDs, strings, BIT STRINGs). */
const VALID = [csrDer(ecKey), csrDer(rsaKey)];
const validTree = fc.oneof(
  fc.constantFrom(...VALID).map((der) => treeOf(der)),
  anyTree,
);

describe('DER reader, fuzzed', () => {
  it('random bytes are read canonically or refused with PKI_DER_MALFORMED', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // Bytes drawn mostly from tags and length octets, so headers nest more often than by chance.
      fc
        .array(
          fc.constantFrom(
            0x30,
            0x31,
            0xa0,
            0x02,
            0x04,
            0x06,
            0x00,
            0x01,
            0x02,
            0x03,
            0x80,
            0x81,
            0x82,
            0x84,
            0xff,
          ),
          {
            maxLength: 48,
          },
        )
        .map((a) => Uint8Array.from(a)),
    );
    check(
      fc.property(
        bytes,
        guarded((b: Uint8Array) => {
          refusedOrRead(() => walk(Buffer.from(b)));
        }),
      ),
      runsFor(500),
    );
  });

  it('readTlv at any offset and limit inside a buffer answers or refuses', () => {
    check(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        guarded((b: Uint8Array, x: number, y: number) => {
          const buf = Buffer.from(b);
          const limit = y % (buf.length + 1);
          const offset = x % (limit + 1);
          const result = refusedOrRead(() => readTlv(buf, offset, limit));
          if (result.ok) assert.ok(result.value.end <= limit && result.value.start === offset);
        }),
      ),
      runsFor(300),
    );
  });

  it("what the project's encoder writes reads back as the same tree", () => {
    check(
      fc.property(
        anyTree,
        guarded((tree: Tlv) => {
          const der = encodeWithProjectEncoder(tree);
          assert.deepEqual(readBack(der, readDer(der)), tree);
          walk(der, { primitives: false });
        }),
      ),
      runsFor(300),
    );
  });

  it('mutations of valid encodings are read canonically or refused with PKI_DER_MALFORMED', () => {
    check(
      fc.property(
        validTree,
        mutations,
        guarded((tree: Tlv, ms) => {
          refusedOrRead(() => walk(mutateTree(tree, ms)));
        }),
      ),
      runsFor(500),
    );
  });

  it('a non-minimal length anywhere is refused as exactly that, at its offset', () => {
    check(
      fc.property(
        fc.oneof(
          fc.constantFrom(...VALID).map((der) => treeOf(der, { encapsulated: false })),
          anyTree,
        ),
        fc.nat(),
        // At most two zeros: with two length octets that makes four, the most the reader reads.
        fc.integer({ min: 0, max: 2 }),
        guarded((tree: Tlv, pick: number, extraZeros: number) => {
          const nodes = nodesOf(tree);
          const target = nodes[pick % nodes.length]!;
          target.length = { kind: 'non-minimal', extraZeros };
          const spans = new Map();
          const der = layOut(tree, spans);
          target.length = undefined;
          const result = refusedOrRead(() => walk(der, { primitives: false }));
          assert.ok(!result.ok, 'a non-minimal length was accepted');
          assert.equal(
            result.error.message,
            `malformed DER: non-minimal length at offset ${spans.get(target).start}`,
          );
        }),
      ),
      runsFor(300),
    );
  });

  it("a child that runs past its parent's end is refused as exactly that, even with bytes to spare", () => {
    check(
      fc.property(
        fc.oneof(
          fc.constantFrom(...VALID).map((der) => treeOf(der, { encapsulated: false })),
          anyTree,
        ),
        fc.nat(),
        fc.nat(),
        guarded((tree: Tlv, pick: number, grow: number) => {
          const spans = new Map<Tlv, { start: number; valueStart: number; end: number }>();
          const total = layOut(tree, spans).length;
          // A parent followed by at least one byte, whose last child can grow into what follows.
          const parents = nodesOf(tree).filter((n) => n.children?.length && spans.get(n)!.end < total);
          fc.pre(parents.length > 0);
          const parent = parents[pick % parents.length]!;
          const child = parent.children!.at(-1)!;
          const room = total - spans.get(parent)!.end;
          const delta = 1 + (grow % room);
          child.length = { kind: 'delta', delta };
          const grown = new Map<Tlv, { start: number; valueStart: number; end: number }>();
          const der = layOut(tree, grown);
          child.length = undefined;
          const c = grown.get(child)!;
          const p = grown.get(parent)!;
          const declared = c.end - c.valueStart + delta;
          const result = refusedOrRead(() => walk(der, { primitives: false }));
          assert.ok(!result.ok, 'a child running past its parent was accepted');
          assert.equal(
            result.error.message,
            `malformed DER: value at offset ${c.start} claims ${declared} bytes but only ${p.end - c.valueStart} remain`,
          );
        }),
      ),
      runsFor(300),
    );
  });

  it('huge, extended and odd length fields never throw anything but PKI_DER_MALFORMED', () => {
    check(
      fc.property(
        validTree,
        fc.nat(),
        lengthRule,
        guarded((tree: Tlv, pick: number, rule) => {
          const nodes = nodesOf(tree);
          refusedOrRead(() => walk(mutateTree(tree, [{ op: 'length', target: pick % nodes.length, rule }])));
        }),
      ),
      runsFor(300),
    );
  });

  it('primitive readers answer large hostile contents (up to the 1 MiB a request may carry) in time', () => {
    const tag = fc.constantFrom(TAG.OID, TAG.BIT_STRING, 0x0c, 0x13, 0x1c, 0x1e, TAG.SEQUENCE);
    check(
      fc.property(
        tag,
        fc.uint8Array({ minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1 << 10, max: 1 << 20 }),
        guarded((t: number, pattern: Uint8Array, size: number) => {
          const content = Buffer.alloc(size, pattern);
          // An OBJECT IDENTIFIER whose sub-identifiers never end is the costliest shape for readOid.
          if (t === TAG.OID && pattern.length === 1) content.fill(0xff, 0, size - 1).fill(0x7f, size - 1);
          const der = tlv(t, content);
          refusedOrRead(() => walk(der, { primitives: false }));
          const root = readDer(der);
          refusedOrRead(() => PRIMITIVE_READERS[t]?.(der, root));
          refusedOrRead(() => readString(der, root));
        }),
      ),
      runsFor(40, 20),
    );
  });

  it('primitive readers answer or refuse any contents, and read back what the encoder wrote', () => {
    const tag = fc.constantFrom(
      TAG.OID,
      TAG.BOOLEAN,
      TAG.INTEGER,
      TAG.BIT_STRING,
      0x0c,
      0x13,
      0x16,
      0x1c,
      0x1e,
      0x14,
    );
    check(
      fc.property(
        tag,
        fc.uint8Array({ maxLength: 40 }),
        guarded((t: number, content: Uint8Array) => {
          const der = tlv(t, content);
          const node = readDer(der);
          refusedOrRead(() => PRIMITIVE_READERS[t]?.(der, node));
          refusedOrRead(() => readString(der, node));
        }),
      ),
      runsFor(500),
    );
    check(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 70n) - 1n }), { maxLength: 6 }),
        fc.nat({ max: 2 ** 47 - 1 }),
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        guarded((first: number, second: number, rest: bigint[], n: number, text: string) => {
          const dotted = [first, first === 2 ? second * 7 : second, ...rest].join('.');
          const encodedOid = oid(dotted);
          assert.equal(readOid(encodedOid, readDer(encodedOid)), dotted);
          const encodedInt = smallInteger(n);
          assert.equal(readSmallInteger(encodedInt, readDer(encodedInt)), n);
          const encodedText = utf8String(text);
          assert.equal(readString(encodedText, readDer(encodedText)), text);
        }),
      ),
      runsFor(300),
    );
  });
});
