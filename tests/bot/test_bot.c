/* Unit tests of the bot's pure parts: the update parser, callback_data,
 * text escaping and limits, the screens, node data parsers, the chart (the
 * PNG is decoded back with cairo), and node/botstate's wire formats. */
#include <cairo.h>
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "botwire.h"
#include "cbdata.h"
#include "chart.h"
#include "metrics.h"
#include "screens.h"
#include "test.h"
#include "text.h"
#include "update.h"

static struct bot_update *parse(const char *json, size_t *n, int *r)
{
	cJSON *doc = cJSON_Parse(json);
	struct bot_update *u = NULL;
	char err[160];

	*r = bot_update_parse_list(doc, &u, n, err, sizeof(err));
	cJSON_Delete(doc);
	return u;
}

static void test_update_parses_message_and_callback(void)
{
	size_t n = 0;
	int r;
	struct bot_update *u = parse(
		"[{\"update_id\": 7, \"message\": {\"message_id\": 3, \"from\": {\"id\": 1001, "
		"\"is_bot\": false, \"username\": \"owner\"}, \"chat\": {\"id\": 1001, \"type\": "
		"\"private\"}, \"text\": \"/stats n1\"}},"
		"{\"update_id\": 9, \"callback_query\": {\"id\": \"42\", \"from\": {\"id\": 1001}, "
		"\"message\": {\"message_id\": 5, \"chat\": {\"id\": 1001}}, \"data\": \"3.n.0011223344556677\"}},"
		"{\"update_id\": 10, \"edited_message\": {}}]", &n, &r);

	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(u[0].update_id, 7);
	CHECK_EQ_INT(u[0].kind, BOT_UPDATE_MESSAGE);
	CHECK_EQ_INT(u[0].from.id, 1001);
	CHECK_STR(u[0].from.username, "owner");
	CHECK_EQ_INT(u[0].chat_id, 1001);
	CHECK_EQ_INT(u[0].message_id, 3);
	CHECK_STR(u[0].text, "/stats n1");
	CHECK_EQ_INT(u[1].kind, BOT_UPDATE_CALLBACK);
	CHECK_STR(u[1].callback_id, "42");
	CHECK_STR(u[1].data, "3.n.0011223344556677");
	CHECK_EQ_INT(u[1].message_id, 5);
	CHECK_EQ_INT(u[2].kind, BOT_UPDATE_OTHER);
	bot_update_free_list(u, n);
}

static void test_update_rejects_list_without_ids(void)
{
	static const char *const bad[] = {
		"{}", "[1]", "[{\"message\": {}}]", "[{\"update_id\": -1}]", "[{\"update_id\": 1.5}]",
		"[{\"update_id\": \"1\"}]", "[{\"update_id\": 5}, {\"update_id\": 5}]",
		"[{\"update_id\": 6}, {\"update_id\": 5}]", "[{\"update_id\": 1e300}]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = 99;
		int r;
		struct bot_update *u = parse(bad[i], &n, &r);

		CHECK_EQ_INT(r, -EINVAL);
		CHECK(u == NULL);
		CHECK_EQ_INT(n, 0);
	}
}

static void test_update_marks_malformed_body_invalid(void)
{
	static const char *const bad[] = {
		/* no chat */
		"[{\"update_id\": 1, \"message\": {\"message_id\": 1, \"from\": {\"id\": 1}}}]",
		/* text not a string */
		"[{\"update_id\": 1, \"message\": {\"message_id\": 1, \"from\": {\"id\": 1}, \"chat\": {\"id\": 1}, \"text\": 5}}]",
		/* invalid UTF-8 */
		"[{\"update_id\": 1, \"message\": {\"message_id\": 1, \"from\": {\"id\": 1}, \"chat\": {\"id\": 1}, \"text\": \"\xc3\x28\"}}]",
		/* bad username */
		"[{\"update_id\": 1, \"message\": {\"message_id\": 1, \"from\": {\"id\": 1, \"username\": \"a b\"}, \"chat\": {\"id\": 1}}}]",
		/* callback data over 64 bytes */
		("[{\"update_id\": 1, \"callback_query\": {\"id\": \"1\", \"from\": {\"id\": 1}, \"data\": "
		 "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}]"),
		/* both kinds */
		"[{\"update_id\": 1, \"message\": {}, \"callback_query\": {}}]",
		/* from.id zero */
		"[{\"update_id\": 1, \"callback_query\": {\"id\": \"1\", \"from\": {\"id\": 0}}}]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = 0;
		int r;
		struct bot_update *u = parse(bad[i], &n, &r);

		CHECK_EQ_INT(r, 0);
		CHECK_EQ_INT(n, 1);
		if (n == 1) {
			CHECK_EQ_INT(u[0].kind, BOT_UPDATE_INVALID);
			CHECK(u[0].reason[0] != 0);
			CHECK(u[0].text == NULL);
		}
		bot_update_free_list(u, n);
	}
}

static void test_utf8_validation(void)
{
	CHECK(bot_utf8_valid("h\xc3\xa9llo \xf0\x9f\x9f\xa2", 11));
	CHECK(!bot_utf8_valid("\xc0\xaf", 2));             /* overlong */
	CHECK(!bot_utf8_valid("\xed\xa0\x80", 3));         /* surrogate */
	CHECK(!bot_utf8_valid("\xf4\x90\x80\x80", 4));     /* > U+10FFFF */
	CHECK(!bot_utf8_valid("\xe2\x82", 2));             /* cut */
}

static void test_cbdata_round_trip_and_size(void)
{
	struct bot_cb c = { .gen = 0xffffffffu, .action = BOT_CB_REBOOT_YES }, d;
	char out[BOT_CB_MAX + 1];

	memcpy(c.node, "0123456789abcdef", 17);
	CHECK_EQ_INT(bot_cb_encode(&c, out), 0);
	CHECK(strlen(out) <= BOT_CB_MAX);
	CHECK_EQ_INT(bot_cb_decode(out, &d), 0);
	CHECK_EQ_INT(d.gen, 0xffffffffu);
	CHECK_EQ_INT(d.action, BOT_CB_REBOOT_YES);
	CHECK_STR(d.node, "0123456789abcdef");
	c.action = BOT_CB_LIST;
	c.gen = 0;
	c.page = 12;
	CHECK_EQ_INT(bot_cb_encode(&c, out), 0);
	CHECK_STR(out, "0.l.12");
	CHECK_EQ_INT(bot_cb_decode(out, &d), 0);
	CHECK_EQ_INT(d.page, 12);
	memset(&c, 0, sizeof(c));
	c.action = BOT_CB_CANCEL;
	c.gen = 35;
	CHECK_EQ_INT(bot_cb_encode(&c, out), 0);
	CHECK_STR(out, "z.x");
	/* a node prefix that is not 16 lowercase hex digits is refused */
	memset(&c, 0, sizeof(c));
	c.action = BOT_CB_NODE;
	memcpy(c.node, "0123456789ABCDEF", 17);
	CHECK_EQ_INT(bot_cb_encode(&c, out), -EINVAL);
}

static void test_cbdata_rejects_foreign_data(void)
{
	static const char *const bad[] = {
		"", ".", "1", "1.", "1.q.0", "1.l", "1.l.", "1.l.01", "1.l.12345", "01.l.0",
		"1.n.0123", "1.n.0123456789abcdeg", "1.n.0123456789abcdef0", "zzzzzzzz.l.0",
		"server:alpha", "action:reboot_yes:alpha", "1.s.0123456789abcdef ", "A.l.0",
	};
	struct bot_cb d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bot_cb_decode(bad[i], &d) != -EINVAL) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(0);
		}
}

static void test_text_escapes_html(void)
{
	char out[64];
	struct bot_text t;

	CHECK_STR(bot_text_escape("<b>a&b</b>", out, sizeof(out)), "&lt;b&gt;a&amp;b&lt;/b&gt;");
	/* cut at a character boundary, never inside an entity or a UTF-8 sequence */
	CHECK_STR(bot_text_escape("ab&", out, 5), "ab");
	CHECK_STR(bot_text_escape("a\xf0\x9f\x9f\xa2", out, 4), "a");
	bot_text_init(&t, BOT_TEXT_LIMIT);
	bot_text_raw(&t, "<b>");
	bot_text_escaped(&t, "x<y");
	bot_text_raw(&t, "</b>");
	CHECK_STR(bot_text_finish(&t), "<b>x&lt;y</b>");
	bot_text_deinit(&t);
}

static void test_text_stays_within_limit(void)
{
	struct bot_text t;
	const char *s;

	bot_text_init(&t, BOT_TEXT_LIMIT);
	for (int i = 0; i < 2000; i++) {
		bot_text_raw(&t, "<b>");
		bot_text_escaped(&t, "🟢 node-with-a-long-name & more");
		bot_text_raw(&t, "</b>");
		bot_text_endl(&t);
	}
	s = bot_text_finish(&t);
	CHECK(t.truncated);
	CHECK(bot_text_utf16_units(s, strlen(s)) <= BOT_TEXT_LIMIT);
	/* the last line is the ellipsis, every line before it is whole */
	CHECK(!strcmp(s + strlen(s) - strlen("\n…"), "\n…"));
	CHECK(strstr(s, "</b>\n…") != NULL);
	bot_text_deinit(&t);
	CHECK_EQ_INT(bot_text_utf16_units("a\xc3\xa9\xf0\x9f\x9f\xa2", 7), 4);
}

static void view(struct bot_node_view *v, int i, const char *name, int online)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "%032x", i + 1);
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->addr, sizeof(v->addr), "10.0.0.%d:4747", i + 1);
	v->online = online;
	v->last_seen = 1000;
}

/* Every callback_data of a keyboard is 1-64 bytes and decodes. */
static int keyboard_ok(const cJSON *markup, int *buttons)
{
	const cJSON *row, *b;
	struct bot_cb cb;

	*buttons = 0;
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(markup, "inline_keyboard"))
		cJSON_ArrayForEach(b, row) {
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(b, "callback_data");

			if (!cJSON_IsString(d) || !*d->valuestring || strlen(d->valuestring) > 64 ||
			    bot_cb_decode(d->valuestring, &cb))
				return 0;
			(*buttons)++;
		}
	return 1;
}

static void test_screen_list_pages_and_marks(void)
{
	struct bot_node_view v[20];
	struct bot_screen s;
	char name[64];
	int buttons;

	for (int i = 0; i < 20; i++) {
		/* names as long as a name may be, with HTML in them */
		snprintf(name, sizeof(name), "n%02d-<tag>-%s", i,
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		view(&v[i], i, name, i % 3 != 0);
	}
	v[1].leader = 1;
	CHECK_EQ_INT(bot_screen_list(v, 20, 0, 7, 2000, NULL, &s), 0);
	CHECK(strstr(s.text, "20 nodes, 13 online") != NULL);
	CHECK(strstr(s.text, "Leader: <b>n01-&lt;tag&gt;-") != NULL);
	CHECK(strstr(s.text, "<tag>") == NULL);
	CHECK(strstr(s.text, "Page 1 of 3") != NULL);
	CHECK(keyboard_ok(s.markup, &buttons));
	CHECK_EQ_INT(buttons, BOT_LIST_PAGE + 2); /* nodes, Next, Refresh */
	{
		char *j = cJSON_PrintUnformatted(s.markup);

		CHECK(strstr(j, "🔴 n00-") != NULL);
		CHECK(strstr(j, "🟢 n01-") != NULL && strstr(j, "👑") != NULL);
		free(j);
	}
	bot_screen_free(&s);
	/* the last page has Prev only; past the end shows the last page */
	CHECK_EQ_INT(bot_screen_list(v, 20, 9, 7, 2000, NULL, &s), 0);
	CHECK(strstr(s.text, "Page 3 of 3") != NULL);
	CHECK(keyboard_ok(s.markup, &buttons));
	CHECK_EQ_INT(buttons, 4 + 2);
	bot_screen_free(&s);
}

static void test_screen_card_online_and_offline(void)
{
	struct bot_node_view v;
	struct bot_screen s;
	int buttons;

	view(&v, 0, "alpha", 1);
	v.leader = v.runs_bot = 1;
	CHECK_EQ_INT(bot_screen_card(&v, 3, 2000, "📊 <b>Stats</b>\nCPU: 5%", &s), 0);
	CHECK(strstr(s.text, "🟢 online · 👑 leader · 🤖 runs this bot") != NULL);
	CHECK(strstr(s.text, "CPU: 5%") != NULL);
	CHECK(keyboard_ok(s.markup, &buttons));
	CHECK_EQ_INT(buttons, 5); /* Stats, Network, Metrics, Reboot, Back */
	bot_screen_free(&s);
	view(&v, 0, "beta", 0);
	v.last_seen = 1000;
	CHECK_EQ_INT(bot_screen_card(&v, 3, 1000 + 720, NULL, &s), 0);
	CHECK(strstr(s.text, "🔴 offline since 1970-01-01 00:16 UTC (12 min ago)") != NULL);
	CHECK(keyboard_ok(s.markup, &buttons));
	CHECK_EQ_INT(buttons, 1); /* Back only */
	bot_screen_free(&s);
	CHECK_EQ_INT(bot_screen_reboot_ask(&v, 4, &s), 0);
	CHECK(strstr(s.text, "Reboot <b>beta</b>?") != NULL);
	CHECK(keyboard_ok(s.markup, &buttons));
	CHECK_EQ_INT(buttons, 2);
	bot_screen_free(&s);
}

static void test_stats_and_series_parsers(void)
{
	cJSON *o = cJSON_Parse("{\"cpu_pct\": [10, 30], \"mem_total_kb\": 1000, \"mem_available_kb\": 250, "
			       "\"disk_total_b\": 100, \"disk_free_b\": 25, \"uptime_s\": 90061}");
	struct bot_stats st;
	struct bot_series s[BOT_SERIES_MAX];
	size_t n = 0;
	double avg, max;
	char spark[64], line[200];

	CHECK_EQ_INT(bot_stats_parse(o, &st), 0);
	CHECK(bot_stats_cpu_avg(&st) == 20);
	CHECK(bot_stats_mem_pct(&st) == 75);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"cpu_pct\": [101]}");
	CHECK_EQ_INT(bot_stats_parse(o, &st), -EINVAL);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"series\": [{\"name\": \"down\", \"points\": [[100, 1], [200, 3]]},"
			" {\"name\": \"up\", \"points\": [{\"t\": 100, \"v\": 2}]}]}");
	CHECK_EQ_INT(bot_ts_parse(o, "net", s, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(s[0].name, "down");
	CHECK_EQ_INT(bot_series_summary(&s[0], 0, &avg, &max), 0);
	CHECK(avg == 2 && max == 3);
	CHECK_EQ_INT(bot_series_summary(&s[0], 150, &avg, &max), 0);
	CHECK(avg == 3);
	bot_series_spark(&s[0], 12, 3, spark, sizeof(spark));
	CHECK_STR(spark, "▃█");
	bot_series_free(s, n);
	cJSON_Delete(o);
	n = 0;
	o = cJSON_Parse("{\"series\": [{\"name\": \"x\", \"points\": [[1, \"a\"]]}]}");
	CHECK_EQ_INT(bot_ts_parse(o, "cpu", s, &n), -EINVAL);
	CHECK_EQ_INT(n, 0);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"series\": []}");
	CHECK_EQ_INT(bot_ts_parse(o, "cpu", s, &n), 0);
	CHECK_EQ_INT(n, 0);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"down_mbps\": 94.2, \"up_mbps\": 23.5, \"ping_ms\": 12}");
	CHECK_EQ_INT(bot_speedtest_format(o, line, sizeof(line)), 0);
	CHECK(strstr(line, "94.2") && strstr(line, "23.5") && strstr(line, "12 ms"));
	cJSON_Delete(o);
}

/* The telemetry's shapes (docs/cli.md, "RPC methods: telemetry"). */
static void test_telemetry_v2_shapes(void)
{
	cJSON *o = cJSON_Parse("{\"v\": 2, \"cpu\": {\"total_pct\": 12.5}, \"load\": [0.12, 0.3, 0.25],"
			       " \"net\": [{\"iface\": \"eth0\", \"rx_bytes_per_s\": 1250000, \"tx_bytes_per_s\": null},"
			       " {\"iface\": \"eth1\", \"rx_bytes_per_s\": 1250000, \"tx_bytes_per_s\": 250000}],"
			       " \"cpu_pct\": [10, 15], \"mem_total_kb\": 100, \"mem_available_kb\": 60,"
			       " \"uptime_s\": 10}");
	struct bot_stats st;
	struct bot_series s[BOT_SERIES_MAX];
	struct bot_text t;
	size_t n = 0;
	double avg, max;
	char line[200];

	CHECK_EQ_INT(bot_stats_parse(o, &st), 0);
	CHECK(st.load[1] == 0.3);
	CHECK(st.net_rx_bps == 2500000 && st.net_tx_bps == 250000);
	bot_text_init(&t, BOT_TEXT_LIMIT);
	bot_stats_format(&t, &st);
	CHECK(strstr(bot_text_finish(&t), "Network: ⬇️ 20.00 Mbit/s · ⬆️ 2.00 Mbit/s") != NULL);
	CHECK(strstr(bot_text_finish(&t), "Load: 0.12 0.30 0.25") != NULL);
	bot_text_deinit(&t);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"kind\": \"net_rx\", \"unit\": \"bytes_per_s\", \"hours\": 6,"
			" \"points\": [[1000, 125000], [1010, 250000]], \"summary\": {\"count\": 9,"
			" \"avg\": 125000, \"max\": 1250000, \"min\": 0, \"last\": 250000, \"last_ts\": 1010}}");
	CHECK_EQ_INT(bot_ts_parse(o, "down", s, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_STR(s[0].name, "down");
	CHECK(s[0].has_summary);
	bot_series_scale(&s[0], 8 / 1e6);
	CHECK(s[0].v[1] == 2.0 && s[0].s_max == 10.0 && s[0].s_avg == 1.0);
	CHECK_EQ_INT(bot_series_summary(&s[0], 0, &avg, &max), 0);
	bot_series_free(s, n);
	cJSON_Delete(o);
	/* an empty series: count 0 and null figures */
	n = 0;
	o = cJSON_Parse("{\"kind\": \"cpu\", \"points\": [], \"summary\": {\"count\": 0, \"avg\": null,"
			" \"max\": null}}");
	CHECK_EQ_INT(bot_ts_parse(o, "cpu", s, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK(!s[0].has_summary && s[0].n == 0);
	bot_series_free(s, n);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"kind\": \"peer\", \"peer\": \"beta\", \"down_bytes_per_s\": 117500000.0,"
			" \"up_bytes_per_s\": 118100000.0, \"rtt_ms\": 0.42}");
	CHECK_EQ_INT(bot_speedtest_format(o, line, sizeof(line)), 0);
	CHECK_STR(line, "⬇️ <b>940.0</b> Mbit/s · ⬆️ <b>944.8</b> Mbit/s · rtt 0.42 ms");
	cJSON_Delete(o);
	o = cJSON_Parse("{\"kind\": \"internet\", \"down_bytes_per_s\": 1250000, \"up_bytes_per_s\": null,"
			" \"up_error\": \"HTTP 405\"}");
	CHECK_EQ_INT(bot_speedtest_format(o, line, sizeof(line)), 0);
	CHECK_STR(line, "⬇️ <b>10.0</b> Mbit/s · ⬆️ failed");
	cJSON_Delete(o);
}

struct png_src {
	const uint8_t *p;
	size_t len, off;
};

static cairo_status_t png_read(void *closure, unsigned char *data, unsigned int length)
{
	struct png_src *s = closure;

	if (s->off + length > s->len)
		return CAIRO_STATUS_READ_ERROR;
	memcpy(data, s->p + s->off, length);
	s->off += length;
	return CAIRO_STATUS_SUCCESS;
}

static void test_chart_png_decodes_with_expected_size(void)
{
	double t[3] = { 1000, 5000, 9000 }, v[3] = { 10, 80, 40 };
	struct bot_series cpu = { .name = "cpu", .t = t, .v = v, .n = 3 };
	struct bot_chart_input in = { .title = "alpha", .now = 10000, .window_s = 6 * 3600.0, .cpu = &cpu };
	struct png_src src = { 0 };
	cairo_surface_t *sf;
	uint8_t *png = NULL;
	size_t len = 0;

	CHECK_EQ_INT(bot_chart_png(&in, &png, &len), 0);
	CHECK(len > 1000);
	CHECK(png && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
	src.p = png;
	src.len = len;
	sf = cairo_image_surface_create_from_png_stream(png_read, &src);
	CHECK_EQ_INT(cairo_surface_status(sf), CAIRO_STATUS_SUCCESS);
	CHECK_EQ_INT(cairo_image_surface_get_width(sf), BOT_CHART_WIDTH);
	CHECK_EQ_INT(cairo_image_surface_get_height(sf), BOT_CHART_HEIGHT);
	cairo_surface_destroy(sf);
	free(png);
	/* no data at all still draws (the panels say "no samples yet") */
	memset(&in, 0, sizeof(in));
	in.now = 10000;
	in.window_s = 3600;
	CHECK_EQ_INT(bot_chart_png(&in, &png, &len), 0);
	free(png);
}

static void settings(struct node_bot_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->token_ver = 3;
	memset(s->token_origin, 'a', NODE_ID_HEX);
	snprintf(s->token, sizeof(s->token), "123456:ABC-def_ghi");
	s->owner_ver = 1;
	memset(s->owner_origin, 'b', NODE_ID_HEX);
	snprintf(s->owner_username, sizeof(s->owner_username), "@owner");
	s->owner_id = 1001;
}

static void test_botwire_seal_open_and_tamper(void)
{
	static const char net[] = "0123456789abcdef0123456789abcdef";
	struct node_bot_settings s, o;
	uint8_t key[NODE_BOT_SETTINGS_KEY], other[NODE_BOT_SETTINGS_KEY];
	unsigned have;
	cJSON *doc;
	char *txt;

	settings(&s);
	node_botwire_key("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", key);
	node_botwire_key("10112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", other);
	doc = node_botwire_seal(&s, key, net);
	txt = cJSON_PrintUnformatted(doc);
	/* never in clear on the wire */
	CHECK(strstr(txt, "123456:ABC") == NULL);
	CHECK(strstr(txt, "owner") == NULL || strstr(txt, "\"owner\":{") != NULL);
	free(txt);
	CHECK_EQ_INT(node_botwire_open(doc, key, net, &o, &have), 0);
	CHECK_EQ_INT(have, NODE_BOT_HAVE_TOKEN | NODE_BOT_HAVE_OWNER);
	CHECK_STR(o.token, "123456:ABC-def_ghi");
	CHECK_EQ_INT(o.token_ver, 3);
	CHECK_EQ_INT(o.owner_id, 1001);
	CHECK_STR(o.owner_username, "@owner");
	/* another network's key, another network id, a changed version: refused */
	CHECK_EQ_INT(node_botwire_open(doc, other, net, &o, &have), -EINVAL);
	CHECK_EQ_INT(node_botwire_open(doc, key, "ffffffffffffffffffffffffffffffff", &o, &have), -EINVAL);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "token"), "ver", cJSON_CreateNumber(4));
	CHECK_EQ_INT(node_botwire_open(doc, key, net, &o, &have), -EINVAL);
	CHECK_EQ_INT(have, 0);
	cJSON_Delete(doc);
}

static void test_botwire_versions_and_cursor(void)
{
	struct node_bot_settings s, d;
	struct node_bot_cursor a = { 2, 100, 90, 5 }, b = { 2, 120, 80, 4 }, c = { 3, 7, 7, 6 };
	cJSON *j;
	char *txt, err[160];

	CHECK(node_botwire_newer(2, "bbbb", 1, "aaaa"));
	CHECK(!node_botwire_newer(1, "aaaa", 2, "bbbb"));
	CHECK(node_botwire_newer(2, "aaaa", 2, "bbbb")); /* same version: smaller origin wins */
	CHECK(!node_botwire_newer(2, "bbbb", 2, "aaaa"));
	CHECK(!node_botwire_newer(0, "", 0, ""));
	CHECK_EQ_INT(node_botwire_cursor_merge(&a, &b), 1);
	CHECK_EQ_INT(a.update_id, 120);
	CHECK_EQ_INT(a.answered, 90);
	CHECK_EQ_INT(a.epoch, 5);
	CHECK_EQ_INT(node_botwire_cursor_merge(&a, &b), 0);
	CHECK_EQ_INT(node_botwire_cursor_merge(&a, &c), 1); /* a new bot: its own ids */
	CHECK_EQ_INT(a.update_id, 7);
	settings(&s);
	s.cursor = a;
	j = node_botwire_digest(&s);
	CHECK_EQ_INT(node_botwire_parse_digest(j, &d), 0);
	CHECK_EQ_INT(d.token_ver, 3);
	CHECK_EQ_INT(d.token[0], 0);
	cJSON_Delete(j);
	txt = node_botwire_file_json(&s);
	CHECK(strstr(txt, "123456") == NULL); /* the token lives in bot_token only */
	CHECK_EQ_INT(node_botwire_file_parse(txt, strlen(txt), &d, err, sizeof(err)), 0);
	CHECK_EQ_INT(d.cursor.update_id, 7);
	CHECK_EQ_INT(d.owner_id, 1001);
	free(txt);
	CHECK(node_botwire_username_eq("@Owner", "owner"));
	CHECK(!node_botwire_username_eq("@owner", "owner2"));
	CHECK(!node_botwire_token_ok("123 456"));
	CHECK(!node_botwire_token_ok("123/456"));
}

/* CONSTELLA_CHART_SAMPLE=FILE: writes the chart of a sample day (the
 * picture in docs/) with the bot's own renderer. */
static void write_sample_chart(const char *path)
{
	enum { N = 72 };
	double t[N], cpu[N], mem[N], down[N], up[N];
	struct bot_series s[4] = {
		{ .name = "cpu", .t = t, .v = cpu, .n = N }, { .name = "mem", .t = t, .v = mem, .n = N },
		{ .name = "down", .t = t, .v = down, .n = N }, { .name = "up", .t = t, .v = up, .n = N },
	};
	struct bot_chart_input in = { .title = "netherlands-01", .now = 1800000000, .window_s = 6 * 3600.0,
				      .cpu = &s[0], .mem = &s[1], .net = { &s[2], &s[3] } };
	uint8_t *png = NULL;
	size_t len = 0;
	FILE *f;

	for (int i = 0; i < N; i++) {
		double x = (double)i / N;

		t[i] = in.now - in.window_s + 300.0 * (i + 1);
		cpu[i] = 12 + 8 * sin(x * 9) + (i > 40 && i < 46 ? 55 : 0);
		mem[i] = 41 + 6 * x + 2 * sin(x * 20);
		down[i] = 80 + 15 * sin(x * 5) + (i % 12 == 0 ? 60 : 0);
		up[i] = 20 + 6 * cos(x * 7);
	}
	if (bot_chart_png(&in, &png, &len) == 0 && (f = fopen(path, "wb"))) {
		fwrite(png, 1, len, f);
		fclose(f);
	}
	free(png);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	if (getenv("CONSTELLA_CHART_SAMPLE")) {
		write_sample_chart(getenv("CONSTELLA_CHART_SAMPLE"));
		bot_chart_cleanup();
		return 0;
	}
	RUN_TEST(test_update_parses_message_and_callback);
	RUN_TEST(test_update_rejects_list_without_ids);
	RUN_TEST(test_update_marks_malformed_body_invalid);
	RUN_TEST(test_utf8_validation);
	RUN_TEST(test_cbdata_round_trip_and_size);
	RUN_TEST(test_cbdata_rejects_foreign_data);
	RUN_TEST(test_text_escapes_html);
	RUN_TEST(test_text_stays_within_limit);
	RUN_TEST(test_screen_list_pages_and_marks);
	RUN_TEST(test_screen_card_online_and_offline);
	RUN_TEST(test_stats_and_series_parsers);
	RUN_TEST(test_telemetry_v2_shapes);
	RUN_TEST(test_chart_png_decodes_with_expected_size);
	RUN_TEST(test_botwire_seal_open_and_tamper);
	RUN_TEST(test_botwire_versions_and_cursor);
	bot_chart_cleanup();
	return TEST_DONE();
}
