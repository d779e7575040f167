#!/usr/bin/env node
'use strict';
/**
 * Dev-only check: the names in simulator/names.js are exactly the names Voximplant's type declarations define for
 * the namespaces the simulator covers. The declarations (typings/voxengine.d.ts from voximplant/voxengine-ci,
 * Apache-2.0) are not part of this repository: point at a local copy.
 *
 *   node scenarios/simulator/check_names.js [PATH/TO/voxengine.d.ts]
 *
 * The path defaults to $VOXENGINE_DTS, then /work/typings/voxengine.d.ts. Exit 0 when they agree, 1 with the
 * differences, 2 when no declarations file is found. scenarios/test/names.test.js runs it and skips without one.
 */
const fs = require('node:fs');
const names = require('./names');

const DEFAULT_PATHS = [process.env.VOXENGINE_DTS, '/work/typings/voxengine.d.ts'].filter(Boolean);

// Documented by Voximplant but missing from the declarations (v28): allowed in names.js beyond the d.ts.
// VoxEngine.getSecretValue: voximplant.com/docs/references/voxengine/voxengine/getsecretvalue.
const EXTRA_ALLOWED = { 'VoxEngine functions': ['getSecretValue'] };

/** The text with comments blanked out (strings kept), so braces in comments do not count. */
function stripComments(text) {
  let out = '';
  let i = 0;
  let quote = null;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (quote) {
      out += c;
      if (c === '\\') {
        out += next || '';
        i += 2;
        continue;
      }
      if (c === quote) quote = null;
      i += 1;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else {
      if (c === "'" || c === '"' || c === '`') quote = c;
      out += c;
      i += 1;
    }
  }
  return out;
}

/** Index of the brace closing the one at `open`. */
function matchBrace(text, open) {
  let depth = 0;
  let quote = null;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i += 1;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '{') depth += 1;
    else if (c === '}') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  throw new Error(`unbalanced brace at ${open}`);
}

/** Top-level blocks of `text`: [{kind, name, body}], in order (nested blocks are left inside their body). */
function blocks(text) {
  const found = [];
  const head = /(?:^|[\s;}])(?:export\s+)?(?:declare\s+)?(namespace|module|enum|class|interface)\s+([\w.]+)[^{;=]*\{/g;
  let match;
  while ((match = head.exec(text))) {
    const open = match.index + match[0].length - 1;
    const close = matchBrace(text, open);
    found.push({ kind: match[1], name: match[2], body: text.slice(open + 1, close) });
    head.lastIndex = close + 1;
  }
  return found;
}

/** Merged view: name -> {kinds, bodies}, for one level. */
function byName(list) {
  const map = new Map();
  for (const block of list) {
    if (!map.has(block.name)) map.set(block.name, []);
    map.get(block.name).push(block);
  }
  return map;
}

/** Text of a body with its nested blocks removed. */
function ownText(body) {
  let text = body;
  for (const block of blocks(body)) text = text.replace(block.body, '');
  return text;
}

function enumMembers(block) {
  const members = {};
  for (const m of block.body.matchAll(/(\w+)\s*=\s*(['"])([^'"]*)\2/g)) members[m[1]] = m[3];
  return members;
}

function functionNames(bodies) {
  const set = new Set();
  for (const body of bodies) for (const m of ownText(body).matchAll(/\bfunction\s+(\w+)\s*[(<]/g)) set.add(m[1]);
  return [...set].sort();
}

function methodNames(body) {
  const set = new Set();
  for (const m of ownText(body).matchAll(/(?:^|[;{}\n])\s*(?:public\s+|static\s+)?(\w+)\s*(?:<[^>]*>)?\s*\(/g)) {
    if (!['constructor', 'if', 'for', 'while', 'function', 'return'].includes(m[1])) set.add(m[1]);
  }
  return [...set].sort();
}

function compareSets(label, ours, theirs, problems) {
  const extra = new Set(EXTRA_ALLOWED[label] || []);
  const missing = theirs.filter((n) => !ours.includes(n));
  const unknown = ours.filter((n) => !theirs.includes(n) && !extra.has(n));
  if (missing.length) problems.push(`${label}: in the d.ts, not in names.js: ${missing.join(', ')}`);
  if (unknown.length) problems.push(`${label}: in names.js, not in the d.ts: ${unknown.join(', ')}`);
}

function compareEnum(label, ours, theirs, problems) {
  compareSets(label, Object.keys(ours).sort(), Object.keys(theirs).sort(), problems);
  for (const key of Object.keys(ours)) {
    if (key in theirs && theirs[key] !== ours[key]) {
      problems.push(`${label}.${key}: names.js says '${ours[key]}', the d.ts '${theirs[key]}'`);
    }
  }
}

/** Compares names.js with the declarations text; returns a list of differences (empty when they agree). */
function check(dts) {
  const top = byName(blocks(stripComments(dts)));
  const problems = [];
  const one = (name, kind) => {
    const list = (top.get(name) || []).filter((b) => b.kind === kind);
    if (list.length === 0) throw new Error(`no ${kind} ${name} in the declarations`);
    return list;
  };
  const mergedEnum = (list) => Object.assign({}, ...list.map(enumMembers));
  compareEnum('AppEvents', names.APP_EVENTS, mergedEnum(one('AppEvents', 'enum')), problems);
  compareEnum('CallEvents', names.CALL_EVENTS, mergedEnum(one('CallEvents', 'enum')), problems);
  compareEnum('Modules', names.MODULES, mergedEnum(one('Modules', 'enum')), problems);
  const vox = [...(top.get('VoxEngine') || [])].map((b) => b.body);
  compareSets('VoxEngine functions', names.VOXENGINE_FUNCTIONS.slice().sort(), functionNames(vox), problems);
  compareSets('Net functions', names.NET_FUNCTIONS.slice().sort(), functionNames((top.get('Net') || []).map((b) => b.body)), problems);
  compareSets('Logger functions', names.LOGGER_FUNCTIONS.slice().sort(), functionNames((top.get('Logger') || []).map((b) => b.body)), problems);
  compareSets('Call methods', names.CALL_METHODS.slice().sort(), methodNames(one('Call', 'class')[0].body), problems);
  const openai = byName(one('OpenAI', 'namespace').flatMap((b) => blocks(b.body)));
  const inner = (name, kind) => (openai.get(name) || []).filter((b) => b.kind === kind);
  compareEnum('OpenAI.RealtimeAPIEvents', names.OPENAI_REALTIME_EVENTS, mergedEnum(inner('RealtimeAPIEvents', 'enum')), problems);
  compareEnum('OpenAI.Events', names.OPENAI_EVENTS, mergedEnum(inner('Events', 'enum')), problems);
  compareEnum('OpenAI.RealtimeAPIClientType', names.OPENAI_CLIENT_TYPES, mergedEnum(inner('RealtimeAPIClientType', 'enum')), problems);
  const client = inner('RealtimeAPIClient', 'class');
  if (client.length === 0) throw new Error('no class OpenAI.RealtimeAPIClient in the declarations');
  compareSets('OpenAI.RealtimeAPIClient methods', names.OPENAI_CLIENT_METHODS.slice().sort(), methodNames(client[0].body), problems);
  const amdBlocks = one('AMD', 'namespace');
  const amd = byName(amdBlocks.flatMap((b) => blocks(b.body)));
  const amdInner = (name, kind) => (amd.get(name) || []).filter((b) => b.kind === kind);
  compareEnum('AMD.Events', names.AMD_EVENTS, mergedEnum(amdInner('Events', 'enum')), problems);
  compareEnum('AMD.Model', names.AMD_MODELS, mergedEnum(amdInner('Model', 'enum')), problems);
  compareEnum('AMD.ResultClass', names.AMD_RESULT_CLASSES, mergedEnum(amdInner('ResultClass', 'enum')), problems);
  compareEnum('AMD.ResultSubtype', names.AMD_RESULT_SUBTYPES, mergedEnum(amdInner('ResultSubtype', 'enum')), problems);
  compareSets('AMD functions', names.AMD_FUNCTIONS.slice().sort(), functionNames(amdBlocks.map((b) => b.body)), problems);
  const detector = amdInner('AnsweringMachineDetector', 'class');
  if (detector.length === 0) throw new Error('no class AMD.AnsweringMachineDetector in the declarations');
  compareSets('AMD.AnsweringMachineDetector methods', names.AMD_DETECTOR_METHODS.slice().sort(), methodNames(detector[0].body), problems);
  return problems;
}

function findDts(argv) {
  const candidates = argv.length ? [argv[0]] : DEFAULT_PATHS;
  return candidates.find((p) => fs.existsSync(p)) || null;
}

if (require.main === module) {
  const file = findDts(process.argv.slice(2));
  if (!file) {
    process.stderr.write('check_names: no voxengine.d.ts found (give a path or set VOXENGINE_DTS)\n');
    process.exit(2);
  }
  const problems = check(fs.readFileSync(file, 'utf8'));
  if (problems.length) {
    process.stderr.write(`check_names: names.js differs from ${file}:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`check_names: names.js agrees with ${file}\n`);
}

module.exports = { check, findDts, stripComments, blocks };
