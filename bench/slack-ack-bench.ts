/**
 * Slack acknowledgement latency: 200 signed `/migrate help` slash commands, one after the
 * other, against a MailFerry whose Slack Web API (a local stand-in) answers auth.test only
 * after 2 s. Prints p50, p99 and max of the time to the HTTP answer (the ack Slack waits
 * for, 3 s at most); `npm run bench -- --workers …` measures it while workers copy. Run: node bin/run-ts.mjs
 * bench/slack-ack-bench.ts [COUNT] [AUTH_TEST_MS]
 */
import { performance } from 'node:perf_hooks';
import { startSlackTest } from '../test/adapters/slack/slack-harness.ts';
import { ackSummary } from './slack-ack.ts';

const count = Number(process.argv[2] ?? 200);
const delay = Number(process.argv[3] ?? 2000);
const s = await startSlackTest({ LOG_LEVEL: 'warn' }, {}, (fake) => fake.delays.set('auth.test', delay));
const times: number[] = [];
try {
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const r = await s.command('help');
    times.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`command ${i}: HTTP ${r.status}`);
  }
  await s.settle();
} finally {
  await s.close();
}
console.log(`slack ack, auth.test delayed ${delay} ms: ${ackSummary(times)}`);
