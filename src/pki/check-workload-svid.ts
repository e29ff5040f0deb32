// The SPIFFE X.509-SVID rules a workload (leaf) certificate must follow, checked one by one so
// `meshca certs verify` and the tests can say exactly what is wrong with a certificate.
import { isMeshcaError } from '../errors.js';
import { certificateLabel } from './certificate-label.js';
import { parseSpiffeId } from './spiffe-id.js';
import type { CertificateInfo } from './types.js';

/** Every way `cert` breaks the X.509-SVID leaf rules (SPIFFE X509-SVID 3.1, 4.1, 4.3, 4.4, 5.2); empty when it follows them. */
export function checkWorkloadSvid(cert: CertificateInfo): string[] {
  const name = `"${certificateLabel(cert)}"`;
  const problems: string[] = [];
  if (cert.uris.length !== 1) {
    problems.push(`${name} has ${cert.uris.length} URI SANs; an SVID has exactly one, its SPIFFE ID`);
  }
  for (const uri of cert.uris) {
    try {
      const id = parseSpiffeId(uri);
      if (id.path === '')
        problems.push(`${name}: the SPIFFE ID "${uri}" has no path; a workload ID names a workload`);
    } catch (err) {
      if (!isMeshcaError(err)) throw err;
      problems.push(`${name}: ${err.message}`);
    }
  }
  if (cert.isCa === true)
    problems.push(`${name} is a CA (basicConstraints CA:TRUE); an SVID leaf must have CA:FALSE`);
  if (cert.keyUsage === undefined) {
    problems.push(`${name} has no keyUsage extension; an SVID must have one, marked critical`);
  } else {
    if (!cert.keyUsageCritical)
      problems.push(`${name}: keyUsage is not marked critical; an SVID must mark it critical`);
    if (!cert.keyUsage.includes('Digital Signature')) {
      problems.push(`${name}: keyUsage lacks Digital Signature, which an SVID leaf must have`);
    }
    for (const forbidden of ['Certificate Sign', 'CRL Sign']) {
      if (cert.keyUsage.includes(forbidden))
        problems.push(`${name}: keyUsage has ${forbidden}, which an SVID leaf must not have`);
    }
  }
  if (cert.extKeyUsage !== undefined) {
    for (const needed of ['serverAuth', 'clientAuth']) {
      if (!cert.extKeyUsage.includes(needed)) {
        problems.push(
          `${name}: extKeyUsage lacks ${needed}; when present it must have both serverAuth and clientAuth`,
        );
      }
    }
  }
  if (cert.subject === '' && cert.uris.length > 0 && !cert.sanCritical) {
    problems.push(
      `${name} has an empty subject, so its subjectAltName must be marked critical (RFC 5280 4.1.2.6)`,
    );
  }
  return problems;
}
