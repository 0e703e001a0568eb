/* callback_data of the inline buttons. Telegram allows 1-64 bytes, and the
 * original put node names in it ("action:reboot_yes:<name>"), which broke on
 * long names. Here a button carries only
 *     <screen generation, base 36> "." <action letter> [ "." <argument> ]
 * where the argument is a page number or the first 16 hex digits of a node
 * id: at most 26 bytes whatever the names. The generation numbers the
 * screens of one chat; a button from an older screen is recognised as stale
 * and answered politely instead of acting on what the owner no longer sees.
 * Parsed strictly (outside input), fuzzed with the update parser. */
#ifndef BOT_CBDATA_H
#define BOT_CBDATA_H

#include <stdint.h>

#define BOT_CB_NODE_HEX 16
#define BOT_CB_MAX 64

enum bot_cb_action {
	BOT_CB_LIST = 0,   /* node list, arg: page */
	BOT_CB_NODE,       /* node card, arg: node */
	BOT_CB_STATS,      /* 📊 */
	BOT_CB_NET,        /* 🌐 speed test */
	BOT_CB_METRICS,    /* 📈 chart */
	BOT_CB_REBOOT,     /* 🔄 asks for confirmation */
	BOT_CB_REBOOT_YES,
	BOT_CB_REMOVE_YES, /* /remove's confirmation */
	BOT_CB_CANCEL,     /* a confirmation's cancel: back to where it came from */
};

struct bot_cb {
	uint32_t gen;
	enum bot_cb_action action;
	unsigned page;                   /* BOT_CB_LIST */
	char node[BOT_CB_NODE_HEX + 1];  /* the others: node id prefix ("" for CANCEL of /remove) */
};

/* out holds BOT_CB_MAX + 1 bytes. 0 or -EINVAL (bad node prefix). */
int bot_cb_encode(const struct bot_cb *c, char *out);
/* 0 or -EINVAL: anything but what bot_cb_encode makes is refused. */
int bot_cb_decode(const char *s, struct bot_cb *c);

#endif
