import { DcplaneError } from '../../src/common/errors.js';

/** Stable codes for why a benchmark run could not produce figures. */
export const BenchErrorCode = {
  /** perfdhcp's output lacks a section or line the parser needs. */
  PERFDHCP_PARSE: 'BENCH_ERR_PERFDHCP_PARSE',
  /** perfdhcp exited with a status other than 0 or 3 (3 only means some exchanges failed). */
  PERFDHCP_FAILED: 'BENCH_ERR_PERFDHCP_FAILED',
  /** A server under test exited before it said it was ready. */
  SERVER_EXITED: 'BENCH_ERR_SERVER_EXITED',
  /** A server under test did not say it was ready in time. */
  SERVER_NOT_READY: 'BENCH_ERR_SERVER_NOT_READY',
  /** The server ran but answered no DISCOVER during the run. */
  NO_REPLIES: 'BENCH_ERR_NO_REPLIES',
  /** A command the bench needs (ip, apt-get, perfdhcp, kea-dhcp4) failed or is missing. */
  TOOL_FAILED: 'BENCH_ERR_TOOL_FAILED',
  /** Bad command-line flags. */
  USAGE: 'BENCH_ERR_USAGE',
} as const;

export type BenchErrorCode = (typeof BenchErrorCode)[keyof typeof BenchErrorCode];

export class BenchError extends DcplaneError {
  declare readonly code: BenchErrorCode;
  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
