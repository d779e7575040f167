'use strict';
// Event texts are cut to the bot's limits before they are sent: the bot refuses nothing the scenario reports, so no
// event (least of all the last one) is lost to a 4xx the scenario would take as final.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startCallbackServer, runSession, checkEnvelope } = require('../testkit/harness');
const { OUTCOMES } = require('../simulator/outcomes');
const { OPENAI_REALTIME_EVENTS } = require('../simulator/names');

const LIMITS = { transcript: 10000, failedReason: 500, errorMessage: 2000 };

async function session(overrides, during) {
  const bot = await startCallbackServer();
  try {
    const { result } = await runSession({ customData: bot.customData({ ...overrides }), during });
    return { result, events: bot.events, names: checkEnvelope(assert, bot.events) };
  } finally {
    await bot.close();
  }
}

/** Resolves once `ready()` is true, checking every 5 ms (real time) for at most 5 s. */
async function until(ready) {
  const stop = Date.now() + 5000;
  while (!ready()) {
    if (Date.now() > stop) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('an over-long transcript line and AI error are cut to the limits, never half a character', async () => {
  // 9,998 letters, then an emoji (two UTF-16 units) across the cut, then more.
  const spoken = `${'a'.repeat(LIMITS.transcript - 2)}\u{1F600}${'b'.repeat(200)}`;
  const { result, events, names } = await session({ destination: '+14155550177' }, async (sim) => {
    await until(() => sim.openaiClients.length > 0 && sim.openaiClients[0].configured);
    const agent = sim.openaiClients[0];
    agent.emit(OPENAI_REALTIME_EVENTS.ResponseOutputAudioTranscriptDone, {
      type: 'response.output_audio_transcript.done', transcript: spoken,
    });
    agent.emit(OPENAI_REALTIME_EVENTS.Error, { type: 'error', error: { message: 'x'.repeat(5000) } });
  });
  assert.equal(result.exitCode, 0, result.reason);
  const line = events.find((e) => e.event === 'transcript' && e.data.text.startsWith('aaa'));
  assert.ok(line, names.join(', '));
  assert.equal(line.data.text, `${'a'.repeat(LIMITS.transcript - 2)}\u2026`, 'cut before the emoji, not inside it');
  const error = events.find((e) => e.event === 'error');
  assert.equal(error.data.message.length, LIMITS.errorMessage);
  assert.match(error.data.message, /^OpenAI Realtime error: x+\u2026$/);
  assert.equal(names.at(-1), 'disconnected');
});

test('a Failed event with a long reason and no code still gives a failed the bot takes', async (t) => {
  OUTCOMES.longreason = { digits: null, ringingAt: null, failAt: 200, code: undefined, reason: 'r'.repeat(800) };
  t.after(() => delete OUTCOMES.longreason);
  const { result, events, names } = await session({ channel: 'user', destination: 'longreason' });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(names, ['started', 'dialing', 'failed']);
  assert.deepEqual(events.at(-1).data, { code: -1, reason: `${'r'.repeat(LIMITS.failedReason - 1)}\u2026` });
});
