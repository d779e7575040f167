'use strict';
// Pull mode (custom data {"v":2,"id","m":"pull"}): the bot has no public URL. It delivers the brief over the
// session's access URL ({"action":"brief"}) within 30 s and polls ({"action":"events","after":N,"secret":S}); the
// scenario never makes an HTTP request, queues its status events (seq given when queued) and keeps each until a poll
// confirms it, answers at most 20 per poll, and terminates once the bot has confirmed the terminal event (or 50 s
// after the call, as push mode's flush). Push mode is unchanged.
const test = require('node:test');
const assert = require('node:assert/strict');
const { performance } = require('node:perf_hooks');
const {
  startCallbackServer, runSession, control, hangup, apiNames, checkEnvelope, pullLaunchData, makePullBrief,
  deliverBrief, poll, pullBot, pause, SECRET, CALL_ID, TOKEN, OPENAI_KEY,
} = require('../testkit/harness');
const { Simulation } = require('../simulator/voxengine');
const { OUTCOMES } = require('../simulator/outcomes');
const { OPENAI_REALTIME_EVENTS } = require('../simulator/names');

const DIALS = ['callPSTN', 'callSIP', 'callUser', 'callWhatsappUser'];
const HOLD = '+14155550177'; // answered, stays up
const WRONG = { ok: false, error: 'missing or wrong secret' };
const PULL_HINT = 'expected {"action":"brief","brief":{...}}, {"action":"events","after":<seq>,"secret":"<control secret>"}, ' +
  '{"action":"hangup","secret":"<control secret>"} or {"action":"say","text":"...","secret":"<control secret>"}';

/** Resolves once `ready()` is true, checking every 2 ms (real time) for at most 5 s. */
async function until(ready) {
  const stop = Date.now() + 5000;
  while (!ready()) {
    if (Date.now() > stop) throw new Error('timed out');
    await pause(2);
  }
}

function assertNeverDialled(sim) {
  assert.ok(!apiNames(sim).some((name) => DIALS.includes(name)), 'never dials');
  assert.equal(apiNames(sim).at(-1), 'terminate');
}

function assertNoRequestMade(sim) {
  assert.ok(!apiNames(sim).includes('httpRequestAsync'), 'pull mode makes no HTTP request');
}

/** A transcript line spoken into the session's (fake) OpenAI client. */
function say(sim, role, text) {
  const agent = sim.openaiClients[0];
  if (role === 'agent') {
    agent.emit(OPENAI_REALTIME_EVENTS.ResponseOutputAudioTranscriptDone, { type: 'response.output_audio_transcript.done', transcript: text });
  } else {
    agent.emit(OPENAI_REALTIME_EVENTS.ConversationItemInputAudioTranscriptionCompleted, {
      type: 'conversation.item.input_audio_transcription.completed', transcript: text,
    });
  }
}

/** An outcome that answers and stays silent (no scripted AI lines): tests speak the lines themselves. */
function quietOutcome(t) {
  OUTCOMES.quiet = { digits: null, ringingAt: 300, answerAt: 1000, hangupAfter: null, ai: 'silent' };
  t.after(() => delete OUTCOMES.quiet);
  return makePullBrief({ channel: 'user', destination: 'quiet' });
}

for (const pace of ['adaptive', 'fixed']) {
  test(`pull mode, ${pace} polling: the brief over the access URL, every event in order, done, terminate; no HTTP request`, async () => {
    let bot;
    const { result, sim } = await runSession({
      customData: pullLaunchData(),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        bot = await pullBot(accessUrl, pace === 'fixed' ? { fixedMs: 20 } : {});
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(bot.briefAnswer.json, { ok: true });
    assert.equal(bot.ended, 'done');
    assert.deepEqual(checkEnvelope(assert, bot.events), [
      'started', 'dialing', 'ringing', 'connected', 'answered', 'transcript', 'transcript', 'transcript', 'transcript', 'disconnected',
    ]);
    assert.deepEqual(bot.events.at(-1).data.reason, 'remote_hangup');
    assertNoRequestMade(sim);
    assert.deepEqual(sim.apiCalls.find((r) => r.api === 'callPSTN').args, ['+14155550100', '+14155559999', { amd: '[amd amd-1]' }]);
    assert.equal(apiNames(sim).at(-1), 'terminate');
    for (const { json } of bot.answers) {
      assert.deepEqual(Object.keys(json).sort(), ['done', 'events', 'last_seq', 'ok']);
      assert.ok(json.events.every((e) => e.seq <= json.last_seq), 'last_seq is the highest seq given');
    }
    const last = bot.answers.at(-1);
    assert.equal(last.after, 10, 'the last poll confirmed the terminal event');
    assert.deepEqual(last.json, { ok: true, events: [], last_seq: 10, done: true });
    assert.ok(bot.answers.slice(0, -1).every((a) => a.json.done === false), 'done only once the terminal event is confirmed');
    assert.ok(!sim.logs.some((line) => /not confirmed/.test(line)), sim.logs.join('\n'));
    assert.match(sim.logs.join('\n'), /call call-0001: pull mode: waiting up to 30 s for the brief over the access URL/);
  });
}

test('pull mode: no brief within 30 s: a clear log line, no dial, terminate (well inside the 60 s rule)', async () => {
  const { result, sim } = await runSession({ customData: pullLaunchData(), timeScale: 0.005 });
  assert.equal(result.exitCode, 0, result.reason);
  assertNeverDialled(sim);
  assertNoRequestMade(sim);
  assert.match(sim.logs.join('\n'), /call call-0001: no brief over the access URL within 30 s; nothing dialled/);
  const at = sim.events.find((e) => e.kind === 'api' && e.name === 'terminate').t;
  assert.ok(at >= 29000 && at < 40000, `terminate at ${at} ms (simulated), about 30 s after the start`);
});

test('pull mode: a repeated brief with the same control secret is ok and changes nothing; any other later brief is refused', async () => {
  const answers = {};
  let bot;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      const brief = makePullBrief({ destination: HOLD });
      answers.first = await deliverBrief(accessUrl, brief);
      answers.repeat = await deliverBrief(accessUrl, brief);
      answers.sameSecretOtherContent = await deliverBrief(accessUrl, { ...brief, destination: '+14155550100' });
      answers.otherSecret = await deliverBrief(accessUrl, { ...brief, control_secret: 'another-secret' });
      answers.noSecret = await deliverBrief(accessUrl, { ...brief, control_secret: undefined });
      answers.notObject = await control(accessUrl, { action: 'brief', brief: 'x' });
      await until(() => s.calls.length > 0 && s.calls[0].state === 'CONNECTED');
      answers.hangup = await hangup(accessUrl);
      bot = await pullBot(accessUrl, { brief: null });
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(answers.first.json, { ok: true });
  assert.deepEqual(answers.repeat.json, { ok: true });
  assert.deepEqual(answers.sameSecretOtherContent.json, { ok: true });
  for (const name of ['otherSecret', 'noSecret', 'notObject']) {
    assert.deepEqual(answers[name].json, { ok: false, error: 'brief already delivered' }, name);
  }
  assert.deepEqual(answers.hangup.json, { ok: true });
  assert.equal(sim.apiCalls.filter((r) => DIALS.includes(r.api)).length, 1, 'dialled once');
  assert.deepEqual(sim.apiCalls.find((r) => r.api === 'callPSTN').args, [HOLD, '+14155559999', { amd: '[amd amd-1]' }], 'the first brief counts');
  assert.equal(bot.ended, 'done');
  assert.deepEqual(checkEnvelope(assert, bot.events).filter((e) => e === 'started'), ['started']);
  assert.equal(bot.events.at(-1).data.reason, 'hangup_requested');
});

test('pull mode: an invalid brief is final: bad brief answer, error and failed code 0 for the bot to poll, no dial', async () => {
  const answers = {};
  let bot;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      const bad = makePullBrief({ call_id: 'call-other', destination: '4155550100', max_duration_s: 0 });
      answers.first = await deliverBrief(accessUrl, bad);
      answers.repeat = await deliverBrief(accessUrl, bad);
      answers.fixed = await deliverBrief(accessUrl, makePullBrief({ control_secret: 'new-secret' }));
      bot = await pullBot(accessUrl, { brief: null });
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  const message = "bad brief: call_id 'call-other' is not the call id in custom data ('call-0001'); destination for " +
    "channel 'pstn' must be an E.164 number such as +14155550100; field 'max_duration_s' must be a positive integer";
  assert.deepEqual(answers.first.json, { ok: false, error: message });
  assert.deepEqual(answers.repeat.json, { ok: false, error: message }, 'a retry gets the same answer');
  assert.deepEqual(answers.fixed.json, { ok: false, error: 'brief already delivered' });
  assert.equal(bot.ended, 'done');
  assert.deepEqual(checkEnvelope(assert, bot.events, CALL_ID), ['error', 'failed']);
  assert.deepEqual(bot.events[0].data, { message });
  assert.deepEqual(bot.events[1].data, { code: 0, reason: message });
  assertNeverDialled(sim);
  assertNoRequestMade(sim);
  assert.ok(!sim.logs.join('\n').includes(SECRET), 'the secret is never logged');
});

test('pull mode: an invalid brief without a control secret is only logged; the session ends at once', async () => {
  let answer;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      answer = await control(accessUrl, { action: 'brief', brief: ['not', 'an', 'object'] });
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.deepEqual(answer.json, { ok: false, error: "bad brief: field 'brief' is not a JSON object" });
  assertNeverDialled(sim);
  assert.match(sim.logs.join('\n'), /call call-0001: bad brief: field 'brief' is not a JSON object; nothing dialled/);
  const at = sim.events.find((e) => e.kind === 'api' && e.name === 'terminate').t;
  assert.ok(at < 5000, `terminated at ${at} ms: nothing to wait for`);
});

test('pull mode: requests are checked in order (method, JSON, object, action, secret); wrong secrets change nothing', async () => {
  const a = {};
  let bot;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      a.beforeBriefEvents = await poll(accessUrl, 0);
      a.beforeBriefHangup = await hangup(accessUrl);
      a.get = await control(accessUrl, undefined, 'GET');
      a.notJson = await control(accessUrl, 'events please');
      a.array = await control(accessUrl, [{ action: 'events' }]);
      a.unknownNoSecret = await control(accessUrl, { action: 'dance' });
      a.noAction = await control(accessUrl, { after: 0, secret: SECRET });
      await deliverBrief(accessUrl, makePullBrief({ destination: HOLD }));
      await until(() => s.calls.length > 0 && s.calls[0].state === 'CONNECTED');
      a.wrongEvents = await poll(accessUrl, 0, `${SECRET}x`);
      a.missingEvents = await control(accessUrl, { action: 'events', after: 0 });
      a.wrongHangup = await hangup(accessUrl, 'guess');
      a.badAfter = await control(accessUrl, { action: 'events', after: -1, secret: SECRET });
      a.textAfter = await control(accessUrl, { action: 'events', after: '3', secret: SECRET });
      a.wrongSecretBadAfter = await control(accessUrl, { action: 'events', after: 'x', secret: 'guess' });
      a.beyond = await poll(accessUrl, 1000);
      a.stillUp = s.calls[0].state;
      a.hangup = await hangup(accessUrl);
      bot = await pullBot(accessUrl, { brief: null });
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  for (const name of ['beforeBriefEvents', 'beforeBriefHangup', 'wrongEvents', 'missingEvents', 'wrongHangup', 'wrongSecretBadAfter']) {
    assert.deepEqual(a[name].json, WRONG, name);
    assert.ok(!a[name].text.includes(SECRET), 'the secret is never echoed');
  }
  assert.deepEqual(a.get.json, { ok: false, error: `method GET not allowed; POST ${PULL_HINT}` });
  assert.deepEqual(a.notJson.json, { ok: false, error: `body is not valid JSON; ${PULL_HINT}` });
  assert.deepEqual(a.array.json, { ok: false, error: `body is not a JSON object; ${PULL_HINT}` });
  assert.deepEqual(a.unknownNoSecret.json, { ok: false, error: `unknown action 'dance'; ${PULL_HINT}` }, 'the action is checked before the secret');
  assert.deepEqual(a.noAction.json, { ok: false, error: `unknown action (none); ${PULL_HINT}` });
  const afterError = { ok: false, error: "field 'after' must be a whole number >= 0 (the last seq received, 0 for none)" };
  assert.deepEqual(a.badAfter.json, afterError);
  assert.deepEqual(a.textAfter.json, afterError);
  assert.match(a.beyond.json.error, /^field 'after' is 1000 but the last seq given is \d$/, 'nothing beyond last_seq is confirmed');
  assert.equal(a.stillUp, 'CONNECTED', 'no wrong request ended the call');
  assert.deepEqual(a.hangup.json, { ok: true });
  assert.equal(sim.apiCalls.filter((r) => r.api === 'hangup').length, 1);
  assert.equal(bot.ended, 'done');
  assert.equal(bot.events.at(-1).data.reason, 'hangup_requested');
  assert.equal(checkEnvelope(assert, bot.events)[0], 'started', 'nothing a wrong request asked for was confirmed or lost');
});

test('pull mode: at most 20 events per answer, in seq order; a confirmation drops events; done, then terminate at once', async (t) => {
  const brief = quietOutcome(t);
  const polls = {};
  let doneAt;
  let endedAt;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05, // the 50 s bound is 2.5 s of real time: a prompt end comes from the confirmation
    during: async (s, accessUrl) => {
      s.done.then(() => {
        endedAt = performance.now();
      });
      await deliverBrief(accessUrl, brief);
      await until(() => s.openaiClients.length > 0 && s.openaiClients[0].configured);
      for (let i = 1; i <= 45; i++) say(s, 'agent', `line ${i}`); // same role, below the merge bound: 45 events
      await hangup(accessUrl);
      await until(() => s.calls[0].state === 'ENDED');
      await pause(20);
      polls.first = await poll(accessUrl, 0);
      polls.again = await poll(accessUrl, 0);
      polls.second = await poll(accessUrl, 20);
      polls.behind = await poll(accessUrl, 10);
      polls.third = await poll(accessUrl, 40);
      await pause(200);
      polls.notYet = s.ended;
      polls.last = await poll(accessUrl, 50);
      doneAt = performance.now();
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  const seqs = (answer) => answer.json.events.map((e) => e.seq);
  const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  // started, dialing, ringing, connected, 45 lines, disconnected
  assert.deepEqual(seqs(polls.first), range(1, 20));
  assert.equal(polls.first.json.last_seq, 50);
  assert.equal(polls.first.json.done, false);
  assert.equal(polls.again.text, polls.first.text, 'nothing confirmed: the same answer again');
  assert.deepEqual(seqs(polls.second), range(21, 40));
  assert.deepEqual(seqs(polls.behind), range(21, 40), 'events up to 20 were confirmed and dropped');
  assert.deepEqual(seqs(polls.third), range(41, 50));
  assert.equal(polls.third.json.done, false, 'the terminal event is sent, not yet confirmed');
  assert.equal(polls.notYet, false, 'the session waits for the confirmation');
  assert.deepEqual(polls.last.json, { ok: true, events: [], last_seq: 50, done: true });
  const all = [...polls.first.json.events, ...polls.second.json.events, ...polls.third.json.events];
  assert.deepEqual(checkEnvelope(assert, all).slice(0, 5), ['started', 'dialing', 'ringing', 'connected', 'transcript']);
  assert.deepEqual(all.filter((e) => e.event === 'transcript').map((e) => e.data.text), range(1, 45).map((i) => `line ${i}`));
  assert.equal(all.at(-1).event, 'disconnected');
  assert.ok(endedAt - doneAt < 1000, `terminated ${Math.round(endedAt - doneAt)} ms after the confirmation`);
  assert.equal(apiNames(sim).at(-1), 'terminate');
  // The session is gone: a later poll is not answered by it (refused; or a kept-alive connection closed under it).
  await assert.rejects(poll(sim.accessUrl, 50), /ECONNREFUSED|socket hang up|ECONNRESET/);
});

test('pull mode: past 200 unconfirmed events, same-role lines no answer has carried merge; seq stays gap-free', async (t) => {
  const brief = quietOutcome(t);
  let bot;
  const { result } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      await deliverBrief(accessUrl, brief);
      await until(() => s.openaiClients.length > 0 && s.openaiClients[0].configured);
      for (let i = 1; i <= 200; i++) say(s, i % 2 ? 'agent' : 'callee', `line ${i}`); // alternating: never merged
      await poll(accessUrl, 0); // carries seq 1..20: those are never changed
      say(s, 'agent', 'm1'); // 205th event
      say(s, 'agent', 'm2'); // merged into m1
      say(s, 'agent', 'm3');
      say(s, 'callee', 'c1'); // another role: a new event
      await hangup(accessUrl);
      bot = await pullBot(accessUrl, { brief: null });
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.equal(bot.ended, 'done');
  const names = checkEnvelope(assert, bot.events); // seq 1..n, no gap
  assert.equal(names.length, 4 + 200 + 2 + 1);
  const lines = bot.events.filter((e) => e.event === 'transcript');
  assert.deepEqual(lines.slice(-3).map((e) => e.data), [
    { role: 'callee', text: 'line 200' }, { role: 'agent', text: 'm1\nm2\nm3' }, { role: 'callee', text: 'c1' },
  ]);
  assert.ok(bot.answers.every((a) => a.json.events.length <= 20));
});

test('pull mode: a bot that never confirms: the session terminates 50 s after the call ended, inside the 60 s rule', async () => {
  let answers = 0;
  const { result, sim } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.005,
    timeoutMs: 5000,
    during: async (s, accessUrl) => {
      await deliverBrief(accessUrl);
      while (!s.ended) {
        const answer = await poll(accessUrl, 0).catch(() => null); // reads, never confirms
        if (answer && answer.status === 200) answers += 1;
        await pause(20);
      }
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.ok(answers > 0);
  const ended = sim.events.find((e) => e.name === 'Call.Disconnected').t;
  const terminated = sim.events.find((e) => e.kind === 'api' && e.name === 'terminate').t;
  const wait = terminated - ended;
  assert.ok(wait >= 49000 && wait < 55000, `terminate ${wait} ms (simulated) after the call ended`);
  assert.match(sim.logs.join('\n'), /10 event\(s\) not confirmed by the bot at terminate \(it confirmed up to seq 0\)/);
});

test('pull mode: a bot that stops polling for a while mid-call (a restart) loses no event', async () => {
  let bot;
  const { result } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      let restarted = false;
      bot = await pullBot(accessUrl, {
        // Away for 10 s (simulated) once the call is connected.
        holdMs: (after) => (after >= 4 && !restarted ? ((restarted = true), 500) : 0),
      });
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.equal(bot.ended, 'done');
  assert.equal(checkEnvelope(assert, bot.events).length, 10);
});

test('pull mode: a brief delivered before AppEvents.Started is kept, and the call goes ahead once the session starts', async () => {
  const sim = new Simulation({ customData: pullLaunchData(), secrets: { OPENAI_API_KEY: OPENAI_KEY }, timeScale: 0.05 });
  const { accessUrl } = await sim.start();
  try {
    const answer = await deliverBrief(accessUrl);
    assert.deepEqual(answer.json, { ok: true });
    assert.ok(!apiNames(sim).includes('callPSTN'), 'no dial before the session started');
    assert.deepEqual((await poll(accessUrl, 0)).json, { ok: true, events: [], last_seq: 0, done: false }, 'the secret works at once');
    sim.dispatchStarted();
    const bot = await pullBot(accessUrl, { brief: null });
    const result = await sim.done;
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.ended, 'done');
    assert.equal(checkEnvelope(assert, bot.events).at(-1), 'disconnected');
  } finally {
    if (!sim.ended) await sim.stop();
  }
});

test('pull-mode custom data with u or t, or with another mode, is bad custom data: logged, no dial', async () => {
  for (const data of [
    pullLaunchData({ u: 'http://127.0.0.1:9/brief', t: 'brief-token' }),
    pullLaunchData({ t: 'brief-token' }),
    pullLaunchData({ m: 'poll' }),
    pullLaunchData({ id: '' }),
  ]) {
    const { result, sim } = await runSession({ customData: data, timeScale: 0.01 });
    assert.equal(result.exitCode, 0, result.reason);
    assertNeverDialled(sim);
    assert.match(sim.logs.join('\n'), /callbot: bad custom data: /);
    assert.ok(!sim.logs.join('\n').includes('brief-token'), 'custom data is never logged');
  }
});

test('push mode is unchanged: "m":"push" fetches and POSTs as before; its control answers keep their order and hint', async () => {
  const bot = await startCallbackServer();
  try {
    const answers = {};
    const { result, sim } = await runSession({
      customData: bot.customData({ destination: HOLD }, { m: 'push' }),
      timeScale: 0.05,
      during: async (s, accessUrl) => {
        await bot.waitFor((events) => events.some((e) => e.event === 'connected'));
        answers.unknownWrongSecret = await control(accessUrl, { action: 'say', secret: 'guess' });
        answers.events = await poll(accessUrl, 0);
        answers.brief = await deliverBrief(accessUrl);
        answers.hangup = await hangup(accessUrl);
      },
    });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(bot.briefRequests.length, 1);
    assert.equal(bot.requests[0].headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(checkEnvelope(assert, bot.events).at(-1), 'disconnected');
    assert.deepEqual(answers.unknownWrongSecret.json, WRONG, 'push mode checks the secret before the action');
    const hint = 'expected {"action":"hangup","secret":"<control secret>"} or {"action":"say","text":"...","secret":"<control secret>"}';
    assert.deepEqual(answers.events.json, { ok: false, error: `unknown action 'events'; ${hint}` });
    assert.deepEqual(answers.brief.json, WRONG, 'a brief carries no top-level secret: refused like any request without one');
    assert.deepEqual(answers.hangup.json, { ok: true });
    assert.ok(apiNames(sim).includes('httpRequestAsync'));
  } finally {
    await bot.close();
  }
});

test('pull mode: a poll answering 20 of the longest transcript lines keeps its handler run far under the 1 s limit', async (t) => {
  const brief = quietOutcome(t);
  let answer;
  let longest;
  const { result } = await runSession({
    customData: pullLaunchData(),
    timeScale: 0.05,
    during: async (s, accessUrl) => {
      await deliverBrief(accessUrl, brief);
      await until(() => s.openaiClients.length > 0 && s.openaiClients[0].configured);
      for (let i = 0; i < 30; i++) say(s, i % 2 ? 'callee' : 'agent', `${i} ${'é'.repeat(12000)}`); // cut to 10,000
      const before = s.longestCallbackMs;
      answer = await poll(accessUrl, 4);
      longest = s.longestCallbackMs;
      assert.ok(before <= longest);
      await hangup(accessUrl);
      await pullBot(accessUrl, { brief: null });
    },
  });
  assert.equal(result.exitCode, 0, result.reason);
  assert.equal(answer.json.events.length, 20);
  assert.ok(answer.json.events.every((e) => e.data.text.length === 10000));
  assert.ok(answer.text.length > 20 * 10000);
  assert.ok(longest < 100, `the longest callback took ${longest.toFixed(1)} ms (limit 1000)`);
});
