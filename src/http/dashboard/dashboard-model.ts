// What the dashboard shows, as plain data: the server fills it from the CA in service, the issuance
// log and the rotation files; the views only render it. No meshca types, so `http/` stays a leaf.

/** One CA certificate of the hierarchy. */
export interface CertificateView {
  subject: string;
  /** Upper-case `AA:BB:…`, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
  /** e.g. `EC P-256`, `RSA 2048`. */
  keyType: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** Issued and refused requests of one signer, per minute, oldest minute first. */
export interface SignerActivity {
  signer: string;
  issued: number[];
  errors: number[];
}

/** One certificate from the issuance log. */
export interface IssuanceView {
  time: string;
  serial: string;
  kind: string;
  /** The SPIFFE ID, or the DNS names of a serving certificate. */
  identity: string;
  signer: string;
  requester: string;
  notAfter: string;
}

export interface IssuanceSearch {
  serial?: string;
  spiffeId?: string;
}

export interface DashboardModel {
  now: Date;
  /** What this page covers, when less than the whole CA (e.g. under --workers). */
  scope?: string;
  hierarchy?: {
    /** Where the bundle comes from: self-signed, plugged-istio, … and its directory or Secret. */
    source: string;
    roots: CertificateView[];
    /** The signing certificate first, then the intermediates above it. */
    chain: CertificateView[];
    /** RA mode: each external signer and the roots meshConfig.caCertificates lists for it. */
    signers: { name: string; roots: CertificateView[] }[];
  };
  activity?: { minutes: number; signers: SignerActivity[] };
  issuances?: {
    search: IssuanceSearch;
    entries: IssuanceView[];
    /** The most entries shown; the newest first. */
    limit: number;
    /** Set when the search stopped before the oldest entry (bounded work per page). */
    stoppedEarly?: string;
    /** Why there are no entries to show (log off, unreadable). */
    unavailable?: string;
  };
  reloads?: {
    inService: { since: Date; subject: string; serial: string };
    /** The last change refused; `recovered` when a valid bundle was read after it. */
    lastRefused?: { at: Date; code: string; reason: string; recovered?: Date };
  };
  rotation?: {
    phase: string;
    pending: { id: string; notAfter: Date }[];
    pendingTotal: number;
    confirmed: number;
    unavailable?: string;
  };
}
