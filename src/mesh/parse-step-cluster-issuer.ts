// Reading smallstep's StepClusterIssuer as a signer: the step-ca URL, its root (`caBundle`, base64 PEM
// as in Kubernetes) and the JWK provisioner whose password is a key of a secret.
import { join } from 'node:path';
import type { DocScope, YamlMapping } from './document-scope.js';
import { quote } from './names.js';
import { readCertificateText } from './read-certificate-text.js';
import { readObjectMetadata } from './read-object-metadata.js';
import { secretFolder, secretFolderProblem } from './resolve-secret-path.js';
import type { StepSignerDefinition } from './types.js';

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

function urlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${quote(url)} is not a URL; give the CA's address, e.g. https://step-certificates.step.svc`;
  }
  return parsed.protocol === 'https:'
    ? undefined
    : `${quote(url)} must be an https:// URL (step-ca serves TLS only)`;
}

/** The PEM text of `caBundle`: base64 as Kubernetes stores bytes, or PEM pasted as is. */
function readCaBundle(value: string, scope: DocScope): string | undefined {
  let pem = value;
  if (!value.includes('-----BEGIN')) {
    if (!BASE64.test(value)) {
      scope.problem(
        'spec.caBundle',
        'is not base64; encode the root certificate PEM, e.g. with "base64 -w0 root_ca.crt"',
      );
      return undefined;
    }
    pem = Buffer.from(value.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  const read = readCertificateText(pem);
  if ('why' in read) {
    scope.problem('spec.caBundle', read.why);
    return undefined;
  }
  return read.certificates.join('');
}

async function readPasswordFile(
  ref: YamlMapping,
  scope: DocScope,
  dataDir: string | undefined,
): Promise<string | undefined> {
  const path = 'spec.provisioner.passwordRef';
  scope.checkFields(ref, path, { read: ['name', 'key'], silent: ['namespace'], closed: true });
  const name = scope.requiredString(
    ref.name,
    `${path}.name`,
    'name the secret holding the provisioner password',
  );
  const key = scope.requiredString(
    ref.key,
    `${path}.key`,
    'name the key (file) holding the password, e.g. password',
  );
  if (key !== undefined && (key.includes('/') || key === '.' || key === '..')) {
    scope.problem(`${path}.key`, `${quote(key)} is not a key name; give a file name without "/"`);
    return undefined;
  }
  if (name === undefined || key === undefined) return undefined;
  const folder = secretFolder(name, scope.ref.file, dataDir);
  if ('why' in folder) {
    scope.problem(`${path}.name`, folder.why);
    return undefined;
  }
  const problem = await secretFolderProblem(folder.path, [key]);
  if (problem) {
    scope.problem(path, problem);
    return undefined;
  }
  return join(folder.path, key);
}

export async function parseStepClusterIssuer(
  object: YamlMapping,
  scope: DocScope,
  opts: { dataDir?: string },
): Promise<StepSignerDefinition | undefined> {
  const { name } = readObjectMetadata(object, scope, { name: 'required' });
  const spec = scope.mapping(object.spec, 'spec') ?? {};
  scope.checkFields(spec, 'spec', { read: ['url', 'caBundle', 'provisioner'], closed: true });
  const url = scope.requiredString(spec.url, 'spec.url', 'give the step-ca URL');
  const badUrl = url === undefined ? undefined : urlProblem(url);
  if (badUrl) scope.problem('spec.url', badUrl);
  const caBundle = scope.requiredString(
    spec.caBundle,
    'spec.caBundle',
    "give the CA's root certificate, base64-encoded PEM",
  );
  const caBundlePem = caBundle === undefined ? undefined : readCaBundle(caBundle, scope);

  const provisioner = scope.mapping(spec.provisioner, 'spec.provisioner');
  if (!provisioner) {
    scope.problem('spec.provisioner', 'missing; give the JWK provisioner: name, kid and passwordRef');
    return undefined;
  }
  scope.checkFields(provisioner, 'spec.provisioner', { read: ['name', 'kid', 'passwordRef'], closed: true });
  const provisionerName = scope.requiredString(
    provisioner.name,
    'spec.provisioner.name',
    'give the provisioner name',
  );
  const kid = scope.requiredString(provisioner.kid, 'spec.provisioner.kid', "give the provisioner key's kid");
  const ref = scope.mapping(provisioner.passwordRef, 'spec.provisioner.passwordRef');
  if (!ref)
    scope.problem(
      'spec.provisioner.passwordRef',
      'missing; give the secret name and key holding the password',
    );
  const passwordFile = ref ? await readPasswordFile(ref, scope, opts.dataDir) : undefined;

  if (name === undefined || url === undefined || badUrl || caBundlePem === undefined) return undefined;
  if (provisionerName === undefined || kid === undefined || passwordFile === undefined) return undefined;
  return {
    kind: 'StepClusterIssuer',
    name: `stepclusterissuers.certmanager.step.sm/${name}`,
    url,
    caBundlePem,
    provisioner: { name: provisionerName, kid, passwordFile },
    source: scope.source,
  };
}
