/* The strict Prometheus text-format checker (promcheck.h). */
#include "promcheck.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PC_NAME 256

struct pc_family {
	char name[PC_NAME];
	char type[16];
	int help, has_type, samples, closed;
};

struct pc {
	struct pc_family *fam;
	size_t n_fam, cap_fam;
	char **series;
	size_t n_series, cap_series;
	struct pc_family *cur; /* the family whose samples run now */
	const char *prefix;
	char *err;
	size_t errlen;
	int line;
};

static int pc_fail(struct pc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pc_fail(struct pc *c, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->line > 0)
		snprintf(c->err, c->errlen, "line %d: %s", c->line, why);
	else
		snprintf(c->err, c->errlen, "%s", why);
	return -1;
}

static int pc_name_ok(const char *s, size_t n, int metric)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
			 (metric && ch == ':') || (i && ch >= '0' && ch <= '9');

		if (!ok)
			return 0;
	}
	return 1;
}

static struct pc_family *pc_family(struct pc *c, const char *name, int create)
{
	for (size_t i = 0; i < c->n_fam; i++)
		if (!strcmp(c->fam[i].name, name))
			return &c->fam[i];
	if (!create)
		return NULL;
	if (c->n_fam == c->cap_fam) {
		size_t cap = c->cap_fam ? 2 * c->cap_fam : 32;
		struct pc_family *f = realloc(c->fam, cap * sizeof(*f));
		size_t cur = c->cur ? (size_t)(c->cur - c->fam) : 0;

		if (!f)
			return NULL;
		c->fam = f;
		c->cap_fam = cap;
		if (c->cur)
			c->cur = &c->fam[cur];
	}
	memset(&c->fam[c->n_fam], 0, sizeof(c->fam[0]));
	snprintf(c->fam[c->n_fam].name, PC_NAME, "%s", name);
	return &c->fam[c->n_fam++];
}

/* The family a sample name belongs to: histogram and summary samples carry
 * a suffix. */
static struct pc_family *pc_family_of_sample(struct pc *c, const char *name)
{
	static const char *const suffix[] = { "_bucket", "_sum", "_count" };
	struct pc_family *f = pc_family(c, name, 0);
	char base[PC_NAME];

	if (f)
		return f;
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(name), k = strlen(suffix[i]);

		if (n > k && !strcmp(name + n - k, suffix[i])) {
			snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
			f = pc_family(c, base, 0);
			if (f && (!strcmp(f->type, "histogram") || !strcmp(f->type, "summary")))
				return f;
		}
	}
	return pc_family(c, name, 1);
}

static int pc_lint_name(struct pc *c, const char *name)
{
	static const char *const units[] = {
		"milliseconds", "microseconds", "nanoseconds", "minutes", "hours", "days",
		"kilobytes", "megabytes", "gigabytes", "kibibytes", "mebibytes", "gibibytes",
		"percent", "bits", "celsius",
	};

	for (const char *p = name; *p; p++)
		if (isupper((unsigned char)*p))
			return pc_fail(c, "%s: metric names are snake_case", name);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char w[32];

		snprintf(w, sizeof(w), "_%s", units[i]);
		if (strstr(name, w))
			return pc_fail(c, "%s: use the base unit, not %s", name, units[i]);
	}
	if (c->prefix && strncmp(name, c->prefix, strlen(c->prefix)))
		return pc_fail(c, "%s: does not start with %s", name, c->prefix);
	return 0;
}

static int pc_comment(struct pc *c, const char *s, const char *e)
{
	const char *p = s + 1, *name, *ne;
	struct pc_family *f;
	char nm[PC_NAME];
	int help;

	if (p < e && *p != ' ' && *p != '\t')
		return 0; /* "#foo": a plain comment */
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(e - p) >= 5 && !memcmp(p, "HELP", 4) && (p[4] == ' ' || p[4] == '\t'))
		help = 1;
	else if ((size_t)(e - p) >= 5 && !memcmp(p, "TYPE", 4) && (p[4] == ' ' || p[4] == '\t'))
		help = 0;
	else
		return 0; /* any other comment is allowed */
	p += 5;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	name = p;
	while (p < e && *p != ' ' && *p != '\t')
		p++;
	ne = p;
	if (!pc_name_ok(name, (size_t)(ne - name), 1) || (size_t)(ne - name) >= PC_NAME)
		return pc_fail(c, "bad metric name in %s", help ? "HELP" : "TYPE");
	snprintf(nm, sizeof(nm), "%.*s", (int)(ne - name), name);
	if (!(f = pc_family(c, nm, 1)))
		return pc_fail(c, "out of memory");
	if (f->closed || (f->samples && c->cur != f))
		return pc_fail(c, "%s: HELP/TYPE after the family's samples", nm);
	if (help) {
		if (f->help)
			return pc_fail(c, "%s: second HELP", nm);
		f->help = 1;
		if (p < e)
			p++;
		for (; p < e; p++)
			if (*p == '\\' && (p + 1 >= e || (p[1] != '\\' && p[1] != 'n')))
				return pc_fail(c, "%s: bad escape in HELP", nm);
			else if (*p == '\\')
				p++;
		return 0;
	}
	if (f->has_type)
		return pc_fail(c, "%s: second TYPE", nm);
	if (f->samples)
		return pc_fail(c, "%s: TYPE after samples", nm);
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(e - p) >= sizeof(f->type))
		return pc_fail(c, "%s: unknown type", nm);
	snprintf(f->type, sizeof(f->type), "%.*s", (int)(e - p), p);
	if (strcmp(f->type, "counter") && strcmp(f->type, "gauge") && strcmp(f->type, "histogram") &&
	    strcmp(f->type, "summary") && strcmp(f->type, "untyped"))
		return pc_fail(c, "%s: unknown type \"%s\"", nm, f->type);
	f->has_type = 1;
	return 0;
}

static int pc_float(const char *s, size_t n)
{
	size_t i = 0;
	int digits = 0;

	if (n == 3 && !memcmp(s, "NaN", 3))
		return 1;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (n - i == 3 && !memcmp(s + i, "Inf", 3))
		return 1;
	while (i < n && isdigit((unsigned char)s[i]))
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, digits++;
	}
	if (!digits)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		int ed = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++, ed++;
		if (!ed)
			return 0;
	}
	return i == n;
}

static int pc_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int pc_sample(struct pc *c, const char *s, const char *e)
{
	const char *p = s, *name = s;
	char nm[PC_NAME], key[4096], *labels[64];
	size_t nl = 0, kl;
	struct pc_family *f;
	int ret = -1;

	while (p < e && *p != '{' && *p != ' ' && *p != '\t')
		p++;
	if (!pc_name_ok(name, (size_t)(p - name), 1) || (size_t)(p - name) >= PC_NAME)
		return pc_fail(c, "bad metric name");
	snprintf(nm, sizeof(nm), "%.*s", (int)(p - name), name);
	if (p < e && *p == '{') {
		p++;
		for (;;) {
			const char *ln, *lv;
			char *lab;
			size_t n;

			if (p < e && *p == '}') {
				p++;
				break;
			}
			ln = p;
			while (p < e && *p != '=')
				p++;
			if (p >= e || !pc_name_ok(ln, (size_t)(p - ln), 0) ||
			    ((size_t)(p - ln) >= 2 && ln[0] == '_' && ln[1] == '_')) {
				pc_fail(c, "%s: bad label name", nm);
				goto out;
			}
			n = (size_t)(p - ln);
			p++;
			if (p >= e || *p != '"') {
				pc_fail(c, "%s: label value must be quoted", nm);
				goto out;
			}
			lv = ++p;
			while (p < e && *p != '"') {
				if (*p == '\\') {
					if (p + 1 >= e || (p[1] != '\\' && p[1] != '"' && p[1] != 'n')) {
						pc_fail(c, "%s: bad escape in a label value", nm);
						goto out;
					}
					p++;
				}
				p++;
			}
			if (p >= e) {
				pc_fail(c, "%s: unterminated label value", nm);
				goto out;
			}
			if (nl == 64 || !(lab = malloc(n + (size_t)(p - lv) + 3))) {
				pc_fail(c, "%s: too many labels", nm);
				goto out;
			}
			sprintf(lab, "%.*s=%.*s", (int)n, ln, (int)(p - lv), lv);
			for (size_t i = 0; i < nl; i++)
				if (!strncmp(labels[i], lab, n + 1)) {
					free(lab);
					pc_fail(c, "%s: label %.*s twice", nm, (int)n, ln);
					goto out;
				}
			labels[nl++] = lab;
			p++;
			if (p < e && *p == ',') {
				p++;
				continue;
			}
			if (p < e && *p == '}') {
				p++;
				break;
			}
			pc_fail(c, "%s: want , or } after a label", nm);
			goto out;
		}
	}
	if (p >= e || (*p != ' ' && *p != '\t')) {
		pc_fail(c, "%s: want a blank before the value", nm);
		goto out;
	}
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	{
		const char *v = p;

		while (p < e && *p != ' ' && *p != '\t')
			p++;
		if (!pc_float(v, (size_t)(p - v))) {
			pc_fail(c, "%s: bad value \"%.*s\"", nm, (int)(p - v), v);
			goto out;
		}
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p < e) {
			const char *t = p;

			if (*p == '-')
				p++;
			while (p < e && isdigit((unsigned char)*p))
				p++;
			if (p != e || p == t || (p == t + 1 && *t == '-')) {
				pc_fail(c, "%s: bad timestamp", nm);
				goto out;
			}
		}
	}
	if (!(f = pc_family_of_sample(c, nm))) {
		pc_fail(c, "out of memory");
		goto out;
	}
	if (f->closed || (c->cur && c->cur != f && f->samples)) {
		pc_fail(c, "%s: the family's samples are not together", nm);
		goto out;
	}
	if (c->cur && c->cur != f)
		c->cur->closed = 1;
	c->cur = f;
	f->samples++;
	/* the series' identity: name and sorted labels */
	qsort(labels, nl, sizeof(labels[0]), pc_cmp_str);
	kl = (size_t)snprintf(key, sizeof(key), "%s", nm);
	for (size_t i = 0; i < nl && kl < sizeof(key); i++)
		kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "\x01%s", labels[i]);
	for (size_t i = 0; i < c->n_series; i++)
		if (!strcmp(c->series[i], key)) {
			pc_fail(c, "%s: the same series twice", nm);
			goto out;
		}
	if (c->n_series == c->cap_series) {
		size_t cap = c->cap_series ? 2 * c->cap_series : 64;
		char **s2 = realloc(c->series, cap * sizeof(*s2));

		if (!s2)
			goto out;
		c->series = s2;
		c->cap_series = cap;
	}
	if (!(c->series[c->n_series] = strdup(key)))
		goto out;
	c->n_series++;
	ret = 0;
out:
	for (size_t i = 0; i < nl; i++)
		free(labels[i]);
	return ret;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points
 * above U+10FFFF. */
static int pc_utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned lo, hi;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		else
			return 0;
		if (len - i < n)
			return 0;
		lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k < n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += n;
	}
	return 1;
}

int promcheck(const char *text, size_t len, const char *prefix, size_t *samples, char *err,
	      size_t errlen)
{
	struct pc c = { .prefix = prefix, .err = err, .errlen = errlen };
	const char *p = text, *end = text + len;
	int ret = -1;

	*samples = 0;
	err[0] = 0;
	if (len == 0) {
		snprintf(err, errlen, "empty document");
		return -1;
	}
	if (memchr(text, 0, len) || memchr(text, '\r', len)) {
		snprintf(err, errlen, "NUL or carriage return in the document");
		return -1;
	}
	if (!pc_utf8_ok((const unsigned char *)text, len)) {
		snprintf(err, errlen, "not UTF-8 (the format is; Prometheus refuses the scrape)");
		return -1;
	}
	if (text[len - 1] != '\n') {
		snprintf(err, errlen, "the last line does not end with a newline");
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		c.line++;
		if (nl == p) {
			/* blank lines are legal, but we never write one */
			pc_fail(&c, "empty line");
			goto out;
		}
		if (*p == '#' ? pc_comment(&c, p, nl) : pc_sample(&c, p, nl))
			goto out;
		p = nl + 1;
	}
	c.line = 0;
	for (size_t i = 0; i < c.n_fam; i++) {
		struct pc_family *f = &c.fam[i];
		size_t n = strlen(f->name);
		int total = n > 6 && !strcmp(f->name + n - 6, "_total");

		if (!f->help || !f->has_type) {
			snprintf(err, errlen, "%s: no %s", f->name, f->help ? "TYPE" : "HELP");
			goto out;
		}
		if (!f->samples) {
			snprintf(err, errlen, "%s: HELP/TYPE without samples", f->name);
			goto out;
		}
		if ((strcmp(f->type, "counter") == 0) != total) {
			snprintf(err, errlen, "%s: %s", f->name,
				 total ? "only counters end in _total" : "counters end in _total");
			goto out;
		}
		if (pc_lint_name(&c, f->name))
			goto out;
		*samples += (size_t)f->samples;
	}
	ret = 0;
out:
	for (size_t i = 0; i < c.n_series; i++)
		free(c.series[i]);
	free(c.series);
	free(c.fam);
	return ret;
}
