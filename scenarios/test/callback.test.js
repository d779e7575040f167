'use strict';
// Delivery of status events: headers and body, one request in flight, in order, retries with backoff, 4xx
// refusals not retried, and a call that still ends and terminates when the bot cannot be reached.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startCallbackServer, unreachableUrl, customData, runSession, apiNames, checkEnvelope, TOKEN,
} = require('../testkit/harness');

function seqsOf(requests) {
  return requests.map((r) => r.body && r.body.seq);
}

test('each event is a POST with the bearer token and a JSON body', async () => {
  const bot = await startCallbackServer();
  try {
    await runSession({ customData: customData({ callback_url: bot.url }) });
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
    const { result, sim } = await runSession({ customData: customData({ callback_url: bot.url }) });
    assert.equal(result.exitCode, 0, result.reason);
    const names = checkEnvelope(assert, bot.events);
    assert.equal(names.at(-1), 'disconnected', 'the last event got through too');
    const n = bot.events.length;
    const expected = [];
    for (let seq = 1; seq <= n; seq++) expected.push(seq, seq);
    assert.deepEqual(seqsOf(bot.requests), expected, 'each event twice (500, then 200), strictly in order');
    assert.equal(apiNames(sim).at(-1), 'terminate');
  } finally {
    await bot.close();
  }
});

test('retries back off 0.5 s, 1 s, 2 s and stop after 4 tries; the next event follows', async () => {
  const times = [];
  const bot = await startCallbackServer({
    respond: (request) => {
      times.push(performance.now());
      return request.body.seq === 1 ? 503 : 200;
    },
  });
  const scale = 0.05;
  try {
    const { result, sim } = await runSession({ customData: customData({ callback_url: bot.url }), timeScale: scale });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(seqsOf(bot.requests).slice(0, 5), [1, 1, 1, 1, 2], 'four tries of seq 1, then seq 2');
    const gaps = [1, 2, 3].map((i) => (times[i] - times[i - 1]) / scale);
    [500, 1000, 2000].forEach((expected, i) => {
      assert.ok(gaps[i] >= expected * 0.9 && gaps[i] < expected + 400, `gap ${i + 1} is ${Math.round(gaps[i])} ms, expected ${expected}`);
    });
    assert.equal(bot.events[0].seq, 2, 'seq 1 was dropped; seq numbers are not reused');
    assert.match(sim.logs.join('\n'), /event 1 \(started\) not delivered after 4 tries \(last code 503\); dropped/);
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
    const { result, sim } = await runSession({ customData: customData({ callback_url: bot.url }) });
    assert.equal(result.exitCode, 0, result.reason);
    assert.deepEqual(seqsOf(bot.requests).slice(0, 7), [1, 1, 2, 2, 3, 4, 5]);
    assert.match(sim.logs.join('\n'), /event 3 \(ringing\) refused with HTTP 400; dropped/);
    assert.match(sim.logs.join('\n'), /event 5 \(transcript\) refused with HTTP 404; dropped/);
  } finally {
    await bot.close();
  }
});

test('one request in flight at a time', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const http = require('node:http');
  const server = http.createServer((req, res) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    req.resume();
    setTimeout(() => {
      inFlight -= 1;
      res.writeHead(200).end('{}');
    }, 15); // slower than the call's events, so they pile up in the queue
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${server.address().port}/`;
    const { result, sim } = await runSession({ customData: customData({ callback_url: url }), timeScale: 0.01 });
    assert.equal(result.exitCode, 0, result.reason);
    assert.equal(maxInFlight, 1);
    assert.ok(sim.apiCalls.filter((r) => r.api === 'httpRequestAsync').length >= 5);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});

test('an unreachable callback URL: the call still runs, ends and terminates within the flush bound', async () => {
  const url = await unreachableUrl();
  const started = performance.now();
  const scale = 0.02;
  const { result, sim } = await runSession({ customData: customData({ callback_url: url }), timeScale: scale });
  const elapsedSimMs = (performance.now() - started) / scale;
  assert.equal(result.exitCode, 0, result.reason);
  assert.equal(apiNames(sim).at(-1), 'terminate');
  assert.ok(sim.events.some((e) => e.name === 'Call.Disconnected'), 'the call ran to its end');
  const posts = sim.apiCalls.filter((r) => r.api === 'httpRequestAsync');
  const firstEventTries = posts.filter((r) => JSON.parse(r.args[1].postData).seq === 1).length;
  assert.equal(firstEventTries, 4, 'the first event was tried 4 times');
  // 6 s of call + at most 5 s of flush (+ slack), far less than retrying every event in full.
  assert.ok(elapsedSimMs < 13000, `session took ${Math.round(elapsedSimMs)} simulated ms`);
  assert.match(sim.logs.join('\n'), /event\(s\) still undelivered at terminate/);
});
