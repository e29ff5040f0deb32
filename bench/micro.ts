// In-process figures on one pinned core: the crypto floor (node:crypto alone: import the CSR key,
// verify the CSR, sign the leaf) and meshca's own hot path (parseCsr + the CA-mode issuance).
import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CertificateAuthority } from '../src/ca/certificate-authority.js';
import type { Caller } from '../src/identity/caller.js';
import { DEFAULT_TOKEN_ISSUER, loadOrCreateTokenIssuer } from '../src/identity/token-issuer.js';
import {
  createTokenVerifier,
  ISTIO_CA_AUDIENCE,
  type TokenVerifier,
} from '../src/identity/token-verifier.js';
import { createCaModeIssuance } from '../src/issuance/ca-mode-issuance.js';
import type { Issuance } from '../src/issuance/issuance.js';
import { children, encodingOf, readBitString, readDer } from '../src/pki/der-reader.js';
import { readPrivateKey } from '../src/pki/keys.js';
import { parseCsr } from '../src/pki/parse-csr.js';
import { decodePem } from '../src/pki/pem.js';
import type { KeyType } from '../src/pki/types.js';
import { type Agent, NAMESPACE, type Pools, TRUST_DOMAIN } from './lib/fixtures.js';

export type MicroCommand =
  | { type: 'init'; poolFile: string; cas: { keyType: KeyType; dataDir: string }[] }
  | { type: 'window'; variant: string; durationMs: number }
  | { type: 'exit' };

export interface MicroResult {
  certsPerSec: number;
  /** CPU (all threads of this process) per certificate. */
  cpuUsPerCert: number;
  ops: number;
}

/** What the floor needs from each CSR, taken apart before measuring. */
interface FloorInput {
  x: string;
  y: string;
  info: Buffer;
  signature: Buffer;
}

interface CaSetup {
  issuance: Issuance;
  caKey: KeyObject;
  /** A real leaf's TBSCertificate, so the floor signs the same number of bytes meshca does. */
  tbs: Buffer;
}

let agents: Agent[] = [];
let floorInputs: FloorInput[] = [];
const cas = new Map<string, CaSetup>();
let verifier: TokenVerifier;

function floorInput(csrPem: string): FloorInput {
  const der = decodePem(csrPem)[0]!.der;
  const [infoNode, , sigNode] = children(der, readDer(der));
  const spkiNode = children(der, infoNode!)[2]!;
  const point = readBitString(der, children(der, spkiNode)[1]!).bytes;
  return {
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33, 65).toString('base64url'),
    info: encodingOf(der, infoNode!),
    signature: readBitString(der, sigNode!).bytes,
  };
}

function callerOf(agent: Agent): Caller {
  return {
    namespace: NAMESPACE,
    serviceAccount: agent.serviceAccount,
    via: 'token',
    issuer: DEFAULT_TOKEN_ISSUER,
    subject: `system:serviceaccount:${NAMESPACE}:${agent.serviceAccount}`,
  };
}

async function init(cmd: Extract<MicroCommand, { type: 'init' }>): Promise<void> {
  agents = (JSON.parse(readFileSync(cmd.poolFile, 'utf8')) as Pools).steady;
  floorInputs = agents.map((a) => floorInput(a.csrPem));
  for (const { keyType, dataDir } of cmd.cas) {
    const dir = join(dataDir, 'ca');
    const ca = await CertificateAuthority.open({
      kind: 'self-signed',
      dir,
      trustDomain: TRUST_DOMAIN,
      keyType,
    });
    const issuance = createCaModeIssuance(ca, TRUST_DOMAIN);
    const agent = agents[0]!;
    const sample = await issuance.issue({
      caller: callerOf(agent),
      csr: parseCsr(agent.csrPem),
      csrPem: agent.csrPem,
      ttlSeconds: 86_400,
      requestId: 'bench',
    });
    const leaf = decodePem(sample.certChain[0]!)[0]!.der;
    const tbs = encodingOf(leaf, children(leaf, readDer(leaf))[0]!);
    const caKey = readPrivateKey(readFileSync(join(dir, 'ca-key.pem'), 'utf8'));
    cas.set(keyType, { issuance, caKey, tbs });
    if (!verifier) {
      const issuer = await loadOrCreateTokenIssuer(join(dataDir, 'issuer'));
      verifier = createTokenVerifier([
        { issuer: issuer.issuer, audiences: [ISTIO_CA_AUDIENCE], jwks: issuer.jwks() },
      ]);
    }
  }
}

/** Runs `op` back to back for `durationMs`; `parallel` loops interleave when the op awaits real work. */
async function measure(
  durationMs: number,
  op: (i: number) => void | Promise<void>,
  parallel = 1,
): Promise<MicroResult> {
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + durationMs;
  const loop = async () => {
    for (;;) {
      for (let k = 0; k < 16; k++) {
        const r = op(ops++);
        if (r) await r;
      }
      if (performance.now() >= end) return;
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { certsPerSec: ops / seconds, cpuUsPerCert: (cpu.user + cpu.system) / ops, ops };
}

function floorOp(setup: CaSetup): (i: number) => void {
  return (i) => {
    const f = floorInputs[i % floorInputs.length]!;
    // JWK import is the fastest way into OpenSSL for an EC point (see parse-csr.ts).
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: f.x, y: f.y }, format: 'jwk' });
    if (!verify('sha256', f.info, key, f.signature)) throw new Error('a pool CSR does not verify');
    sign('sha256', setup.tbs, setup.caKey);
  };
}

function inProcessOp(setup: CaSetup, withToken: boolean): (i: number) => Promise<void> {
  return async (i) => {
    const agent = agents[i % agents.length]!;
    const caller = withToken ? await verifier.verify(agent.token) : callerOf(agent);
    const csr = parseCsr(agent.csrPem);
    await setup.issuance.issue({ caller, csr, csrPem: agent.csrPem, ttlSeconds: 86_400, requestId: 'bench' });
  };
}

/** Variants: floor-<ca>, inproc-<ca>, inproc-token-<ca>, with <ca> a key type such as ec-p256. */
function run(cmd: Extract<MicroCommand, { type: 'window' }>): Promise<MicroResult> {
  const match = /^(floor|inproc-token|inproc)-(.+)$/.exec(cmd.variant);
  const setup = match && cas.get(match[2]!);
  if (!match || !setup) throw new Error(`unknown micro variant ${cmd.variant}`);
  if (match[1] === 'floor') return measure(cmd.durationMs, floorOp(setup));
  // The token check is WebCrypto (jose), which hops to the libuv pool: overlap a few so the core stays busy.
  if (match[1] === 'inproc-token') return measure(cmd.durationMs, inProcessOp(setup, true), 8);
  return measure(cmd.durationMs, inProcessOp(setup, false));
}

async function handle(cmd: MicroCommand): Promise<unknown> {
  switch (cmd.type) {
    case 'init':
      await init(cmd);
      return { ok: true };
    case 'window':
      return run(cmd);
    case 'exit':
      setImmediate(() => process.exit(0));
      return { ok: true };
  }
}

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: { id: number; cmd: MicroCommand }) => {
  handle(msg.cmd).then(
    (result) => process.send?.({ id: msg.id, result }),
    (err: Error) => process.send?.({ id: msg.id, error: err.stack ?? err.message }),
  );
});
