'use strict';
// VoxEngine's documented limits, enforced by the simulator (simulator/limits.js names the source of each), each
// shown biting: custom data of 200 bytes, 3 HTTP requests in flight and 35 in all per session, a session without a call ends after 60 s,
// requests in flight at terminate still finish while queued ones are dropped, scenario size, 1 s per callback,
// 100 active timers. And the scenario itself fits.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { Simulation, EXIT } = require('../simulator/voxengine');
const { LIMITS } = require('../simulator/limits');
const { runSession, SCENARIO } = require('../testkit/harness');

/** A server that holds every request for `holdMs` of real time; counts how many it holds at once. */
async function slowServer(holdMs) {
  const state = { now: 0, max: 0, seen: 0 };
  const server = http.createServer((req, res) => {
    state.now += 1;
    state.seen += 1;
    state.max = Math.max(state.max, state.now);
    req.resume();
    setTimeout(() => {
      state.now -= 1;
      res.writeHead(200).end('ok');
    }, holdMs);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${server.address().port}/`;
  state.close = () => {
    server.close();
    server.closeAllConnections();
  };
  return state;
}

test('Net.httpRequestAsync: at most 3 in flight; 35 in all, beyond that code 0 at once', async () => {
  const server = await slowServer(40);
  try {
    const { result, sim } = await runSession({
      secrets: {},
      timeScale: 0.01,
      scenarioSource: `
        VoxEngine.addEventListener(AppEvents.Started, function () {
          var asked = [];
          for (var i = 0; i < 40; i++) asked.push(Net.httpRequestAsync(${JSON.stringify(server.url)}, { timeout: 5 }));
          Promise.all(asked).then(function (results) {
            Logger.write("codes " + results.map(function (r) { return r.code; }).join(","));
            Logger.write("error " + results[39].error);
            VoxEngine.terminate();
          });
          VoxEngine.callPSTN("+14155550177", "+14155559999"); // a call, so the 60 s rule stays out of it
        });
      `,
    });
    assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
    const codes = sim.logs.find((l) => l.startsWith('codes ')).slice(6).split(',').map(Number);
    assert.deepEqual(codes.slice(0, 35), Array(35).fill(200), 'the first 35 were served');
    assert.deepEqual(codes.slice(35), [0, 0, 0, 0, 0], 'the rest failed with code 0');
    assert.ok(sim.logs.includes('error Exceeded the HTTP connection count limit!'));
    assert.equal(server.max, LIMITS.NET_ACTIVE, 'never more than 3 at the server at once');
    assert.equal(server.seen, 35);
  } finally {
    server.close();
  }
});

test('a session without a call ends after 60 s (exit 4), whether it never dialled or its call ended', async () => {
  for (const source of [
    'VoxEngine.addEventListener(AppEvents.Started, function () { Logger.write("idle"); });',
    `VoxEngine.addEventListener(AppEvents.Started, function () {
       var call = VoxEngine.callPSTN("+14155550186", "+14155559999"); // busy: Failed at 1.3 s
       call.addEventListener(CallEvents.Failed, function () { Logger.write("failed"); });
     });`,
  ]) {
    const started = performance.now();
    const sim = new Simulation({ scenarioSource: source, timeScale: 0.002 });
    const result = await sim.run();
    const simulatedMs = (performance.now() - started) / 0.002;
    assert.equal(result.exitCode, EXIT.LIFETIME_EXCEEDED);
    assert.match(result.reason, /VoxEngine ended the session: no call for 60 s/);
    const base = source.includes('callPSTN') ? 61300 : 60000;
    assert.ok(simulatedMs >= base - 500 && simulatedMs < base + 15000, `ended after ${Math.round(simulatedMs)} simulated ms`);
    assert.ok(sim.events.some((e) => e.name === 'Application.Terminating'), 'Terminating fired');
  }
});

test('a live call keeps the session up past 60 s', async () => {
  const sim = new Simulation({
    scenarioSource: `VoxEngine.addEventListener(AppEvents.Started, function () {
      VoxEngine.callPSTN("+14155550177", "+14155559999");
      setTimeout(function () { VoxEngine.terminate(); }, 90000);
    });`,
    timeScale: 0.002,
  });
  const result = await sim.run();
  assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
});

test('terminate waits for a request in flight and runs its callback; queued requests are dropped', async () => {
  const server = await slowServer(60);
  try {
    const { result, sim } = await runSession({
      secrets: {},
      timeScale: 0.01,
      scenarioSource: `
        VoxEngine.addEventListener(AppEvents.Terminating, function () { Logger.write("terminating"); });
        VoxEngine.addEventListener(AppEvents.Started, function () {
          for (var i = 0; i < 5; i++) {
            (function (n) {
              Net.httpRequestAsync(${JSON.stringify(server.url)}).then(function (r) { Logger.write("done " + n + " " + r.code); });
            })(i);
          }
          VoxEngine.terminate();
        });
      `,
    });
    assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
    const done = sim.logs.filter((l) => l.startsWith('done '));
    assert.deepEqual(done.sort(), ['done 0 200', 'done 1 200', 'done 2 200'], 'the 3 in flight finished, callbacks ran');
    assert.ok(sim.logs.indexOf('terminating') > sim.logs.indexOf(done.at(-1)), 'Terminating came after them');
    assert.ok(sim.logs.some((l) => /2 queued HTTP request\(s\) dropped at terminate/.test(l)));
    assert.equal(server.seen, 3);
  } finally {
    server.close();
  }
});

test('a scenario longer than 256×1024 characters is refused (exit 3); outbound_call.js fits', async () => {
  const big = `VoxEngine.addEventListener(AppEvents.Started, function () { VoxEngine.terminate(); });\n/*${'x'.repeat(LIMITS.SCENARIO_CHARS)}*/`;
  const sim = new Simulation({ scenarioSource: big, timeScale: 0.01 });
  const result = await sim.run();
  assert.equal(result.exitCode, EXIT.SCENARIO_ERROR);
  assert.match(result.reason, /the scenario is \d+ characters; VoxEngine takes at most 262144/);
  const ours = [...fs.readFileSync(SCENARIO, 'utf8')].length;
  // Half the limit at most (a quarter until Say…, Join and the keypad came): room to grow.
  assert.ok(ours < LIMITS.SCENARIO_CHARS / 2, `outbound_call.js is ${ours} characters`);
});

test('a callback that runs longer than 1 s ends the session (exit 3)', async () => {
  const sim = new Simulation({
    scenarioSource: `VoxEngine.addEventListener(AppEvents.Started, function () {
      var until = Date.now() + 1100;
      while (Date.now() < until) {}
      VoxEngine.terminate();
    });`,
    timeScale: 0.01,
  });
  const result = await sim.run();
  assert.equal(result.exitCode, EXIT.SCENARIO_ERROR);
  assert.match(result.reason, /a callback ran \d+ ms; VoxEngine limits one callback to 1000 ms/);
});

test('more than 100 active timers ends the session (exit 3), even if the scenario catches the error', async () => {
  const sim = new Simulation({
    scenarioSource: `VoxEngine.addEventListener(AppEvents.Started, function () {
      try {
        for (var i = 0; i < 101; i++) setTimeout(function () {}, 1000);
      } catch (e) { Logger.write("caught " + e.message); }
    });`,
    timeScale: 0.01,
  });
  const result = await sim.run();
  assert.equal(result.exitCode, EXIT.SCENARIO_ERROR);
  assert.match(result.reason, /more than 100 active timers/);
});

test('custom data over 200 bytes is refused: the simulator will not start such a session', () => {
  const fits = 'x'.repeat(LIMITS.CUSTOM_DATA_BYTES);
  assert.doesNotThrow(() => new Simulation({ customData: fits }));
  assert.throws(() => new Simulation({ customData: `${fits}x` }), /script_custom_data is 201 bytes; Voximplant keeps at most 200/);
  assert.throws(() => new Simulation({ customData: 'é'.repeat(101) }), /202 bytes/, 'bytes, not characters');
});

test('VoxEngine.customData(value) over 200 bytes throws in the scenario', async () => {
  const { result, sim } = await runSession({
    secrets: {},
    timeScale: 0.01,
    scenarioSource: `VoxEngine.addEventListener(AppEvents.Started, function () {
      try { VoxEngine.customData(new Array(202).join("y")); } catch (e) { Logger.write("refused: " + e.message); }
      VoxEngine.terminate();
    });`,
  });
  assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
  assert.ok(sim.logs.includes('refused: VoxEngine.customData is 201 bytes; Voximplant keeps at most 200'));
});
