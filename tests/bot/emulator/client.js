#!/usr/bin/env node
// The user's side of the emulator for the test scripts, through the
// package's own client (TelegramClient: makeCommand/sendCommand,
// makeCallbackQuery/sendCallback, getUpdatesHistory). Prints JSON.
//
// env: TG_URL (http://host:port), TG_TOKEN, TG_USER_ID, TG_USERNAME, TG_CHAT_ID
//   say TEXT                 a message or /command; prints {message_id, update_id}
//   press MESSAGE_ID DATA    presses a button; prints {update_id}
//   bot                      every bot message of the chat, as they are now
//   screen                   the bot's last message with buttons
//   wait-reply ID SECS       the bot message that replies to ID
//   wait-text REGEX SECS     the first bot message (edits count) whose text or caption matches
//   button REGEX             {message_id, data} of the screen's button whose label matches
'use strict';
const { TelegramClient } = require('telegram-test-api/lib/modules/telegramClient');

const env = process.env;
const client = new TelegramClient(env.TG_URL, env.TG_TOKEN, {
  userId: Number(env.TG_USER_ID || 1),
  userName: env.TG_USERNAME || 'testUserName',
  firstName: env.TG_USERNAME || 'Test',
  chatId: Number(env.TG_CHAT_ID || env.TG_USER_ID || 1),
});
const chatId = String(client.chatId);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function history() {
  return (await client.getUpdatesHistory()) || [];
}

async function botMessages() {
  return (await history())
    .filter((h) => h.message && h.message.chat_id !== undefined && String(h.message.chat_id) === chatId)
    .map((h) => ({ message_id: h.messageId, time: h.time, ...h.message }));
}

function keyboard(m) {
  let rm = m.reply_markup;
  if (typeof rm === 'string') rm = JSON.parse(rm);
  return (rm && rm.inline_keyboard) || [];
}

async function screen() {
  const msgs = (await botMessages()).filter((m) => keyboard(m).length);
  return msgs.length ? msgs[msgs.length - 1] : null;
}

async function waitFor(pred, secs) {
  const end = Date.now() + secs * 1000;
  for (;;) {
    const hit = (await botMessages()).find(pred);
    if (hit) return hit;
    if (Date.now() > end) return null;
    await sleep(100);
  }
}

async function main() {
  const [cmd, a, b] = process.argv.slice(2);
  let out;
  switch (cmd) {
    case 'say': {
      const msg = a.startsWith('/') ? client.makeCommand(a) : client.makeMessage(a);
      if (a.startsWith('/')) await client.sendCommand(msg); else await client.sendMessage(msg);
      const mine = (await history()).filter((h) => h.message && h.message.from
        && h.message.from.id === client.userId && h.message.text === a && !h.callbackQuery);
      const last = mine[mine.length - 1];
      out = { message_id: last.messageId, update_id: last.updateId };
      break;
    }
    case 'press': {
      const q = client.makeCallbackQuery(b, { message: { message_id: Number(a) } });
      await client.sendCallback(q);
      const cbs = (await history()).filter((h) => h.callbackQuery && h.callbackQuery.data === b);
      out = { update_id: cbs.length ? cbs[cbs.length - 1].updateId : null };
      break;
    }
    case 'bot':
      out = await botMessages();
      break;
    case 'screen':
      out = await screen();
      break;
    case 'wait-reply':
      out = await waitFor((m) => String(m.reply_to_message_id) === String(a), Number(b || 10));
      break;
    case 'wait-text': {
      const re = new RegExp(a);
      out = await waitFor((m) => re.test(m.text || m.caption || ''), Number(b || 10));
      break;
    }
    case 'button': {
      const s = await screen();
      const re = new RegExp(a);
      for (const row of s ? keyboard(s) : []) for (const btn of row) {
        if (!out && re.test(btn.text)) out = { message_id: s.message_id, data: btn.callback_data, text: btn.text };
      }
      out = out || null;
      break;
    }
    default:
      throw new Error(`unknown command ${cmd}`);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  if (out === null) process.exitCode = 3;
}

main().catch((e) => { process.stderr.write(`client: ${e.stack || e}\n`); process.exit(2); });
