// Mutations of valid DER for the fuzz tests: structural ones on the TLV tree (change a tag, rewrite a
// length as huge, off by a few or non-minimal, nest, duplicate, drop, swap, replace content), whose
// parents' lengths are recomputed so the damage reaches deep into the parser, then byte-level ones
// (flip, truncate, extend, insert, delete) on the encoding.
import fc from 'fast-check';
import { children, contentOf, type DerNode, readDer, TAG } from '../../src/pki/der-reader.js';

/** How a mutated node writes its length octets, given the true length of its contents. */
export type LengthRule =
  | { kind: 'non-minimal'; extraZeros: number }
  | { kind: 'delta'; delta: number }
  | { kind: 'huge'; bytes: readonly number[] }
  | { kind: 'indefinite' }
  | { kind: 'raw'; byte: number };

/** A TLV as a tree; a DER-holding OCTET or BIT STRING keeps what it wraps as `inner`. */
export interface Tlv {
  tag: number;
  /** Replaces the identifier octet(s), e.g. a high-tag-number form. */
  tagBytes?: number[];
  content?: Buffer;
  children?: Tlv[];
  /** A BIT STRING's unused-bits byte before the DER it wraps; empty for an OCTET STRING. */
  innerPrefix?: Buffer;
  inner?: Tlv;
  length?: LengthRule;
}

export type Mutation =
  | { op: 'tag'; target: number; tag: number }
  | { op: 'high-tag'; target: number; bytes: number[] }
  | { op: 'length'; target: number; rule: LengthRule }
  | { op: 'content'; target: number; bytes: Uint8Array }
  | { op: 'truncate-content'; target: number; keep: number }
  | { op: 'nest'; target: number; tag: number; depth: number }
  | { op: 'duplicate'; target: number }
  | { op: 'remove'; target: number }
  | { op: 'swap'; target: number }
  | { op: 'flip'; at: number; mask: number }
  | { op: 'truncate'; keep: number }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number };

function wrapsDer(bytes: Buffer): Tlv | undefined {
  if (bytes[0] !== TAG.SEQUENCE) return undefined;
  try {
    return treeOf(bytes);
  } catch {
    return undefined;
  }
}

function nodeTree(buf: Buffer, node: DerNode): Tlv {
  if (node.constructed) return { tag: node.tag, children: children(buf, node).map((c) => nodeTree(buf, c)) };
  const content = Buffer.from(contentOf(buf, node));
  if (node.tag === TAG.OCTET_STRING) {
    const inner = wrapsDer(content);
    if (inner) return { tag: node.tag, innerPrefix: Buffer.alloc(0), inner };
  }
  if (node.tag === TAG.BIT_STRING && content[0] === 0) {
    const inner = wrapsDer(content.subarray(1));
    if (inner) return { tag: node.tag, innerPrefix: content.subarray(0, 1), inner };
  }
  return { tag: node.tag, content };
}

/**
 * The tree of a valid DER encoding (read with the reader under test: the input is known good).
 * With `encapsulated: false`, DER inside OCTET and BIT STRINGs stays opaque content.
 */
export function treeOf(der: Buffer, opts: { encapsulated?: boolean } = {}): Tlv {
  if (opts.encapsulated === false) return plainTree(der, readDer(der));
  return nodeTree(der, readDer(der));
}

function plainTree(buf: Buffer, node: DerNode): Tlv {
  if (node.constructed) return { tag: node.tag, children: children(buf, node).map((c) => plainTree(buf, c)) };
  return { tag: node.tag, content: Buffer.from(contentOf(buf, node)) };
}

function minimalLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 | bytes.length, ...bytes];
}

function lengthOctets(rule: LengthRule | undefined, length: number): number[] {
  if (!rule) return minimalLength(length);
  switch (rule.kind) {
    case 'non-minimal': {
      const minimal = minimalLength(length);
      const value = minimal.length === 1 ? minimal : minimal.slice(1);
      // A short length in long form is already non-minimal; a long one needs a leading zero.
      const zeros = minimal.length === 1 ? rule.extraZeros : Math.max(1, rule.extraZeros);
      const octets = [...new Array<number>(zeros).fill(0), ...value];
      return [0x80 | octets.length, ...octets];
    }
    case 'delta':
      return minimalLength(Math.max(0, length + rule.delta));
    case 'huge':
      return [0x80 | rule.bytes.length, ...rule.bytes];
    case 'indefinite':
      return [0x80];
    case 'raw':
      return [rule.byte];
  }
}

/** Encodes a (possibly mutated) tree; lengths are recomputed unless a node's rule says otherwise. */
export function encodeTree(node: Tlv): Buffer {
  const body = node.children
    ? Buffer.concat(node.children.map(encodeTree))
    : node.inner
      ? Buffer.concat([node.innerPrefix ?? Buffer.alloc(0), encodeTree(node.inner)])
      : (node.content ?? Buffer.alloc(0));
  return Buffer.concat([
    Buffer.from(node.tagBytes ?? [node.tag]),
    Buffer.from(lengthOctets(node.length, body.length)),
    body,
    node.length?.kind === 'indefinite' ? Buffer.from([0, 0]) : Buffer.alloc(0),
  ]);
}

function cloneTree(node: Tlv): Tlv {
  return {
    ...node,
    tagBytes: node.tagBytes && [...node.tagBytes],
    children: node.children?.map(cloneTree),
    inner: node.inner && cloneTree(node.inner),
  };
}

/** Where a node of an encoded tree sits: offsets of its identifier octet, its contents, and its end. */
export interface Span {
  start: number;
  valueStart: number;
  end: number;
}

/** encodeTree, also telling where each node (of an unwrapped tree: no `inner`) landed. */
export function layOut(node: Tlv, spans = new Map<Tlv, Span>(), base = 0): Buffer {
  const header = (bodyLength: number) =>
    (node.tagBytes ?? [node.tag]).length + lengthOctets(node.length, bodyLength).length;
  if (!node.children) {
    const encoded = encodeTree(node);
    const valueStart = base + header((node.content ?? Buffer.alloc(0)).length);
    spans.set(node, { start: base, valueStart, end: valueStart + (node.content?.length ?? 0) });
    return encoded;
  }
  // The header's size depends on the contents' length, which does not depend on where they sit.
  const bodyLength = node.children.reduce((sum, c) => sum + encodeTree(c).length, 0);
  const valueStart = base + header(bodyLength);
  let at = valueStart;
  const parts: Buffer[] = [];
  for (const child of node.children) {
    const part = layOut(child, spans, at);
    parts.push(part);
    at += part.length;
  }
  spans.set(node, { start: base, valueStart, end: at });
  return Buffer.concat([
    Buffer.from(node.tagBytes ?? [node.tag]),
    Buffer.from(lengthOctets(node.length, bodyLength)),
    ...parts,
    node.length?.kind === 'indefinite' ? Buffer.from([0, 0]) : Buffer.alloc(0),
  ]);
}

/** Every node of a tree in pre-order (the root first). */
export function nodesOf(root: Tlv): Tlv[] {
  return slots(root).map((s) => s.node);
}

interface Slot {
  node: Tlv;
  /** The list holding the node, and where; absent for the root and for a wrapped `inner`. */
  siblings?: Tlv[];
  index?: number;
  holder?: Tlv;
}

function slots(root: Tlv): Slot[] {
  const out: Slot[] = [];
  const stack: Slot[] = [{ node: root }];
  while (stack.length > 0) {
    const slot = stack.pop()!;
    out.push(slot);
    const { node } = slot;
    if (node.children) {
      for (let i = node.children.length - 1; i >= 0; i--) {
        stack.push({ node: node.children[i]!, siblings: node.children, index: i });
      }
    }
    if (node.inner) stack.push({ node: node.inner, holder: node });
  }
  return out;
}

function replaceIn(slot: Slot, replacement: Tlv, root: { tree: Tlv }): void {
  if (slot.siblings) slot.siblings[slot.index!] = replacement;
  else if (slot.holder) slot.holder.inner = replacement;
  else root.tree = replacement;
}

function applyStructural(root: { tree: Tlv }, m: Mutation): void {
  if (!('target' in m)) return;
  const all = slots(root.tree);
  const slot = all[m.target % all.length]!;
  const { node } = slot;
  switch (m.op) {
    case 'tag':
      node.tag = m.tag;
      node.tagBytes = undefined;
      break;
    case 'high-tag':
      node.tagBytes = [node.tag | 0x1f, ...m.bytes];
      break;
    case 'length':
      node.length = m.rule;
      break;
    case 'content':
      node.children = undefined;
      node.inner = undefined;
      node.content = Buffer.from(m.bytes);
      break;
    case 'truncate-content': {
      const body = encodeTree({ ...node, tagBytes: [0], length: { kind: 'raw', byte: 0 } }).subarray(2);
      node.children = undefined;
      node.inner = undefined;
      node.content = body.subarray(0, m.keep % (body.length + 1));
      break;
    }
    case 'nest': {
      let wrapped: Tlv = node;
      for (let i = 0; i < m.depth; i++) wrapped = { tag: m.tag | 0x20, children: [wrapped] };
      replaceIn(slot, wrapped, root);
      break;
    }
    case 'duplicate':
      if (slot.siblings) slot.siblings.splice(slot.index! + 1, 0, cloneTree(node));
      break;
    case 'remove':
      if (slot.siblings) slot.siblings.splice(slot.index!, 1);
      break;
    case 'swap':
      if (slot.siblings && slot.index! + 1 < slot.siblings.length) {
        const next = slot.siblings[slot.index! + 1]!;
        slot.siblings[slot.index! + 1] = node;
        slot.siblings[slot.index!] = next;
      }
      break;
  }
}

function applyBytes(buf: Buffer, m: Mutation): Buffer {
  const at = (n: number) => (buf.length === 0 ? 0 : n % (buf.length + 1));
  switch (m.op) {
    case 'flip': {
      if (buf.length === 0) return buf;
      const out = Buffer.from(buf);
      out[m.at % out.length]! ^= m.mask;
      return out;
    }
    case 'truncate':
      return buf.subarray(0, at(m.keep));
    case 'append':
      return Buffer.concat([buf, m.bytes]);
    case 'insert':
      return Buffer.concat([buf.subarray(0, at(m.at)), m.bytes, buf.subarray(at(m.at))]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, at(m.at)), buf.subarray(at(m.at) + m.count)]);
    default:
      return buf;
  }
}

/** Applies the structural mutations to a copy of `tree`, encodes it, then applies the byte-level ones. */
export function mutateTree(tree: Tlv, mutations: readonly Mutation[]): Buffer {
  const root = { tree: cloneTree(tree) };
  for (const m of mutations) applyStructural(root, m);
  let buf = encodeTree(root.tree);
  for (const m of mutations) buf = applyBytes(buf, m);
  return buf;
}

export function mutateDer(der: Buffer, mutations: readonly Mutation[]): Buffer {
  return mutateTree(treeOf(der), mutations);
}

const target = fc.nat();
const anyByte = fc.integer({ min: 0, max: 255 });
/** Tags the parsers look for, their constructed/primitive twins, and any byte at all. */
const interestingTag = fc.oneof(
  fc.constantFrom(
    0x01,
    0x02,
    0x03,
    0x04,
    0x05,
    0x06,
    0x0c,
    0x13,
    0x16,
    0x1e,
    0x1c,
    0x30,
    0x31,
    0x10,
    0x11,
    0x23,
    0x24,
    0xa0,
    0xa1,
    0xa2,
    0xa3,
    0x80,
    0x81,
    0x82,
    0x86,
    0x87,
    0x00,
    0xff,
  ),
  anyByte,
);

export const lengthRule: fc.Arbitrary<LengthRule> = fc.oneof(
  fc.record({ kind: fc.constant('non-minimal' as const), extraZeros: fc.integer({ min: 0, max: 4 }) }),
  fc.record({
    kind: fc.constant('delta' as const),
    delta: fc.integer({ min: -4, max: 4 }).filter((d) => d !== 0),
  }),
  fc.record({
    kind: fc.constant('huge' as const),
    bytes: fc.oneof(
      fc.array(anyByte, { minLength: 1, maxLength: 8 }),
      fc.constantFrom([0xff, 0xff, 0xff, 0xff], [0x7f, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [1, 0, 0, 0, 0]),
    ),
  }),
  fc.constant({ kind: 'indefinite' as const }),
  fc.record({ kind: fc.constant('raw' as const), byte: anyByte }),
);

const someBytes = (maxLength: number) => fc.uint8Array({ maxLength });

export const structuralMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('tag' as const), target, tag: interestingTag }),
  fc.record({
    op: fc.constant('high-tag' as const),
    target,
    bytes: fc.array(anyByte, { minLength: 0, maxLength: 4 }),
  }),
  { arbitrary: fc.record({ op: fc.constant('length' as const), target, rule: lengthRule }), weight: 3 },
  fc.record({ op: fc.constant('content' as const), target, bytes: someBytes(40) }),
  fc.record({ op: fc.constant('truncate-content' as const), target, keep: fc.nat() }),
  fc.record({
    op: fc.constant('nest' as const),
    target,
    tag: fc.constantFrom(0x30, 0x31, 0xa0, 0xa3, 0x04, 0x03),
    depth: fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 9 },
      fc.integer({ min: 100, max: 2000 }),
    ),
  }),
  fc.record({ op: fc.constant('duplicate' as const), target }),
  fc.record({ op: fc.constant('remove' as const), target }),
  fc.record({ op: fc.constant('swap' as const), target }),
);

export const byteMutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('flip' as const),
      at: fc.nat(),
      mask: fc.integer({ min: 1, max: 255 }),
    }),
    weight: 3,
  },
  fc.record({ op: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ op: fc.constant('append' as const), bytes: someBytes(16) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: someBytes(8) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
);

/** One to three mutations, structural ones more often than byte-level ones. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof({ arbitrary: structuralMutation, weight: 2 }, byteMutation),
  { minLength: 1, maxLength: 3 },
);
