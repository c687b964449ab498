/**
 * Slack acknowledgement timing shared by the benchmarks: a signed slash command as Slack
 * sends it (form-encoded, `x-slack-signature` over the body), timed to the HTTP answer.
 */
import { performance } from 'node:perf_hooks';
import { signSlack } from '../test/adapters/slack/fake-slack.ts';
import { fixture } from '../test/adapters/slack/slack-harness.ts';

/** The signing secret a benchmark's MailFerry is given. */
export const SLACK_BENCH_SECRET = 'bench-signing-secret-0123456789abcdef';

let seq = 0;

/**
 * POSTs a signed `/migrate TEXT` to BASE/slack/events (reply URL on the Slack stand-in at FAKE_BASE); the time to the
 * answer.
 */
export async function slashCommand(
  base: string,
  fakeBase: string,
  text: string,
  secret = SLACK_BENCH_SECRET,
): Promise<{ status: number; ms: number }> {
  const n = ++seq;
  const body = new URLSearchParams({
    ...fixture('slash-command.json'),
    text,
    user_id: 'UADMIN',
    channel_id: 'C1',
    response_url: `${fakeBase}/response/bench${n}`,
    trigger_id: `trigger-bench-${n}`,
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const t0 = performance.now();
  const res = await fetch(`${base}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': signSlack(secret, body, ts),
    },
    body,
  });
  await res.text();
  return { status: res.status, ms: performance.now() - t0 };
}

/** p50, p99 and max of a list of times (ms), with their count. */
export function ackSummary(times: number[]): string {
  if (!times.length) return 'no command answered';
  const t = [...times].sort((a, b) => a - b);
  const at = (q: number) => (t[Math.min(t.length - 1, Math.ceil(q * t.length) - 1)] ?? NaN).toFixed(1);
  return `${t.length} commands, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
}
