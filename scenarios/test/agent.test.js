'use strict';
// The OpenAI Realtime agent: created only after Connected, with the key from secret storage and the requester's
// instructions; transcripts of both sides become `transcript` events; a failed or closed AI connection ends the call
// with ai_error, recoverable AI errors are reported and the call goes on; barge-in clears the agent's audio.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startCallbackServer, runSession, apiNames, timelineIndex, checkEnvelope, OPENAI_KEY, TOKEN,
} = require('../testkit/harness');
const { OPENAI_REALTIME_EVENTS } = require('../simulator/names');

const INSTRUCTIONS = 'Confirm that Ravi can attend the design review on Friday at 3 pm. Ask if he needs a room.';

async function session(overrides, options = {}) {
  const bot = await startCallbackServer();
  try {
    const { result, sim } = await runSession({
      customData: bot.customData({ instructions: INSTRUCTIONS, ...overrides }),
      ...options,
    });
    return { result, sim, events: bot.events, names: checkEnvelope(assert, bot.events) };
  } finally {
    await bot.close();
  }
}

test('the AI client is created only after CallEvents.Connected, with the key from secret storage', async () => {
  const { result, sim } = await session({});
  assert.equal(result.exitCode, 0, result.reason);
  const connected = timelineIndex(sim, 'event', 'Call.Connected');
  const secret = timelineIndex(sim, 'api', 'getSecretValue');
  const created = timelineIndex(sim, 'api', 'createRealtimeAPIClient');
  assert.ok(connected >= 0 && created >= 0);
  assert.ok(secret > connected, 'the key is read after the answer');
  assert.ok(created > connected, 'the client is created after the answer');
  assert.deepEqual(sim.apiCalls.find((r) => r.api === 'getSecretValue').args, ['OPENAI_API_KEY']);
  const record = sim.apiCalls.find((r) => r.api === 'createRealtimeAPIClient');
  assert.equal(record.args[0].apiKey, '***', 'the API record never shows the key');
  assert.equal(sim.openaiClients.length, 1);
  assert.equal(sim.openaiClients[0].parameters.apiKey, OPENAI_KEY, 'the client got the secret value itself');
  assert.ok(apiNames(sim).indexOf('sendMediaBetween') > apiNames(sim).indexOf('createRealtimeAPIClient'), 'media is bridged');
});

test('the key is not taken from custom data', async () => {
  const { sim, events } = await session({ openai_api_key: 'sk-from-custom-data' }, { secrets: {} });
  assert.ok(!sim.openaiClients.some((c) => c.parameters.apiKey === 'sk-from-custom-data'));
  assert.equal(events.find((e) => e.event === 'error').data.message,
    "secret 'OPENAI_API_KEY' is not set in the application's secret storage");
  assert.equal(events.at(-1).data.reason, 'ai_error');
});

test('the instructions are sent as the session instructions (sessionUpdate), after the scenario\'s own rules', async () => {
  const { sim } = await session({});
  const update = sim.apiCalls.find((r) => r.api === 'sessionUpdate');
  assert.ok(update, 'sessionUpdate was sent');
  const { instructions } = update.args[0].session;
  assert.ok(instructions.endsWith(`\n\n${INSTRUCTIONS}`), 'the requester\'s instructions come last');
  assert.match(instructions, /^You are an automated voice agent on a phone call\./);
  assert.equal(update.args[0].session.type, 'realtime');
  assert.ok(update.args[0].session.audio.input.transcription, 'input transcription is on, so callee lines exist');
});

test('transcripts of both sides arrive as transcript events after connected and before disconnected', async () => {
  const { events, names } = await session({});
  const connected = names.indexOf('connected');
  const disconnected = names.indexOf('disconnected');
  const transcripts = events.filter((e) => e.event === 'transcript');
  assert.equal(transcripts.length, 4);
  for (const t of transcripts) {
    const index = events.indexOf(t);
    assert.ok(index > connected && index < disconnected, `transcript seq ${t.seq} is within the connected call`);
    assert.ok(['agent', 'callee'].includes(t.data.role));
    assert.equal(typeof t.data.text, 'string');
    assert.ok(t.data.text.length > 0);
  }
  assert.deepEqual(transcripts.map((t) => t.data.role), ['agent', 'callee', 'agent', 'callee']);
  assert.match(transcripts[0].data.text, /Confirm that Ravi can attend the design review on Friday at 3 pm\./,
    "the agent's words reuse the instructions it was given");
});

test('no AI client and no transcript when the call never connects', async () => {
  const { sim, names } = await session({ destination: '+14155550186' });
  assert.ok(!apiNames(sim).includes('getSecretValue'));
  assert.ok(!apiNames(sim).includes('createRealtimeAPIClient'));
  assert.ok(!names.includes('transcript'));
});

test('an AI client that cannot be created: error, hang-up, disconnected ai_error, terminate', async () => {
  const { result, sim, events, names } = await session({ destination: '+14155550165' });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(names, ['started', 'dialing', 'ringing', 'connected', 'error', 'disconnected']);
  assert.match(events[4].data.message, /OpenAI Realtime client failed: .*refused the connection/);
  assert.equal(events[5].data.reason, 'ai_error');
  assert.ok(apiNames(sim).includes('hangup'));
  assert.equal(apiNames(sim).at(-1), 'terminate');
});

test('a failed AI connection mid-call (WebSocketError): error without recoverable, hang-up, disconnected ai_error', async () => {
  const { result, sim, events } = await session({ destination: '+14155550166' });
  assert.equal(result.exitCode, 0, result.reason);
  const error = events.find((e) => e.event === 'error');
  assert.match(error.data.message, /^OpenAI Realtime WebSocket error: Simulated Realtime API failure/);
  assert.deepEqual(Object.keys(error.data), ['message'], 'a fatal error carries no recoverable flag');
  const last = events.at(-1);
  assert.equal(last.event, 'disconnected');
  assert.equal(last.data.reason, 'ai_error');
  assert.equal(typeof last.data.duration_s, 'number');
  assert.ok(apiNames(sim).includes('close'), 'the AI client is closed');
  assert.ok(apiNames(sim).includes('hangup'));
});

test('recoverable AI errors mid-call are reported with recoverable: true and the call goes on to its end', async () => {
  const { result, sim, events, names } = await session({ destination: '+14155550167' });
  assert.equal(result.exitCode, 0, result.reason);
  const errors = events.filter((e) => e.event === 'error');
  assert.equal(errors.length, 2);
  assert.deepEqual(errors[0].data, {
    message: 'OpenAI Realtime error: Conversation already has an active response in progress', recoverable: true,
  });
  assert.equal(errors[1].data.recoverable, true);
  assert.equal(names.filter((n) => n === 'transcript').length, 4, 'the conversation went on');
  assert.ok(names.indexOf('error') < names.lastIndexOf('transcript'), 'lines came after the first error');
  assert.equal(events.at(-1).event, 'disconnected');
  assert.equal(events.at(-1).data.reason, 'remote_hangup', 'the callee hung up; the errors ended nothing');
  assert.ok(!apiNames(sim).includes('hangup'));
  assert.ok(timelineIndex(sim, 'api', 'close') > timelineIndex(sim, 'event', 'Call.Disconnected'),
    'the AI client was closed only after the call ended, not over a recoverable error');
});

test('more than 10 recoverable AI errors: the first 10 are reported, the rest only logged', async () => {
  const { result, sim, events } = await session({ destination: '+14155550177', max_duration_s: 4 }, {
    during: async (s) => {
      const stop = Date.now() + 5000;
      while (!(s.openaiClients.length > 0 && s.openaiClients[0].configured)) {
        if (Date.now() > stop) throw new Error('timed out');
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      for (let i = 0; i < 12; i++) {
        s.openaiClients[0].emit(OPENAI_REALTIME_EVENTS.Error, { type: 'error', error: { message: `glitch ${i}` } });
      }
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.equal(events.filter((e) => e.event === 'error').length, 10);
  assert.equal(events.at(-1).data.reason, 'max_duration');
  assert.match(sim.logs.join('\n'), /glitch 11 \(recoverable; the call goes on\)/);
  assert.match(sim.logs.join('\n'), /more than 10 recoverable AI errors; the rest are only logged/);
});

test('barge-in: each time the callee starts speaking, the agent\'s buffered audio is cleared', async () => {
  const { result, sim } = await session({});
  assert.equal(result.exitCode, 0, result.reason);
  const started = sim.events.filter((e) => e.kind === 'openai' && e.name === 'OpenAI.RealtimeAPI.InputAudioBufferSpeechStarted');
  const cleared = sim.events.filter((e) => e.kind === 'api' && e.name === 'clearMediaBuffer');
  assert.equal(started.length, 2, 'the callee spoke twice');
  assert.equal(cleared.length, 2);
  for (const speech of started) {
    const index = sim.events.indexOf(speech);
    assert.equal(sim.events[index + 1].name, 'clearMediaBuffer', 'cleared at once, in the same handler');
  }
});

test('secrets never reach Logger output', async () => {
  const { sim } = await session({ destination: '+14155550166' });
  const logs = sim.logs.join('\n');
  assert.ok(logs.length > 0, 'the scenario did log');
  assert.ok(!logs.includes(OPENAI_KEY), 'no OpenAI key in the logs');
  assert.ok(!logs.includes(TOKEN), 'no callback token in the logs');
});
