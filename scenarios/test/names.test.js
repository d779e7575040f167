'use strict';
// simulator/names.js holds exactly the names of Voximplant's declarations (typings/voxengine.d.ts, v28) for the
// namespaces the simulator covers. The declarations are not in this repository: the comparison runs when a copy is
// found ($VOXENGINE_DTS, or /work/typings/voxengine.d.ts) and is skipped otherwise. The checker itself is tested
// on a small made-up declarations text either way.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { check, findDts } = require('../simulator/check_names');

const dts = findDts([]);

test('names.js agrees with voxengine.d.ts', { skip: dts ? false : 'no voxengine.d.ts here (set VOXENGINE_DTS)' }, () => {
  assert.deepEqual(check(fs.readFileSync(dts, 'utf8')), []);
});

test('the checker finds a missing name, an unknown name and a changed value', () => {
  const names = require('../simulator/names');
  const enumText = (name, members) =>
    `declare enum ${name} {\n${Object.entries(members).map(([k, v]) => `  /** a { brace */ ${k} = '${v}',`).join('\n')}\n}\n`;
  const fns = (ns, list) => `declare namespace ${ns} {\n${list.map((f) => `  function ${f}(x: string): void;`).join('\n')}\n}\n`;
  const cls = (name, list) => `class ${name} {\n${list.map((m) => `  ${m}(): void;`).join('\n')}\n}\n`;
  const callEvents = { ...names.CALL_EVENTS, Conected: 'Call.Conected' }; // one the simulator lacks
  const appEvents = { ...names.APP_EVENTS, Started: 'Application.Begun' }; // one whose value differs
  const text = [
    enumText('AppEvents', appEvents),
    enumText('CallEvents', callEvents),
    enumText('Modules', names.MODULES),
    fns('VoxEngine', names.VOXENGINE_FUNCTIONS.filter((f) => f !== 'getSecretValue' && f !== 'terminate')),
    `declare module Net {\n${names.NET_FUNCTIONS.map((f) => `  function ${f}(): void;`).join('\n')}\n}\n`,
    fns('Logger', names.LOGGER_FUNCTIONS),
    `declare ${cls('Call', names.CALL_METHODS)}`,
    `declare namespace OpenAI {\n${enumText('RealtimeAPIEvents', names.OPENAI_REALTIME_EVENTS).replace('declare ', '')}` +
      `${enumText('Events', names.OPENAI_EVENTS).replace('declare ', '')}` +
      `${enumText('RealtimeAPIClientType', names.OPENAI_CLIENT_TYPES).replace('declare ', '')}` +
      `${cls('RealtimeAPIClient', names.OPENAI_CLIENT_METHODS)}}\n`,
    `declare namespace AMD {\n${enumText('Events', names.AMD_EVENTS).replace('declare ', '')}` +
      `${enumText('Model', names.AMD_MODELS).replace('declare ', '')}` +
      `${enumText('ResultClass', names.AMD_RESULT_CLASSES).replace('declare ', '')}` +
      `${enumText('ResultSubtype', names.AMD_RESULT_SUBTYPES).replace('declare ', '')}` +
      `${cls('AnsweringMachineDetector', names.AMD_DETECTOR_METHODS)}}\n`,
    fns('AMD', names.AMD_FUNCTIONS),
  ].join('\n');
  const problems = check(text);
  assert.deepEqual(problems, [
    "AppEvents.Started: names.js says 'Application.Started', the d.ts 'Application.Begun'",
    'CallEvents: in the d.ts, not in names.js: Conected',
    'VoxEngine functions: in names.js, not in the d.ts: terminate',
  ]);
});
