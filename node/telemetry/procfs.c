/* Strict parsers of /proc and /sys text (procfs.h). The formats are the
 * kernel's (Documentation/filesystems/proc.rst, iostats.rst); every line is
 * checked, because a line we misread would become a wrong number on the
 * owner's screen rather than an error in the log. */
#include "procfs.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tel_lines {
	const char *p, *end;
	int no;
};

/* The next line as [*s, *e) without its newline; 0 at the end. */
static int tel_next_line(struct tel_lines *l, const char **s, const char **e)
{
	const char *nl;

	if (l->p >= l->end)
		return 0;
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	*s = l->p;
	*e = nl ? nl : l->end;
	l->p = nl ? nl + 1 : l->end;
	l->no++;
	return 1;
}

static int tel_fail(char *err, size_t errlen, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int tel_fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errlen, "line %d: %s", line, why);
	else
		snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

static int tel_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void tel_skip_blanks(const char **p, const char *e)
{
	while (*p < e && tel_blank(**p))
		(*p)++;
}

/* Blanks, then a decimal u64 ending at a blank or the end. */
static int tel_u64(const char **p, const char *e, uint64_t *v)
{
	const char *s;
	uint64_t x = 0;

	tel_skip_blanks(p, e);
	s = *p;
	while (*p < e && **p >= '0' && **p <= '9') {
		unsigned d = (unsigned)(**p - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
		(*p)++;
	}
	if (*p == s || (*p < e && !tel_blank(**p)))
		return -1;
	*v = x;
	return 0;
}

/* Blanks, then a token (up to a blank or the end) of at most cap-1 bytes. */
static int tel_token(const char **p, const char *e, char *out, size_t cap)
{
	const char *s;

	tel_skip_blanks(p, e);
	s = *p;
	while (*p < e && !tel_blank(**p))
		(*p)++;
	if (*p == s || (size_t)(*p - s) >= cap)
		return -1;
	memcpy(out, s, (size_t)(*p - s));
	out[*p - s] = 0;
	return 0;
}

/* A non-negative decimal number such as "0.34" or "8123.45". */
static int tel_decimal(const char **p, const char *e, double *v)
{
	char tok[32], *end;

	if (tel_token(p, e, tok, sizeof(tok)))
		return -1;
	for (const char *c = tok; *c; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '.'))
			return -1;
	*v = strtod(tok, &end);
	return *end || !isfinite(*v) ? -1 : 0;
}

static int tel_at_end(const char **p, const char *e)
{
	tel_skip_blanks(p, e);
	return *p == e;
}

/* ---- /proc/stat ---- */

int tel_parse_stat(const char *text, size_t len, struct tel_cpu_times *total,
		   struct tel_cpu_times *cores, unsigned max_cores, unsigned *n_cores, char *err,
		   size_t errlen)
{
	struct tel_lines l = { text, text + len, 0 };
	const char *s, *e;

	memset(total, 0, sizeof(*total));
	for (unsigned i = 0; i < max_cores; i++)
		memset(&cores[i], 0, sizeof(cores[i]));
	*n_cores = 0;
	while (tel_next_line(&l, &s, &e)) {
		struct tel_cpu_times t = { .present = 1 };
		const char *p = s + 3;
		uint64_t idx = 0, v;
		int aggregate, n = 0;

		if (e - s < 3 || memcmp(s, "cpu", 3))
			continue; /* intr, ctxt, btime, processes...: not ours */
		aggregate = p < e && tel_blank(*p);
		if (!aggregate && tel_u64(&p, e, &idx))
			return tel_fail(err, errlen, l.no, "bad cpu line");
		/* user nice system idle iowait irq softirq steal guest guest_nice:
		 * at least 4 (Linux 2.4), at most 10 */
		while (!tel_at_end(&p, e)) {
			if (n == 10 || tel_u64(&p, e, &v))
				return tel_fail(err, errlen, l.no, "bad cpu counters");
			if (n < TEL_CPU_NFIELDS)
				t.t[n] = v;
			n++;
		}
		if (n < 4)
			return tel_fail(err, errlen, l.no, "cpu line with %d counters (want 4-10)", n);
		if (aggregate) {
			if (total->present)
				return tel_fail(err, errlen, l.no, "second aggregate cpu line");
			*total = t;
			continue;
		}
		if (idx >= max_cores)
			continue;
		if (cores[idx].present)
			return tel_fail(err, errlen, l.no, "cpu%u listed twice", (unsigned)idx);
		cores[idx] = t;
		if (idx + 1 > *n_cores)
			*n_cores = (unsigned)idx + 1;
	}
	if (!total->present)
		return tel_fail(err, errlen, 0, "no aggregate \"cpu\" line");
	return 0;
}

/* ---- /proc/meminfo ---- */

int tel_parse_meminfo(const char *text, size_t len, struct tel_mem *m, char *err, size_t errlen)
{
	struct tel_lines l = { text, text + len, 0 };
	const char *s, *e;
	uint64_t free_b = 0, buffers = 0, cached = 0;
	unsigned have = 0;
	enum { H_TOTAL = 1, H_FREE = 2, H_AVAIL = 4 };

	memset(m, 0, sizeof(*m));
	while (tel_next_line(&l, &s, &e)) {
		const char *colon = memchr(s, ':', (size_t)(e - s)), *p;
		size_t klen;
		uint64_t v;

		if (s == e && l.p >= l.end)
			break; /* the final newline */
		if (!colon || colon == s)
			return tel_fail(err, errlen, l.no, "want \"Key: value [kB]\"");
		klen = (size_t)(colon - s);
		for (const char *c = s; c < colon; c++)
			if (tel_blank(*c))
				return tel_fail(err, errlen, l.no, "blank in key");
		p = colon + 1;
		if (tel_u64(&p, e, &v))
			return tel_fail(err, errlen, l.no, "bad value");
		tel_skip_blanks(&p, e);
		if (p < e) {
			/* the only unit the kernel prints is kB (= KiB) */
			if (e - p != 2 || memcmp(p, "kB", 2))
				return tel_fail(err, errlen, l.no, "unknown unit");
			if (v > UINT64_MAX / 1024)
				return tel_fail(err, errlen, l.no, "value out of range");
			v *= 1024;
		}
#define KEY(k) (klen == sizeof(k) - 1 && !memcmp(s, k, klen))
		if (KEY("MemTotal")) {
			m->total = v;
			have |= H_TOTAL;
		} else if (KEY("MemFree")) {
			free_b = v;
			have |= H_FREE;
		} else if (KEY("MemAvailable")) {
			m->available = v;
			have |= H_AVAIL;
		} else if (KEY("Buffers")) {
			buffers = v;
		} else if (KEY("Cached")) {
			cached = v;
		} else if (KEY("SwapTotal")) {
			m->swap_total = v;
		} else if (KEY("SwapFree")) {
			m->swap_free = v;
		}
#undef KEY
	}
	if ((have & (H_TOTAL | H_FREE)) != (H_TOTAL | H_FREE))
		return tel_fail(err, errlen, 0, "MemTotal or MemFree missing");
	if (!(have & H_AVAIL)) {
		/* saturating: the sum cannot exceed what exists */
		uint64_t a = free_b + buffers + cached;

		m->available = a < free_b || a > m->total ? m->total : a;
	}
	if (m->available > m->total)
		m->available = m->total;
	if (m->swap_free > m->swap_total)
		m->swap_free = m->swap_total;
	return 0;
}

/* ---- /proc/loadavg, /proc/uptime ---- */

static const char *tel_one_line(const char *text, size_t len, const char **e)
{
	const char *nl = memchr(text, '\n', len);

	*e = nl ? nl : text + len;
	/* anything after the first line (other than nothing) is not the file */
	if (nl && (size_t)(nl - text) + 1 != len)
		return NULL;
	return text;
}

int tel_parse_loadavg(const char *text, size_t len, double load[3], char *err, size_t errlen)
{
	const char *e, *p = tel_one_line(text, len, &e);
	uint64_t running, threads, lastpid;

	if (!p)
		return tel_fail(err, errlen, 0, "more than one line");
	for (int i = 0; i < 3; i++)
		if (tel_decimal(&p, e, &load[i]))
			return tel_fail(err, errlen, 1, "bad load average %d", i + 1);
	/* "running/total" then the last pid: checked, not used */
	tel_skip_blanks(&p, e);
	{
		const char *slash = memchr(p, '/', (size_t)(e - p)), *q = p;

		if (!slash || tel_u64(&q, slash, &running) || q != slash)
			return tel_fail(err, errlen, 1, "want running/total");
		q = slash + 1;
		if (q == e || tel_blank(*q) || tel_u64(&q, e, &threads) ||
		    tel_u64(&q, e, &lastpid) || !tel_at_end(&q, e))
			return tel_fail(err, errlen, 1, "bad thread count or last pid");
	}
	return 0;
}

int tel_parse_uptime(const char *text, size_t len, double *uptime, char *err, size_t errlen)
{
	const char *e, *p = tel_one_line(text, len, &e);
	double idle;

	if (!p)
		return tel_fail(err, errlen, 0, "more than one line");
	if (tel_decimal(&p, e, uptime) || tel_decimal(&p, e, &idle) || !tel_at_end(&p, e))
		return tel_fail(err, errlen, 1, "want \"UPTIME IDLE\"");
	return 0;
}

/* ---- /proc/net/dev ---- */

int tel_parse_net_dev(const char *text, size_t len, struct tel_iface *out, size_t max,
		      size_t *n, char *err, size_t errlen)
{
	struct tel_lines l = { text, text + len, 0 };
	const char *s, *e;

	*n = 0;
	/* "Inter-|   Receive ... |  Transmit" and " face |bytes ... |bytes ..." */
	for (int h = 0; h < 2; h++)
		if (!tel_next_line(&l, &s, &e) || !memchr(s, '|', (size_t)(e - s)))
			return tel_fail(err, errlen, h + 1, "missing header line");
	while (tel_next_line(&l, &s, &e)) {
		const char *p = s, *colon, *name;
		uint64_t v[16];
		size_t nl;

		if (s == e && l.p >= l.end)
			break;
		tel_skip_blanks(&p, e);
		/* a long name may touch the numbers: "averylongname0:123 ..." */
		colon = memchr(p, ':', (size_t)(e - p));
		if (!colon)
			return tel_fail(err, errlen, l.no, "want \"NAME: counters\"");
		name = p;
		nl = (size_t)(colon - name);
		if (nl == 0 || nl >= TEL_IFNAME_MAX)
			return tel_fail(err, errlen, l.no, "interface name of %zu characters", nl);
		for (size_t i = 0; i < nl; i++)
			if (tel_blank(name[i]) || name[i] == '/' || (unsigned char)name[i] < 0x21)
				return tel_fail(err, errlen, l.no, "bad interface name");
		p = colon + 1;
		for (int i = 0; i < 16; i++)
			if (tel_u64(&p, e, &v[i]))
				return tel_fail(err, errlen, l.no, "bad counter %d", i + 1);
		if (!tel_at_end(&p, e))
			return tel_fail(err, errlen, l.no, "more than 16 counters");
		for (size_t i = 0; i < *n && i < max; i++)
			if (strlen(out[i].name) == nl && !memcmp(out[i].name, name, nl))
				return tel_fail(err, errlen, l.no, "interface listed twice");
		if (*n >= max)
			continue;
		memcpy(out[*n].name, name, nl);
		out[*n].name[nl] = 0;
		out[*n].rx_bytes = v[0];
		out[*n].rx_packets = v[1];
		out[*n].tx_bytes = v[8];
		out[*n].tx_packets = v[9];
		(*n)++;
	}
	return 0;
}

/* ---- /proc/self/mountinfo ---- */

int tel_mount_of_interest(const char *fstype, const char *source)
{
	/* Filesystems with a /dev source that are still not disks: images
	 * (squashfs of snaps, iso9660 of a mounted ISO) and fuse helpers. */
	static const char *const skip[] = {
		"squashfs", "iso9660", "udf", "overlay", "tmpfs", "devtmpfs", "ramfs", "proc",
		"sysfs", "devpts", "cgroup", "cgroup2", "nsfs", "autofs", "debugfs", "tracefs",
	};

	if (strncmp(source, "/dev/", 5) || !source[5] || !strncmp(source, "/dev/loop", 9))
		return 0;
	if (!strncmp(fstype, "fuse", 4))
		return 0;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strcmp(fstype, skip[i]))
			return 0;
	return 1;
}

/* A mountinfo path field: octal escapes \ooo decoded, no raw blanks. */
static int tel_unescape(const char *s, const char *e, char *out, size_t cap)
{
	size_t n = 0;

	while (s < e) {
		char c = *s++;

		if (c == '\\') {
			unsigned v = 0;

			if (e - s < 3)
				return -1;
			for (int i = 0; i < 3; i++) {
				if (s[i] < '0' || s[i] > '7')
					return -1;
				v = v * 8 + (unsigned)(s[i] - '0');
			}
			if (v == 0 || v > 255)
				return -1;
			c = (char)v;
			s += 3;
		}
		if (n + 1 >= cap)
			return 1; /* too long for us: the caller skips the mount */
		out[n++] = c;
	}
	out[n] = 0;
	return 0;
}

/* Splits [s, e) at single blanks into at most max fields. */
static int tel_fields(const char *s, const char *e, const char **f, const char **fe, int max)
{
	int n = 0;

	while (s < e) {
		const char *t = s;

		while (t < e && *t != ' ')
			t++;
		if (t == s || n == max)
			return -1; /* two blanks in a row, a leading blank, too many */
		f[n] = s;
		fe[n] = t;
		n++;
		s = t < e ? t + 1 : t;
		if (t < e && s == e)
			return -1; /* trailing blank */
	}
	return n;
}

int tel_parse_mountinfo(const char *text, size_t len, struct tel_mount *out, size_t max,
			size_t *n, char *err, size_t errlen)
{
	struct tel_lines l = { text, text + len, 0 };
	const char *s, *e;

	*n = 0;
	while (tel_next_line(&l, &s, &e)) {
		/* id parent maj:min root mount_point options [optional...] - fstype source super */
		const char *f[64], *fe[64], *p;
		struct tel_mount m = { 0 };
		char source[TEL_PATH_MAX];
		int nf, dash = -1, r1, r2;
		uint64_t id, parent, maj, min;

		if (s == e && l.p >= l.end)
			break;
		nf = tel_fields(s, e, f, fe, 64);
		if (nf < 10)
			return tel_fail(err, errlen, l.no, "too few fields");
		for (int i = 6; i < nf; i++)
			if (fe[i] - f[i] == 1 && f[i][0] == '-') {
				dash = i;
				break;
			}
		if (dash < 0 || nf - dash != 4)
			return tel_fail(err, errlen, l.no, "no \" - fstype source options\" part");
		p = f[0];
		if (tel_u64(&p, fe[0], &id) || p != fe[0])
			return tel_fail(err, errlen, l.no, "bad mount id");
		p = f[1];
		if (tel_u64(&p, fe[1], &parent) || p != fe[1])
			return tel_fail(err, errlen, l.no, "bad parent id");
		{
			const char *colon = memchr(f[2], ':', (size_t)(fe[2] - f[2]));

			if (!colon)
				return tel_fail(err, errlen, l.no, "bad major:minor");
			p = f[2];
			if (tel_u64(&p, colon, &maj) || p != colon)
				return tel_fail(err, errlen, l.no, "bad major:minor");
			p = colon + 1;
			if (p == fe[2] || tel_u64(&p, fe[2], &min) || p != fe[2] ||
			    maj > 0xfffff || min > 0xfffff)
				return tel_fail(err, errlen, l.no, "bad major:minor");
		}
		r1 = tel_unescape(f[4], fe[4], m.mount_point, sizeof(m.mount_point));
		r2 = tel_unescape(f[dash + 2], fe[dash + 2], source, sizeof(source));
		if (r1 < 0 || r2 < 0 || m.mount_point[0] != '/')
			return tel_fail(err, errlen, l.no, "bad mount point or source");
		if ((size_t)(fe[dash + 1] - f[dash + 1]) >= sizeof(m.fstype))
			return tel_fail(err, errlen, l.no, "filesystem type too long");
		memcpy(m.fstype, f[dash + 1], (size_t)(fe[dash + 1] - f[dash + 1]));
		if (r1 || r2 || !tel_mount_of_interest(m.fstype, source))
			continue;
		snprintf(m.device, sizeof(m.device), "%s", source + 5);
		m.major = (unsigned)maj;
		m.minor = (unsigned)min;
		{
			size_t i;

			for (i = 0; i < *n; i++)
				if (out[i].major == m.major && out[i].minor == m.minor)
					break;
			if (i < *n) {
				if (strlen(m.mount_point) < strlen(out[i].mount_point))
					out[i] = m;
			} else if (*n < max) {
				out[(*n)++] = m;
			}
		}
	}
	return 0;
}

/* ---- /sys/block/DEV/stat ---- */

int tel_parse_blockstat(const char *text, size_t len, struct tel_blockstat *b, char *err,
			size_t errlen)
{
	const char *e, *p = tel_one_line(text, len, &e);
	uint64_t v[17];
	int n = 0;

	if (!p)
		return tel_fail(err, errlen, 0, "more than one line");
	/* read I/Os, merges, sectors, ticks; write the same; in flight,
	 * io_ticks, queue time; then discard (4.18) and flush (5.5) fields */
	while (!tel_at_end(&p, e)) {
		if (n == 17 || tel_u64(&p, e, &v[n]))
			return tel_fail(err, errlen, 1, "bad counter %d", n + 1);
		n++;
	}
	if (n < 11)
		return tel_fail(err, errlen, 1, "%d counters (want at least 11)", n);
	b->sectors_read = v[2];
	b->sectors_written = v[6];
	return 0;
}
