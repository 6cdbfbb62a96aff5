/** Formatting of images for the registries pages: digests, sizes, platforms, severities. */
import { bytesHuman } from '../clusters/format';
import type { Finding, Platform, ScanException, Severity, SeverityCounts } from './types';

/** Worst first: the order of the scan chips and of the policy's severities. */
export const SEVERITIES: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];
const RANK: Record<Severity, number> = { UNKNOWN: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

/** `sha256:0123456789ab` (the algorithm and the first 12 hex digits, as docker shows image ids). */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) return '—';
  const [algorithm, hex] = digest.includes(':') ? digest.split(':', 2) : ['', digest];
  const short = (hex ?? '').slice(0, 12);
  return algorithm ? `${algorithm}:${short}` : short;
}

/** Bytes in binary units (`2.4 MiB`); `—` when the registry did not say. */
export function imageSize(bytes: number | null | undefined): string {
  return bytesHuman(bytes);
}

/** `linux/amd64`, `linux/arm/v7`. */
export function platformText(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function severityRank(severity: string): number {
  return RANK[severity as Severity] ?? 0;
}

/** The counts to show as chips: every severity with a finding, worst first. */
export function countChips(counts: SeverityCounts): { severity: Severity; count: number }[] {
  return SEVERITIES.map((severity) => ({ severity, count: counts[severity] ?? 0 })).filter((c) => c.count > 0);
}

/**
 * The findings a policy blocks: at or above `block` and not named by an exception that is still
 * in force at `now` (what the server's gate does, shown beside its refusal).
 */
export function blockingFindings(findings: Finding[], block: string, exceptions: ScanException[], now: number): Finding[] {
  if (!block) return [];
  const excepted = new Set(exceptions.filter((e) => Date.parse(e.expires) > now).map((e) => e.vulnerability.toUpperCase()));
  return findings.filter((f) => severityRank(f.severity.toUpperCase()) >= severityRank(block) && !excepted.has(f.id.toUpperCase()));
}
