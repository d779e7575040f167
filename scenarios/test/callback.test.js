'use strict';
// Delivery of status events: headers and body, one request in flight, in order, each event retried with backoff for
// 120 s (a bot restart), 4xx refusals not retried, transcript lines coalesced behind an undelivered event with seq
// gap-free, a 30 s outage mid-call or near the end losing nothing, and a flush bounded by the 60 s a session without
// a call may live.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startCallbackServer, unreachableUrl, runSession, apiNames, checkEnvelope, hangup, TOKEN,
} = require('../testkit/harness');
const { OUTCOMES } = require('../simulator/outcomes');
const { OPENAI_REALTIME_EVENTS } = require('../simulator/names');

function seqsOf(requests) {
  return requests.map((r) => r.body && r.body.seq);
}

/** Every request that carried a seq carried the same body each time: a retry, never a new event under an old seq. */
function assertSeqsNeverReused(requests) {
  const bodies = new Map();
  for (const r of requests) {
    const seen = bodies.get(r.body.seq);
    if (seen === undefined) bodies.set(r.body.seq, r.text);
    else assert.equal(r.text, seen, `seq ${r.body.seq} was sent again with another body`);
  }
}

/** Resolves after `ms` of real time. */
function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `ready()` is true, checking every 2 ms (real time) for at most 5 s. */
async function until(ready) {
  const stop = Date.now() + 5000;
  while (!ready()) {
    if (Date.now() > stop) throw new Error('timed out');
    await pause(2);
  }
}

test('each event is a POST with the bearer token and a JSON body', async () => {
  const bot = await startCallbackServer();
  try {
    await runSession({ customData: bot.customData() });
    assert.ok(bot.requests.length >= 5);
    for (const r of bot.requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/voximplant/events');
      assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(Object.keys(r.body).sort(), ['at', 'call_id', 'data', 'event', 'seq', 'v']);
    }
    checkEnvelope(assert, bot.events);
  } finally {
    await bot.close();
  }
});

test('a 500 then 200 is retried: every event delivered once, in order, none skipped', async () => {
  const failed = new Set();
  // The first attempt of every event gets 500; the retry gets 200.
  const bot = await startCallbackServer({
    respond: (request) => {
      if (!failed.has(request.body.seq)) {
        failed.add(request.body.seq);
        return 500;
      }
      return 200;
    },
  });
  try {
    const { result, sim } = await runSession({ customData: bot.customData() });
    assert.equal(result.exitCode, 0, result.reason);
    const names = checkEnvelope(assert, bot.events);
    assert.equal(names.at(-1), 'disconnected', 'the last event got through too');
    const n = bot.events.length;
    const expected = [];
    for (let seq = 1; seq <= n; seq++) expected.push(seq, seq);
    assert.deepEqual(seqsOf(bot.requests), expected, 'each event twice (500, then 200), strictly in order');
    assertSeqsNeverReused(bot.requests);
    assert.equal(apiNames(sim).at(-1), 'terminate');
  } finally {
    await bot.close();
  }
});

test('an event is retried with backoff 0.5, 1, 2, 4, then every 5 s, for 120 s; then dropped and the next follows', async () => {
  const times = [];
  const bot = await startCallbackServer({
    respond: (request) => {
      if (request.body.seq === 1) times.push(performance.now());
      return request.body.seq === 1 ? 503 : 200;
    },
  });
  const scale = 0.01;
  try {
    // A held call that lasts longer than the retry window, so that the window (not the end) stops the retries.
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: '+14155550177', max_duration_s: 150 }),
      timeScale: scale,
      timeoutMs: 20000,
    });
    assert.equal(result.exitCode, 0, result.reason);
    const gaps = times.slice(1).map((t, i) => (t - times[i]) / scale);
    [500, 1000, 2000, 4000, 5000, 5000].forEach((expected, i) => {
      assert.ok(gaps[i] >= expected * 0.9 && gaps[i] < expected + 1500, `gap ${i + 1} is ${Math.round(gaps[i])} ms, expected ${expected}`);
    });
    const span = (times.at(-1) - times[0]) / scale;
    assert.ok(span >= 115000 && span < 126000, `seq 1 tried for ${Math.round(span)} simulated ms`);
    assert.match(sim.logs.join('\n'), /event 1 \(started\) not delivered in 120 s \(\d+ tries, last code 503\); dropped/);
    assert.equal(bot.events[0].seq, 2, 'seq 1 was dropped; seq numbers are not reused');
    assert.equal(bot.events.at(-1).event, 'disconnected');
  } finally {
    await bot.close();
  }
});

test('408 and 429 are retried; other 4xx answers are final and not retried', async () => {
  const answers = { 1: [408, 200], 2: [429, 200], 3: [400], 4: [401], 5: [404, 200] };
  const bot = await startCallbackServer({
    respond: (request) => {
      const list = answers[request.body.seq];
      return list && list.length ? list.shift() : 200;
    },
  });
  try {
    const { result, sim } = await runSession({ customData: bot.customData() });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(seqsOf(bot.requests).slice(0, 7), [1, 1, 2, 2, 3, 4, 5]);
    assert.match(sim.logs.join('\n'), /event 3 \(ringing\) refused with HTTP 400; dropped/);
    assert.match(sim.logs.join('\n'), /event 5 \(answered\) refused with HTTP 404; dropped/);
  } finally {
    await bot.close();
  }
});

test('one request in flight at a time', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const bot = await startCallbackServer({
    respond: async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await pause(15); // slower than the call's events, so they pile up in the queue
      inFlight -= 1;
      return 200;
    },
  });
  try {
    const { result, sim } = await runSession({ customData: bot.customData(), timeScale: 0.01 });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(maxInFlight, 1);
    assert.ok(sim.apiCalls.filter((r) => r.api === 'httpRequestAsync').length >= 5);
  } finally {
    await bot.close();
  }
});

test('the bot answering 503 for 30 s mid-call: no event lost, none sent twice as a new event, the call unaffected', async () => {
  const scale = 0.01;
  let outage = null; // [from, to] in real ms
  const bot = await startCallbackServer({
    respond: (request) => {
      if (!outage && request.body.event === 'connected') outage = [request.at, request.at + 30000 * scale];
      return outage && request.at > outage[0] && request.at < outage[1] ? 503 : 200;
    },
  });
  try {
    const { result, sim } = await runSession({ customData: bot.customData(), timeScale: scale });
    assert.equal(result.exitCode, 0, result.reason);
    const names = checkEnvelope(assert, bot.events); // seq 1..n, gap-free, in order
    assert.deepEqual(names.filter((n) => n !== 'transcript'), ['started', 'dialing', 'ringing', 'connected', 'answered', 'disconnected']);
    const spoken = bot.events.filter((e) => e.event === 'transcript').map((e) => e.data.text).join('\n').split('\n');
    assert.equal(spoken.length, 4, 'all four lines of the conversation arrived');
    assert.ok(bot.requests.filter((r) => r.at > outage[0] && r.at < outage[1]).length >= 4, 'the outage was felt');
    assertSeqsNeverReused(bot.requests);
    // The call ran as scripted: the callee hung up 5 s after answering, whatever the bot was doing.
    assert.equal(bot.events.at(-1).data.duration_s, 5);
    assert.equal(bot.events.at(-1).data.reason, 'remote_hangup');
    assert.ok(!sim.logs.some((line) => /dropped|undelivered/.test(line)), sim.logs.join('\n'));
  } finally {
    await bot.close();
  }
});

test('the bot refusing connections for 30 s mid-call (a restart): no event lost, none sent twice as a new event', async () => {
  const scale = 0.01;
  const bot = await startCallbackServer();
  let upAt;
  try {
    const { result, sim } = await runSession({
      customData: bot.customData(),
      timeScale: scale,
      during: async () => {
        await bot.waitFor((events) => events.some((e) => e.event === 'connected'));
        await bot.down();
        await pause(30000 * scale);
        await bot.up();
        upAt = performance.now();
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    const names = checkEnvelope(assert, bot.events);
    assert.deepEqual(names.filter((n) => n !== 'transcript'), ['started', 'dialing', 'ringing', 'connected', 'answered', 'disconnected']);
    const spoken = bot.events.filter((e) => e.event === 'transcript').map((e) => e.data.text).join('\n').split('\n');
    assert.equal(spoken.length, 4, 'all four lines of the conversation arrived');
    assert.ok(bot.requests.some((r) => r.at > upAt), 'events arrived after the restart');
    assertSeqsNeverReused(bot.requests);
    assert.equal(bot.events.at(-1).data.duration_s, 5, 'the call ran as scripted');
    assert.ok(!sim.logs.some((line) => /dropped|undelivered/.test(line)), sim.logs.join('\n'));
  } finally {
    await bot.close();
  }
});

test('transcript lines queued behind an undelivered event are merged by role; seq stays gap-free', async (t) => {
  OUTCOMES.quiet = { digits: null, ringingAt: 300, answerAt: 1000, hangupAfter: null, ai: 'silent' };
  t.after(() => delete OUTCOMES.quiet);
  let refusing = false;
  const bot = await startCallbackServer({ respond: () => (refusing ? 503 : 200) });
  try {
    const { result } = await runSession({
      customData: bot.customData({ channel: 'user', destination: 'quiet' }),
      timeScale: 0.05,
      during: async (sim, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'connected'));
        await until(() => sim.openaiClients.length > 0 && sim.openaiClients[0].configured);
        refusing = true;
        const agent = sim.openaiClients[0];
        const say = (role, text) =>
          role === 'agent'
            ? agent.emit(OPENAI_REALTIME_EVENTS.ResponseOutputAudioTranscriptDone, { type: 'response.output_audio_transcript.done', transcript: text })
            : agent.emit(OPENAI_REALTIME_EVENTS.ConversationItemInputAudioTranscriptionCompleted, {
                type: 'conversation.item.input_audio_transcription.completed', transcript: text,
              });
        say('agent', 'a1');
        say('agent', 'a2');
        say('agent', 'a3');
        say('callee', 'c1');
        say('callee', 'c2');
        say('agent', 'a4');
        await pause(100);
        refusing = false;
        await bot.waitFor((events) => events.filter((e) => e.event === 'transcript').length >= 4);
        await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    const names = checkEnvelope(assert, bot.events);
    const lines = bot.events.filter((e) => e.event === 'transcript').map((e) => [e.data.role, e.data.text]);
    assert.deepEqual(lines, [['agent', 'a1'], ['agent', 'a2\na3'], ['callee', 'c1\nc2'], ['agent', 'a4']],
      'a1 was on its way (it keeps its seq); the lines behind it merged while it waited');
    assert.equal(names.at(-1), 'disconnected');
    assertSeqsNeverReused(bot.requests);
  } finally {
    await bot.close();
  }
});

test('the bot refusing connections for 30 s near the end: every event arrives before terminate', async () => {
  const scale = 0.01;
  const bot = await startCallbackServer();
  let downAt;
  let upAt;
  try {
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: '+14155550177' }), // held: the test ends the call
      timeScale: scale,
      during: async (s, accessUrl) => {
        // After the conversation the bot restarts, and just then the call ends.
        await bot.waitFor((events) => events.filter((e) => e.event === 'transcript').length >= 4);
        downAt = performance.now();
        await bot.down();
        assert.deepEqual((await hangup(accessUrl)).json, { ok: true });
        await pause(30000 * scale);
        await bot.up();
        upAt = performance.now();
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    const names = checkEnvelope(assert, bot.events);
    assert.equal(names.at(-1), 'disconnected', 'the last event arrived after the restart');
    assert.ok(bot.requests.at(-1).at > upAt, 'it was delivered after the bot came back');
    assert.ok(upAt - downAt >= 30000 * scale);
    const refused = sim.apiCalls.filter((r) => r.api === 'httpRequestAsync').length - bot.requests.length - 1;
    assert.ok(refused >= 3, `${refused} tries were refused`);
    assertSeqsNeverReused(bot.requests);
    assert.ok(!sim.logs.some((line) => /dropped|undelivered/.test(line)), sim.logs.join('\n'));
  } finally {
    await bot.close();
  }
});

test('an unreachable bot: the call still runs and ends; the flush stops 50 s after the call, inside the 60 s rule', async () => {
  const scale = 0.01;
  const bot = await startCallbackServer();
  const data = bot.customData({ callback_url: await unreachableUrl() });
  let endedAt;
  try {
    const { result, sim } = await runSession({
      customData: data,
      timeScale: scale,
      during: async (s) => {
        await until(() => s.events.some((e) => e.name === 'Call.Disconnected'));
        endedAt = performance.now();
      },
    });
    const flushMs = (performance.now() - endedAt) / scale;
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(apiNames(sim).at(-1), 'terminate');
    const tries = sim.apiCalls.filter((r) => r.api === 'httpRequestAsync').length - 1;
    assert.ok(tries > 10, `the events were tried all along (${tries} tries)`);
    assert.ok(flushMs >= 49000 && flushMs < 55000, `terminated ${Math.round(flushMs)} simulated ms after the call ended`);
    assert.match(sim.logs.join('\n'), /event\(s\) still undelivered at terminate/);
  } finally {
    await bot.close();
  }
});
