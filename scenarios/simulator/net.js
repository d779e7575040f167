'use strict';
/**
 * Net.httpRequestAsync as VoxEngine documents it: real HTTP(S) with Node's http/https modules, resolving (never
 * rejecting) to {code, text, headers: [{key, value}], raw_headers, error}. `code` is the HTTP status, or one of
 * VoxEngine's internal codes on failure: -1 unknown, -2 malformed URL, -3 host not found, -4 connection error,
 * -6 network error, -7 timeout, -9 response larger than 2 MB (d.ts Net.HttpRequestResult.code;
 * voximplant.com/docs/references/voxengine/net/httprequestresult). Timeouts are in seconds, defaults 90 in all and 6
 * for connecting (d.ts Net.httpRequestAsync: "TCP connect timeout is 6 seconds and total request timeout is 90
 * seconds"), and are real time: they are not scaled by time_scale. The per-session limits (3 in flight, 35 in all)
 * are in limits.js.
 */
const http = require('node:http');
const https = require('node:https');

const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;

function httpRequest(url, options = {}) {
  return new Promise((resolve) => {
    const fail = (code, error) => resolve({ code, error: String(error), headers: [], raw_headers: '', text: '' });
    let target;
    try {
      target = new URL(url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('unsupported scheme');
    } catch (e) {
      fail(-2, `malformed URL: ${e.message}`);
      return;
    }
    if (options.params && typeof options.params === 'object') {
      for (const [key, value] of Object.entries(options.params)) target.searchParams.append(key, String(value));
    }
    const method = String(options.method || 'GET').toUpperCase();
    const headers = { 'User-Agent': 'VoxEngine/1.0', ...(options.headers || {}) };
    let body = null;
    if (options.postData !== undefined && options.postData !== null && ['POST', 'PUT', 'PATCH'].includes(method)) {
      body = Array.isArray(options.postData) ? Buffer.from(options.postData) : Buffer.from(String(options.postData));
      headers['Content-Length'] = String(body.length);
    }
    const totalTimeoutMs = seconds(options.timeout, 90) * 1000;
    const connectTimeoutMs = seconds(options.connectionTimeout, 6) * 1000;
    const lib = target.protocol === 'https:' ? https : http;

    let settled = false;
    const settle = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
      resolve(result);
    };
    const req = lib.request(target, { method, headers });
    const totalTimer = setTimeout(() => {
      req.destroy();
      settle({ code: -7, error: 'timeout', headers: [], raw_headers: '', text: '' });
    }, totalTimeoutMs);
    const connectTimer = setTimeout(() => {
      if (!req.socket || req.socket.connecting) {
        req.destroy();
        settle({ code: -7, error: 'connection timeout', headers: [], raw_headers: '', text: '' });
      }
    }, connectTimeoutMs);
    req.on('socket', (socket) => {
      // A kept-alive socket is connected already (and emits no second 'connect').
      if (socket.connecting) socket.once('connect', () => clearTimeout(connectTimer));
      else clearTimeout(connectTimer);
    });
    req.on('error', (e) => {
      const code = { ENOTFOUND: -3, EAI_AGAIN: -3, ECONNREFUSED: -4, ECONNRESET: -4, EHOSTUNREACH: -6,
        ENETUNREACH: -6, EPIPE: -6, ETIMEDOUT: -7 }[e.code] || -1;
      settle({ code, error: e.message, headers: [], raw_headers: '', text: '' });
    });
    req.on('response', (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy();
          settle({ code: -9, error: 'response larger than 2 MB', headers: [], raw_headers: '', text: '' });
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const pairs = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          pairs.push({ key: res.rawHeaders[i], value: res.rawHeaders[i + 1] });
        }
        const raw = pairs.map((p) => `${p.key}: ${p.value}`).join('\r\n');
        const buffer = Buffer.concat(chunks);
        const result = { code: res.statusCode, headers: pairs, raw_headers: raw, text: buffer.toString('utf8') };
        if (options.rawOutput) result.data = Array.from(buffer);
        settle(result);
      });
      res.on('error', (e) => settle({ code: -6, error: e.message, headers: [], raw_headers: '', text: '' }));
    });
    if (body) req.write(body);
    req.end();
  });
}

function seconds(value, fallback) {
  return typeof value === 'number' && value > 0 ? Math.min(value, fallback) : fallback;
}

module.exports = { httpRequest };
