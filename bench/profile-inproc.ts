// meshca's in-process hot path (parseCsr + the CA-mode issuance, EC P-256 CA, distinct CSRs) in a
// loop, its CPU per certificate, and with --cpu-prof where that time goes (self time by function).
//   taskset -c 0 node --import tsx bench/profile-inproc.ts [--count 20000] [--cpu-prof]
// (V8's inspector profiler at a 100 µs interval; native crypto shows as `run` (verify/sign jobs) and `initJwk`.)
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../src/ca/certificate-authority.js';
import { createCaModeIssuance } from '../src/issuance/ca-mode-issuance.js';
import { buildWorkloadCsr } from '../src/pki/build-workload-csr.js';
import { parseCsr } from '../src/pki/parse-csr.js';
import { summarizeProfile } from './lib/profile.js';

const args = process.argv.slice(2);
const at = args.indexOf('--count');
const count = at >= 0 ? Number(args[at + 1]) : 20_000;
const work = mkdtempSync(join(tmpdir(), 'meshca-inproc-'));
try {
  const ca = await CertificateAuthority.open({
    kind: 'self-signed',
    dir: join(work, 'ca'),
    trustDomain: 'cluster.local',
    keyType: 'ec-p256',
  });
  const issuance = createCaModeIssuance(ca, 'cluster.local');
  const agents = Array.from({ length: 256 }, (_, i) => {
    const sa = `sa-${i}`;
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    return { sa, csrPem: buildWorkloadCsr({ key, uri: `spiffe://cluster.local/ns/bench/sa/${sa}` }) };
  });
  const one = async (i: number) => {
    const a = agents[i % agents.length]!;
    await issuance.issue({
      caller: {
        namespace: 'bench',
        serviceAccount: a.sa,
        via: 'token',
        issuer: 'x',
        subject: `system:serviceaccount:bench:${a.sa}`,
      },
      csr: parseCsr(a.csrPem),
      csrPem: a.csrPem,
      ttlSeconds: 86_400,
      requestId: 'r',
    });
  };
  for (let i = 0; i < 3000; i++) await one(i);
  const session = new Session();
  if (args.includes('--cpu-prof')) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await one(i);
  const cpu = process.cpuUsage(cpu0);
  console.log(`${((cpu.user + cpu.system) / count).toFixed(1)} µs CPU per certificate over ${count}`);
  if (args.includes('--cpu-prof')) {
    const { profile } = await session.post('Profiler.stop');
    const file = join(work, 'inproc.cpuprofile');
    writeFileSync(file, JSON.stringify(profile));
    const s = summarizeProfile(file, undefined, 30);
    for (const f of s.functions) console.log(`${f.percent.toFixed(1).padStart(5)}%  ${f.name}`);
  }
  ca.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
