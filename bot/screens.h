/* The bot's screens as pure functions: a view of the nodes in, HTML text and
 * an inline keyboard out. As the original: a node list (🟢/🔴 per node, the
 * leader marked, pages), a node card with 📊 Stats, 🌐 Network, 📈 Metrics,
 * 🔄 Reboot and ← Back (an offline node says so and since when), and the
 * confirmations. Buttons carry callback_data from cbdata.h, so their size
 * does not depend on the names; texts go through text.h, so they stay
 * escaped and within 4096 characters however many nodes there are. */
#ifndef BOT_SCREENS_H
#define BOT_SCREENS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define BOT_LIST_PAGE 8

struct bot_node_view {
	char id[NODE_ID_HEX + 1];
	char name[64];
	char addr[280];
	int online;
	int rebooting;     /* announced a reboot, not back yet */
	int leader;
	int runs_bot;      /* this node answers the bot right now */
	int64_t last_seen; /* unix s, 0: never */
};

struct bot_screen {
	char *text;    /* HTML, malloc'd */
	cJSON *markup; /* {"inline_keyboard": [...]}, owned */
};

void bot_screen_free(struct bot_screen *s);

/* note (HTML, may be NULL) goes above the list. Pages past the end show
 * the last one. */
int bot_screen_list(const struct bot_node_view *v, size_t n, unsigned page, uint32_t gen,
		    int64_t now, const char *note, struct bot_screen *out);
/* body (HTML, may be NULL): what an action left on the card (stats, speed
 * test, "running…"). */
int bot_screen_card(const struct bot_node_view *node, uint32_t gen, int64_t now,
		    const char *body, struct bot_screen *out);
int bot_screen_reboot_ask(const struct bot_node_view *node, uint32_t gen, struct bot_screen *out);
int bot_screen_remove_ask(const struct bot_node_view *node, uint32_t gen, struct bot_screen *out);

/* "12 s", "5 min", "3 h", "2 d". */
void bot_screen_ago(int64_t secs, char *out, size_t cap);
/* A keyboard that removes the buttons of an old screen. */
cJSON *bot_screen_no_keyboard(void);

#endif
