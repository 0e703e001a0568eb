#!/usr/bin/env node
// The Bot API emulator for the bot's tests: the npm package telegram-test-api
// 4.2.1 as published (its express app serves getMe, sendMessage,
// editMessageText, editMessageReplyMarkup, answerCallbackQuery, deleteMessage,
// deleteWebhook and the client routes), wrapped by a plain http server that
// adds what the package lacks (docs/bot.md, "The emulator and the tests"):
//   - getUpdates with Telegram's semantics: the package returns every unread
//     update at once and ignores "offset" and "timeout". Here an update stays
//     deliverable until a later call confirms it with offset > update_id (so a
//     poller killed before it confirmed gets it again, as on Telegram), the
//     call waits up to "timeout" seconds for one, and a second concurrent
//     getUpdates on a token ends the first with 409 Conflict.
//   - sendPhoto (multipart/form-data) and setMyCommands;
//   - test controls under /_harness/: injected failures (409, 429 with
//     retry_after, 401), an answer held in flight (dropped if its sender dies
//     meanwhile), the request log, the PNGs received.
// usage: node server.js --host 127.0.0.1 --port 0 --portfile FILE
'use strict';
const http = require('http');
const TelegramServer = require('telegram-test-api');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const host = args.host || '127.0.0.1';

const tg = new TelegramServer({ host, port: 1, storeTimeout: 24 * 3600 });
const app = tg.webServer;

const log = [];            // every Bot API request: {t, method, remote, status, chat_id, reply_to, text}
const injected = [];       // {method, status, description, retry_after, count}
const badTokens = new Set();
const photos = new Map();  // message_id -> Buffer
const commands = new Map(); // token -> commands
const polling = new Map();  // token -> the waiting getUpdates {res, timer, finish}
let conflicts = 0;

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.alloc(0)));
  });
}

function parseParams(req, buf, url) {
  const ct = (req.headers['content-type'] || '').split(';')[0].trim();
  let p = {};
  if (ct === 'application/json' && buf.length) p = JSON.parse(buf.toString('utf8'));
  else if (ct === 'application/x-www-form-urlencoded') p = Object.fromEntries(new URLSearchParams(buf.toString('utf8')));
  for (const [k, v] of url.searchParams) if (!(k in p)) p[k] = v;
  return p;
}

// multipart/form-data, enough for sendPhoto: fields and one file.
function parseMultipart(req, buf) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] || '');
  if (!m) throw new Error('no boundary');
  const boundary = Buffer.from('--' + (m[1] || m[2]));
  const out = { fields: {}, files: {} };
  let pos = buf.indexOf(boundary);
  while (pos >= 0) {
    pos += boundary.length;
    if (buf.slice(pos, pos + 2).toString() === '--') break;
    pos += 2; // CRLF
    const hend = buf.indexOf('\r\n\r\n', pos);
    const headers = buf.slice(pos, hend).toString('utf8');
    const next = buf.indexOf(boundary, hend);
    const data = buf.slice(hend + 4, next - 2);
    const name = /name="([^"]*)"/.exec(headers)[1];
    if (/filename="/.test(headers)) out.files[name] = data;
    else out.fields[name] = data.toString('utf8');
    pos = next;
  }
  return out;
}

function pngSize(b) {
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47) return null;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

// The package keeps user updates in tg.storage.userMessages; confirming and
// re-offering them is done on that storage, the formatting by its own
// getUpdates().
function pendingFor(token) {
  return tg.storage.userMessages.filter((u) => u.botToken === token && !u.isRead && !u.confirmed);
}

function getUpdates(req, res, token, p, entry) {
  const offset = p.offset !== undefined ? Number(p.offset) : NaN;
  const timeout = Math.min(Math.max(Number(p.timeout) || 0, 0), 50);
  // confirmed updates stay in the storage (the client side's history reads
  // it) but are never offered again
  for (const u of tg.storage.userMessages) {
    if (u.botToken !== token) continue;
    if (Number.isFinite(offset) && offset > 0 && u.updateId < offset) u.confirmed = true;
    // unconfirmed updates are offered again, as Telegram does
    u.isRead = !!u.confirmed;
  }
  const old = polling.get(token);
  if (old) {
    conflicts++;
    old.finish(409, { ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
  }
  let done = false;
  const events = ['AddedUserMessage', 'AddedUserCommand', 'AddedUserCallbackQuery'];
  const onEvent = () => setImmediate(() => deliver());
  const me = {
    finish(status, body) {
      if (done) return;
      done = true;
      clearTimeout(me.timer);
      for (const e of events) tg.off(e, onEvent);
      if (polling.get(token) === me) polling.delete(token);
      entry.status = status;
      entry.count = body.result ? body.result.length : 0;
      send(res, status, body);
    },
  };
  function deliver() {
    if (done) return;
    if (pendingFor(token).length) me.finish(200, { ok: true, result: tg.getUpdates(token) });
  }
  if (pendingFor(token).length || timeout === 0) {
    me.finish(200, { ok: true, result: tg.getUpdates(token) });
    return;
  }
  polling.set(token, me);
  for (const e of events) tg.on(e, onEvent);
  me.timer = setTimeout(() => me.finish(200, { ok: true, result: [] }), timeout * 1000);
  // the poller went away (a killed bot): it no longer holds the token
  res.on('close', () => { if (!done) { done = true; clearTimeout(me.timer); for (const e of events) tg.off(e, onEvent); if (polling.get(token) === me) polling.delete(token); } });
}

async function botMethod(req, res, url, token, method) {
  const buf = await readBody(req);
  const entry = { t: Date.now() / 1000, method, token, remote: req.socket.remoteAddress, status: 200 };
  log.push(entry);
  if (badTokens.has(token)) {
    entry.status = 401;
    return send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
  }
  const inj = injected.find((f) => f.method === method && f.count > 0);
  if (inj && inj.hold) {
    // an answer in flight: held, and dropped if its sender dies meanwhile
    inj.count--;
    entry.held = inj.hold;
    await new Promise((r) => setTimeout(r, inj.hold * 1000));
    if (req.socket.destroyed || res.destroyed) {
      entry.status = 'dropped';
      return undefined;
    }
  } else if (inj) {
    inj.count--;
    entry.status = inj.status;
    entry.injected = true;
    const body = { ok: false, error_code: inj.status, description: inj.description || `injected ${inj.status}` };
    if (inj.retry_after) body.parameters = { retry_after: inj.retry_after };
    return send(res, inj.status, body);
  }
  if (method === 'sendPhoto') {
    let mp;
    try { mp = parseMultipart(req, buf); } catch (e) { entry.status = 400; return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: ' + e.message }); }
    const png = mp.files.photo;
    if (!png || !mp.fields.chat_id) { entry.status = 400; return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: chat_id and photo are required' }); }
    const size = pngSize(png) || { width: 0, height: 0 };
    const msg = { chat_id: mp.fields.chat_id, caption: mp.fields.caption, parse_mode: mp.fields.parse_mode,
      photo: [{ file_id: `photo${tg.messageId}`, width: size.width, height: size.height, file_size: png.length }] };
    if (mp.fields.reply_markup) msg.reply_markup = mp.fields.reply_markup;
    entry.chat_id = msg.chat_id;
    entry.text = msg.caption;
    const result = tg.addBotMessage(msg, token);
    photos.set(result.message_id, png);
    return send(res, 200, { ok: true, result });
  }
  let p;
  try { p = parseParams(req, buf, url); } catch (e) { entry.status = 400; return send(res, 400, { ok: false, error_code: 400, description: "Bad Request: can't parse JSON" }); }
  entry.chat_id = p.chat_id;
  entry.text = p.text;
  entry.reply_to = p.reply_to_message_id;
  entry.message_id = p.message_id;
  if (method === 'getUpdates') return getUpdates(req, res, token, p, entry);
  if (method === 'setMyCommands') {
    commands.set(token, typeof p.commands === 'string' ? JSON.parse(p.commands) : p.commands);
    return send(res, 200, { ok: true, result: true });
  }
  // the package's own route, with the body already parsed (body-parser
  // skips a request whose _body is set)
  req.body = p;
  req._body = true;
  const origEnd = res.end;
  res.end = function (...a) { entry.status = res.statusCode; return origEnd.apply(this, a); };
  return app(req, res);
}

async function harness(req, res, url) {
  const buf = await readBody(req);
  const p = buf.length ? JSON.parse(buf.toString('utf8')) : {};
  switch (url.pathname) {
    case '/_harness/inject':
      injected.push({ method: p.method, status: p.status, description: p.description, retry_after: p.retry_after, hold: p.hold, count: p.count || 1 });
      return send(res, 200, { ok: true });
    case '/_harness/badtoken':
      if (p.bad) badTokens.add(p.token); else badTokens.delete(p.token);
      return send(res, 200, { ok: true });
    case '/_harness/log':
      return send(res, 200, { ok: true, result: log, conflicts });
    case '/_harness/commands':
      return send(res, 200, { ok: true, result: commands.get(url.searchParams.get('token')) || null });
    case '/_harness/photo': {
      const png = photos.get(Number(url.searchParams.get('message_id')));
      if (!png) return send(res, 404, { ok: false });
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length });
      return res.end(png);
    }
    default:
      return send(res, 404, { ok: false, description: 'unknown harness route' });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
  const fail = (e) => { try { send(res, 500, { ok: false, error_code: 500, description: String(e) }); } catch (_) { /* gone */ } };
  if (m) return botMethod(req, res, url, m[1], m[2]).catch(fail);
  if (url.pathname.startsWith('/_harness/')) return harness(req, res, url).catch(fail);
  return app(req, res); // the package's client routes (sendCommand, sendCallback, ...)
});

server.listen(Number(args.port || 0), host, () => {
  const port = server.address().port;
  // the package's client side builds its URLs from this
  tg.config.apiURL = `http://${host}:${port}`;
  if (args.portfile) require('fs').writeFileSync(args.portfile, String(port));
  process.stdout.write(`telegram-test-api 4.2.1 emulator on ${host}:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
