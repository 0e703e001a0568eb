/* 📈 Metrics as a picture: CPU, memory and network of one node over the
 * metrics window, drawn with cairo into a PNG in memory (never a file). */
#ifndef BOT_CHART_H_INCLUDED
#define BOT_CHART_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define BOT_CHART_WIDTH 900
#define BOT_CHART_HEIGHT 600

struct bot_chart_input {
	const char *title;        /* node name */
	double now, window_s;     /* x axis: [now - window_s, now] (unix s) */
	const struct bot_series *cpu;   /* %; may be NULL */
	const struct bot_series *mem;   /* %; may be NULL */
	const struct bot_series *net[2]; /* Mbit/s, e.g. down and up; may be NULL */
};

/* *png is malloc'd (caller frees). 0, -ENOMEM, -EIO (cairo failed). */
int bot_chart_png(const struct bot_chart_input *in, uint8_t **png, size_t *len);

/* Releases the font caches (at exit). */
void bot_chart_cleanup(void);

#endif
