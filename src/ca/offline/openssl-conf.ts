// OpenSSL configuration files describing the profiles meshca uses, written beside the
// certificates so an operator can audit them or reproduce the same certificate with `openssl`.
import type { NameSpec } from '../../pki/types.js';

function dnLines(subject: NameSpec): string {
  return (['O', 'CN', 'L', 'OU'] as const)
    .filter((k) => subject[k] !== undefined)
    .map((k) => `${k} = ${subject[k]}`)
    .join('\n');
}

function header(bits: number, md: string): string {
  return `[ req ]
encrypt_key = no
prompt = no
utf8 = yes
default_md = ${md}
default_bits = ${bits}
req_extensions = req_ext
x509_extensions = v3_ext
distinguished_name = req_dn
`;
}

/** Root CA profile: `req_ext` for the CSR, `v3_ext` for the self-signed certificate. */
export function rootCaConf(subject: NameSpec, keyBits: number, md = 'sha256', days = 3650): string {
  return `# meshca root CA profile (the same extensions meshca wrote into root-cert.pem).
# Reproduce: openssl req -new -key root-key.pem -config root-ca.conf -out root-cert.csr
#            openssl x509 -req -days ${days} -signkey root-key.pem -extensions v3_ext -extfile root-ca.conf -in root-cert.csr -out root-cert.pem
${header(keyBits, md)}
[ req_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, keyCertSign, cRLSign

[ v3_ext ]
subjectKeyIdentifier = hash
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, keyCertSign, cRLSign

[ req_dn ]
${dnLines(subject)}
`;
}

/**
 * Intermediate CA profile: `req_ext` for the CSR, `v3_ext` when the root signs it. The CSR asks for
 * no path length (buildCaCsr leaves that to the signer); the certificate gets pathlen:0.
 */
export function intermediateCaConf(
  subject: NameSpec,
  sanDns: string[],
  keyBits: number,
  md = 'sha256',
  days = 3650,
): string {
  const alt = sanDns.length > 0 ? `subjectAltName = @san\n` : '';
  const sanSection =
    sanDns.length > 0 ? `\n[ san ]\n${sanDns.map((d, i) => `DNS.${i + 1} = ${d}`).join('\n')}\n` : '';
  return `# meshca intermediate CA profile (the same extensions meshca wrote into ca-cert.pem).
# Reproduce: openssl req -new -key ca-key.pem -config intermediate.conf -out cluster-ca.csr
#            openssl x509 -req -days ${days} -CA ../root-cert.pem -CAkey ../root-key.pem -set_serial 0x$(openssl rand -hex 16) \\
#              -extensions v3_ext -extfile intermediate.conf -in cluster-ca.csr -out ca-cert.pem
${header(keyBits, md)}
[ req_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
${alt}
[ v3_ext ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
${alt}${sanSection}
[ req_dn ]
${dnLines(subject)}
`;
}
