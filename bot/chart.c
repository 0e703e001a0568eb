/* The metrics chart (chart.h): three panels sharing a time axis. */
#include "chart.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CH_MARGIN_L 70.0
#define CH_MARGIN_R 20.0
#define CH_TOP 50.0
#define CH_GAP 34.0
#define CH_BOTTOM 40.0

struct ch_buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static cairo_status_t ch_write(void *closure, const unsigned char *data, unsigned int length)
{
	struct ch_buf *b = closure;

	if (b->len + length > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *n;

		while (cap < b->len + length)
			cap *= 2;
		if (!(n = realloc(b->p, cap))) {
			b->oom = 1;
			return CAIRO_STATUS_WRITE_ERROR;
		}
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, length);
	b->len += length;
	return CAIRO_STATUS_SUCCESS;
}

static void ch_text(cairo_t *cr, double x, double y, double size, const char *s)
{
	cairo_set_font_size(cr, size);
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

static const double ch_colors[][3] = {
	{ 0.20, 0.47, 0.85 }, /* blue */
	{ 0.90, 0.45, 0.10 }, /* orange */
};

/* The smallest of 1, 2, 4, 5, 8 x 10^k at or above v: quarters of it are
 * round numbers on the axis. */
static double ch_nice(double v)
{
	static const double steps[] = { 1, 2, 4, 5, 8, 10 };
	double p = pow(10, floor(log10(v > 0 ? v : 1)));

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] * p >= v)
			return steps[i] * p;
	return 10 * p;
}

/* One panel: frame, y grid with labels, the series, a "no samples" note. */
static void ch_panel(cairo_t *cr, const struct bot_chart_input *in, double y0, double h,
		     const char *label, const char *unit, const struct bot_series *const *s,
		     size_t ns, double fixed_top)
{
	double x0 = CH_MARGIN_L, w = BOT_CHART_WIDTH - CH_MARGIN_L - CH_MARGIN_R;
	double top = fixed_top, from = in->now - in->window_s;
	size_t points = 0;
	char buf[64];

	if (top <= 0) {
		top = 1;
		for (size_t k = 0; k < ns; k++)
			for (size_t i = 0; s[k] && i < s[k]->n; i++)
				if (s[k]->t[i] >= from && s[k]->v[i] > top)
					top = s[k]->v[i];
		top = ch_nice(top * 1.05);
	}
	cairo_set_source_rgb(cr, 0.97, 0.97, 0.98);
	cairo_rectangle(cr, x0, y0, w, h);
	cairo_fill(cr);
	cairo_set_line_width(cr, 1);
	for (int g = 0; g <= 4; g++) {
		double y = y0 + h - h * g / 4.0;

		cairo_set_source_rgb(cr, 0.85, 0.85, 0.88);
		cairo_move_to(cr, x0, y + 0.5);
		cairo_line_to(cr, x0 + w, y + 0.5);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.35, 0.35, 0.4);
		snprintf(buf, sizeof(buf), "%.3g", top * g / 4.0);
		ch_text(cr, 8, y + 4, 12, buf);
	}
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.15);
	snprintf(buf, sizeof(buf), "%s (%s)", label, unit);
	ch_text(cr, x0, y0 - 8, 15, buf);
	for (size_t k = 0; k < ns; k++) {
		int started = 0;

		if (!s[k])
			continue;
		cairo_set_source_rgb(cr, ch_colors[k % 2][0], ch_colors[k % 2][1], ch_colors[k % 2][2]);
		cairo_set_line_width(cr, 2);
		for (size_t i = 0; i < s[k]->n; i++) {
			double x, y, v = s[k]->v[i];

			if (s[k]->t[i] < from || s[k]->t[i] > in->now + 60)
				continue;
			x = x0 + w * (s[k]->t[i] - from) / in->window_s;
			y = y0 + h - h * fmin(fmax(v, 0), top) / top;
			if (started)
				cairo_line_to(cr, x, y);
			else
				cairo_move_to(cr, x, y);
			started = 1;
			points++;
		}
		if (points == 1) {
			double x, y;

			cairo_get_current_point(cr, &x, &y);
			cairo_arc(cr, x, y, 3, 0, 2 * M_PI);
			cairo_fill(cr);
		} else {
			cairo_stroke(cr);
		}
		if (ns > 1) {
			cairo_rectangle(cr, x0 + w - 130 + 65.0 * (double)k, y0 - 20, 10, 10);
			cairo_fill(cr);
			cairo_set_source_rgb(cr, 0.1, 0.1, 0.15);
			ch_text(cr, x0 + w - 116 + 65.0 * (double)k, y0 - 11, 12, s[k]->name);
		}
	}
	if (!points) {
		cairo_set_source_rgb(cr, 0.5, 0.5, 0.55);
		ch_text(cr, x0 + w / 2 - 60, y0 + h / 2 + 5, 14, "no samples yet");
	}
}

int bot_chart_png(const struct bot_chart_input *in, uint8_t **png, size_t *len)
{
	cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, BOT_CHART_WIDTH, BOT_CHART_HEIGHT);
	cairo_t *cr = cairo_create(sf);
	struct ch_buf b = { 0 };
	double ph = (BOT_CHART_HEIGHT - CH_TOP - CH_BOTTOM - 2 * CH_GAP) / 3.0;
	double w = BOT_CHART_WIDTH - CH_MARGIN_L - CH_MARGIN_R;
	const struct bot_series *one[1];
	char buf[128];
	int r = 0;

	*png = NULL;
	*len = 0;
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.15);
	snprintf(buf, sizeof(buf), "%.60s: last %.0f h", in->title ? in->title : "?",
		 in->window_s / 3600);
	ch_text(cr, CH_MARGIN_L, 26, 18, buf);
	one[0] = in->cpu;
	ch_panel(cr, in, CH_TOP + 14, ph - 14, "CPU", "%", one, 1, 100);
	one[0] = in->mem;
	ch_panel(cr, in, CH_TOP + ph + CH_GAP, ph - 14, "Memory", "% used", one, 1, 100);
	ch_panel(cr, in, CH_TOP + 2 * (ph + CH_GAP) - 14, ph, "Network", "Mbit/s", in->net, 2, 0);
	/* time axis */
	cairo_set_source_rgb(cr, 0.35, 0.35, 0.4);
	for (int k = 0; k <= 4; k++) {
		double hours = in->window_s / 3600 * (4 - k) / 4.0;

		if (k == 4)
			snprintf(buf, sizeof(buf), "now");
		else
			snprintf(buf, sizeof(buf), "-%.3gh", hours);
		ch_text(cr, CH_MARGIN_L + w * k / 4.0 - (k == 4 ? 24 : 12), BOT_CHART_HEIGHT - 14, 12, buf);
	}
	cairo_destroy(cr);
	cairo_surface_flush(sf);
	if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS ||
	    cairo_surface_write_to_png_stream(sf, ch_write, &b) != CAIRO_STATUS_SUCCESS) {
		r = b.oom ? -ENOMEM : -EIO;
		free(b.p);
	} else {
		*png = b.p;
		*len = b.len;
	}
	cairo_surface_destroy(sf);
	return r;
}

void bot_chart_cleanup(void)
{
	/* cairo's font caches hold fontconfig objects: release both, so that a
	 * leak checker sees only our own memory at exit */
	cairo_debug_reset_static_data();
	FcFini();
}
